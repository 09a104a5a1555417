"""The CLI reads well (issue 15): tables fit, values fold, forks show, pipes and missing
extras end cleanly, "not found" is one exit code everywhere.

Each guarantee has a control that shows the check can fail: the same
output with ``--full`` (nothing cut), a linear thread (no branch), a program
that does not handle a closed pipe, the same command with the module present.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from langchain_core.messages import HumanMessage
from rich.cells import cell_len

from langgraph_persist import PersistSaver
from langgraph_persist.cli import cli
from tests.graphs import chat_graph, human, subgraph_graph

ROOT = Path(__file__).resolve().parent.parent
LONG_ID = "customer-support-conversation-with-a-very-long-identifier-[red]0001"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(12000)
DATA_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()
WIDE_ID = "対話スレッド-" * 6  # each of these characters takes two terminal cells
LONG_TEXT = "\n".join(f"line {i} " + "word " * 80 for i in range(20))


def cfg(thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id}}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Threads with a long id, images and long text, a fork, a subgraph."""
    path = tmp_path_factory.mktemp("reads") / "store"
    saver = PersistSaver(path)
    chat = chat_graph().compile(checkpointer=saver)
    chat.invoke(human("hello"), cfg(LONG_ID))
    chat.invoke(human("hello"), cfg(WIDE_ID))
    picture = HumanMessage(
        content=[
            {"type": "text", "text": "what is in this picture?"},
            {"type": "image_url", "image_url": {"url": DATA_URL}},
        ],
        id="h-picture",
    )
    chat.invoke({"messages": [picture]}, cfg("pics"))
    chat.invoke({"messages": [HumanMessage(content=LONG_TEXT, id="h-long")]}, cfg("pics"))
    chat.invoke(human("one"), cfg("forked"))
    chat.invoke(human("two"), cfg("forked"))
    step1 = next(s for s in chat.get_state_history(cfg("forked")) if s.metadata["step"] == 1)
    chat.invoke(human("alternative"), step1.config)  # a second run from step 1: a fork
    chat.invoke(human("one"), cfg("linear"))
    chat.invoke(human("two"), cfg("linear"))
    subgraph_graph().compile(checkpointer=saver).invoke({"items": []}, cfg("sub"))
    saver.close()
    return path


def run(store: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["--store", str(store), *args], env=env)


def ok(store: Path, *args: str, env: dict[str, str] | None = None) -> str:
    result = run(store, *args, env=env)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout


# -- tables ------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["threads"], ["history", "forked"]])
def test_tables_fit_the_terminal_and_full_shows_everything(store: Path, command: list[str]) -> None:
    narrow = ok(store, *command, env={"COLUMNS": "70"})
    assert narrow.strip() and all(cell_len(line) <= 70 for line in narrow.splitlines()), narrow
    assert "…" in narrow  # long cells are cut with an ellipsis...
    # ...and --full (the control: the same table uncut is wider than the terminal) shows them
    full = ok(store, *command, "--full", env={"COLUMNS": "70"})
    assert max(cell_len(line) for line in full.splitlines()) > 70
    assert "…" not in full


def test_wide_characters_are_measured_in_terminal_cells(store: Path) -> None:
    narrow = ok(store, "threads", env={"COLUMNS": "60"})
    line = next(line for line in narrow.splitlines() if line.startswith("対話"))
    assert "…" in line and len(line) < cell_len(line) <= 60  # len() would miscount them
    # the next column (UPDATED: 2026-...) starts at the same cell on every row
    assert len({cell_len(row[: row.index(" 20")]) for row in narrow.splitlines()[1:]}) == 1


def test_cut_ids_still_tell_checkpoints_apart(store: Path) -> None:
    """In 100 columns the 9-column history cuts the parent and namespace, not the id:
    the first 18 characters of a uuid6 id hold its time, and are a prefix `show` takes."""
    text = ok(store, "history", "sub", env={"COLUMNS": "100"})
    rows = text.splitlines()[1:]
    assert all(cell_len(line) <= 100 for line in rows) and "…" in text
    shown = [row.split()[0] for row in rows]
    assert len(set(shown)) == len(shown) and all(len(cid) == 19 for cid in shown)
    full = [r["checkpoint_id"] for r in json.loads(ok(store, "history", "sub", "--json"))]
    assert [cid.rstrip("…") for cid in shown] == [cid[:18] for cid in full]
    assert "checkpoint" in ok(store, "show", "sub", shown[0].rstrip("…"))


def test_fit_widths() -> None:
    from langgraph_persist.cli._common import fit_widths

    assert fit_widths([10, 36, 4], [10, 16, 4], None) == [10, 36, 4]
    assert fit_widths([10, 36, 4], [10, 16, 4], 80) == [10, 36, 4]  # fits: unchanged
    assert fit_widths([10, 36, 36], [10, 16, 16], 60) == [10, 23, 23]  # widest give way, evenly
    assert fit_widths([10, 36, 36], [10, 16, 16], 30) == [10, 16, 16]  # never below the minimum


def test_table_cells_are_text_not_markup_and_pipes_get_whole_ids(store: Path) -> None:
    text = ok(store, "threads", env={"COLUMNS": ""})  # not a terminal, no COLUMNS: nothing cut
    assert LONG_ID in text  # "[red]" shown as typed, not read as a style
    assert text.splitlines()[0].split() == [
        "THREAD",
        "UPDATED",
        "CHECKPOINTS",
        "NAMESPACES",
        "BYTES",
    ]
    assert json.loads(ok(store, "threads", "--json"))[0]["thread_id"] == LONG_ID


# -- show --------------------------------------------------------------------------------------


def test_show_folds_long_text_and_summarizes_images(store: Path) -> None:
    text = ok(store, "show", "pics")
    assert "<image/png base64, 11.7 KiB>" in text
    assert base64.b64encode(PNG).decode()[:60] not in text  # no raw base64, even in the echo
    assert "[human] what is in this picture?  (id h-picture)" in text
    assert "line 7 word" in text and "line 8 word" not in text
    assert "… (+12 lines, --full shows them)" in text
    assert max(len(line) for line in text.splitlines()) < 400
    # control: --full unfolds the text (binary stays summarized), --json stays exact
    full = ok(store, "show", "pics", "--full")
    assert "line 19 word" in full and "--full shows them" not in full
    assert "<image/png base64, 11.7 KiB>" in full
    state = json.loads(ok(store, "show", "pics", "--json"))
    contents = [m["content"] for m in state["values"]["messages"]]
    assert contents[0][1]["image_url"]["url"] == DATA_URL and LONG_TEXT in contents


def test_diff_folds_too(store: Path) -> None:
    history = json.loads(ok(store, "history", "pics", "--json"))
    first = next(r["checkpoint_id"] for r in history if r["step"] == 1)
    text = ok(store, "diff", "pics", first, "latest")
    assert "+ [human] line 0 word" in text and "(+19 lines)" in text
    assert base64.b64encode(PNG).decode()[:60] not in text
    assert max(len(line) for line in text.splitlines()) < 400
    full = ok(store, "diff", "pics", first, "latest", "--full")  # control: nothing cut
    assert max(len(line) for line in full.splitlines()) > 400


def test_messages_read_as_a_chat() -> None:
    from langchain_core.messages import AIMessage, ToolMessage

    from langgraph_persist.cli._render import message_line, value_lines

    chat = [
        HumanMessage(content="weather in Paris?", id="h1"),
        AIMessage(
            content="",
            id="a1",
            tool_calls=[{"name": "weather", "args": {"city": "Paris"}, "id": "c1"}],
        ),
        ToolMessage(content="sunny\n21 C", name="weather", tool_call_id="c1", id="t1"),
    ]
    assert value_lines(chat) == [
        "[human] weather in Paris?  (id h1)",
        '[ai]   tool_calls: weather({"city": "Paris"})  (id a1)',
        "[tool weather] sunny  (id t1)",
        "               21 C",
    ]
    assert message_line(chat[2]) == "[tool weather] sunny  (id t1)  (+1 lines)"


def test_fold_rules() -> None:
    from langgraph_persist.cli._fold import binary_summary, bytes_summary, readable

    assert binary_summary(DATA_URL) == "<image/png base64, 11.7 KiB>"
    assert binary_summary(base64.b64encode(PNG).decode()) == "<image/png base64, 11.7 KiB>"
    assert binary_summary(base64.b64encode(bytes(range(200))).decode()) == (
        "<binary base64, 200 B>"
    )
    assert binary_summary("a" * 500) is None  # a long word is text
    assert binary_summary("1f1ede6b-94cb-608d-8004-82008890940c") is None  # ids stay
    assert binary_summary("short and plain") is None
    assert bytes_summary(PNG) == "<image/png, 11.7 KiB>"
    assert readable({"$bytes": base64.b64encode(b"%PDF-1.7 ...").decode()}, full=False) == (
        "<application/pdf, 12 B>"
    )
    assert readable(["x" * 400], full=False)[0].endswith("… (+100 chars, --full shows them)")
    assert readable(["x" * 400], full=True) == ["x" * 400]


# -- history --tree ----------------------------------------------------------------------------


def _depth(line: str) -> int:
    """Characters before the checkpoint id: deeper in the tree, more of them."""
    return len(line) - len(line.lstrip("│├└─ "))


def test_history_tree_draws_forks(store: Path) -> None:
    history = json.loads(ok(store, "history", "forked", "--json"))
    by_id = {r["checkpoint_id"]: r for r in history}
    fork_point = next(r for r in history if r["step"] == 1)
    children = sorted(
        r["checkpoint_id"] for r in history if r["parent_id"] == fork_point["checkpoint_id"]
    )
    assert len(children) == 2  # the store really has a fork
    newest = history[0]["checkpoint_id"]
    lines = ok(store, "history", "forked", "--tree").splitlines()
    assert lines[0] == "thread forked"
    where = {cid: next(i for i, line in enumerate(lines) if cid in line) for cid in by_id}
    assert len(lines) == 1 + len(by_id) + 1  # title, one line per checkpoint, one branch label
    branch = next(i for i, line in enumerate(lines) if "branch 1/2" in line)
    # the older run hangs under the fork point, deeper; the line to the newest goes on
    side = children[0]
    assert where[fork_point["checkpoint_id"]] < branch < where[side]
    assert _depth(lines[where[side]]) > _depth(lines[where[newest]])
    assert _depth(lines[where[newest]]) == _depth(lines[where[fork_point["checkpoint_id"]]])
    # control: a linear thread is one flat line of work, no branch
    linear = ok(store, "history", "linear", "--tree").splitlines()
    assert not any("branch" in line for line in linear)
    assert len({_depth(line) for line in linear[1:]}) == 1


def test_history_tree_of_subgraph_namespaces(store: Path) -> None:
    text = ok(store, "history", "sub", "--tree")
    assert "(root)" in text and "child:" in text
    assert text.count("step -1") == 2  # each namespace starts its own line of work


# -- copy --------------------------------------------------------------------------------------


def test_copy(tmp_path: Path, store: Path) -> None:
    import shutil

    mine = tmp_path / "store"
    shutil.copytree(store, mine)
    assert "copied thread 'linear' to 'linear-2'" in ok(mine, "copy", "linear", "--as", "linear-2")
    before = json.loads(ok(mine, "history", "linear", "--json"))
    after = json.loads(ok(mine, "history", "linear-2", "--json"))
    assert [r["checkpoint_id"] for r in after] == [r["checkpoint_id"] for r in before]
    state = chat_graph().compile(checkpointer=PersistSaver(mine)).get_state(cfg("linear-2"))
    assert state.values["turns"] == 2
    conflict = run(mine, "copy", "linear", "--as", "forked")
    assert conflict.exit_code == 4 and "already exists" in conflict.stderr
    assert run(mine, "copy", "nobody", "--as", "x").exit_code == 3


def test_fork_from_a_checkpoint(tmp_path: Path, store: Path) -> None:
    import shutil

    mine = tmp_path / "store"
    shutil.copytree(store, mine)
    history = json.loads(ok(mine, "history", "linear", "--json"))
    at = next(r["checkpoint_id"] for r in history if r["step"] == 1)  # after the first turn
    text = ok(mine, "fork", "linear", at[:-6], "--as", "retry")  # a unique prefix will do
    assert f"forked thread 'linear' at checkpoint {at} as 'retry'" in text
    fork = json.loads(ok(mine, "history", "retry", "--json"))
    assert fork[0]["checkpoint_id"] == at
    assert [r["checkpoint_id"] for r in fork] == [
        r["checkpoint_id"] for r in history if r["checkpoint_id"] <= at
    ]
    assert json.loads(ok(mine, "history", "linear", "--json")) == history  # untouched
    saver = PersistSaver(mine)
    chat = chat_graph().compile(checkpointer=saver)
    assert chat.get_state(cfg("retry")).values["turns"] == 1
    chat.invoke(human("instead"), cfg("retry"))  # the fork runs on by itself
    assert chat.get_state(cfg("retry")).values["turns"] == 2
    assert chat.get_state(cfg("linear")).values["messages"][-1].content == "echo: two"
    saver.close()
    conflict = run(mine, "fork", "linear", at, "--as", "forked")
    assert conflict.exit_code == 4 and "already exists" in conflict.stderr


def test_stats_reports_bytes_on_disk(store: Path) -> None:
    stats = json.loads(ok(store, "stats", "--json"))
    assert stats["bytes_on_disk"] > 0 and stats["bytes_total"] > 0
    text = ok(store, "stats")
    line = next(line for line in text.splitlines() if line.startswith("on disk"))
    assert line.split()[-1] in ("KiB", "MiB") and line.split()[-2] != "0"


def test_delete_asks_first(tmp_path: Path, store: Path) -> None:
    import shutil

    mine = tmp_path / "store"
    shutil.copytree(store, mine)
    declined = CliRunner().invoke(cli, ["--store", str(mine), "delete", "linear"], input="n\n")
    assert declined.exit_code == 1 and "delete thread 'linear'" in declined.output
    assert "linear" in PersistSaver(mine).threads()  # declined: nothing deleted
    agreed = CliRunner().invoke(cli, ["--store", str(mine), "delete", "linear"], input="y\n")
    assert agreed.exit_code == 0 and "deleted thread 'linear'" in agreed.output
    assert "linear" not in PersistSaver(mine).threads()


# -- not found ---------------------------------------------------------------------------------

NOT_FOUND = [
    ["history", "nobody"],
    ["history", "linear", "--ns", "nosuch"],
    ["history", "linear", "--ns", "nosuch", "--tree"],
    ["show", "nobody"],
    ["show", "linear", "--ns", "nosuch"],
    ["show", "linear", "ffffffff"],
    ["show", "linear", "--channel", "nosuch"],
    ["diff", "nobody", "latest", "latest"],
    ["diff", "linear", "latest", "latest", "--ns", "nosuch"],
    ["diff", "linear", "latest", "ffffffff"],
    ["drop", "nobody", "ffff", "--yes"],
    ["drop", "linear", "ffffffff", "--yes"],
    ["drop", "linear", "latest", "--ns", "nosuch", "--yes"],
    ["delete", "nobody", "--yes"],
    ["copy", "nobody", "--as", "x"],
    ["fork", "nobody", "latest", "--as", "x"],
    ["fork", "linear", "ffffffff", "--as", "x"],
    ["fork", "linear", "latest", "--ns", "nosuch", "--as", "x"],
    ["export", "nobody", "-o", "{tmp}/x.lgps"],
    ["inspect", "{tmp}/nothing.lgps"],
    ["import", "{tmp}/nothing.lgps"],
    ["restore", "{tmp}/no-backup"],
    ["migrate", "--from", "sqlite:///{tmp}/nothing.db"],
    ["migrate", "--from", "{tmp}/no-store"],
    ["--store", "{tmp}/typo", "threads"],
]


@pytest.mark.parametrize("args", NOT_FOUND, ids=lambda a: " ".join(a))
def test_not_found_is_exit_3_in_every_command(store: Path, tmp_path: Path, args: list[str]) -> None:
    result = run(store, *(a.replace("{tmp}", str(tmp_path)) for a in args))
    assert result.exit_code == 3, (result.stdout, result.stderr)
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""  # no empty table


# -- closed pipes --------------------------------------------------------------------------------


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": ""}


def _into_closed_pipe(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run with stdout a pipe whose reader is already gone: every write fails (EPIPE)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            argv, stdout=write_end, stderr=subprocess.PIPE, text=True, env=_env(), timeout=120
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize(
    "command", [["threads"], ["history", "forked", "--json"], ["show", "pics"]]
)
def test_a_closed_pipe_ends_quietly_with_exit_0(store: Path, command: list[str]) -> None:
    done = _into_closed_pipe(
        [sys.executable, "-m", "langgraph_persist", "--store", str(store), *command]
    )
    assert (done.returncode, done.stderr) == (0, "")
    # control: a program that does not handle it fails the same way the CLI used to
    control = _into_closed_pipe([sys.executable, "-c", "print('x' * 100)"])
    assert control.returncode != 0 and "BrokenPipeError" in control.stderr


def test_threads_into_head(store: Path) -> None:
    """The shell pipe of the issue, with pipefail: the CLI's own exit code is seen."""
    script = (
        f"set -o pipefail; {sys.executable} -m langgraph_persist --store '{store}' threads "
        "| head -1"
    )
    done = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, env=_env(), timeout=120
    )
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.split() == ["THREAD", "UPDATED", "CHECKPOINTS", "NAMESPACES", "BYTES"]


# -- missing optional dependencies --------------------------------------------------------------

BLOCKED = """
import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None  # as if the package were not installed
from langgraph_persist.cli import main
main(sys.argv[2:])
"""


@pytest.mark.parametrize(
    ("blocked", "extra"),
    [
        ("langgraph.checkpoint.sqlite", "sqlite"),
        ("langgraph.checkpoint.sqlite,aiosqlite", "sqlite"),
    ],
)
def test_a_missing_extra_is_one_line_naming_it(
    store: Path, tmp_path: Path, blocked: str, extra: str
) -> None:
    target = f"sqlite:///{tmp_path / 'x.db'}"
    args = ["--store", str(store), "migrate", "--to", target, "--thread", "linear"]
    done = subprocess.run(
        [sys.executable, "-c", BLOCKED, blocked, *args],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert f"pip install 'langgraph-persist[{extra}]'" in done.stderr
    assert "langgraph-checkpoint-sqlite" in done.stderr
    assert not (tmp_path / "x.db").exists()
    # control: with the package there, the same command migrates
    done = subprocess.run(
        [sys.executable, "-c", BLOCKED, "nothing.blocked", *args],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "x.db").exists()


def test_every_hint_names_an_extra_the_package_declares() -> None:
    import tomllib

    from langgraph_persist.cli._common import OPTIONAL_DEPENDENCIES

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    missing = {extra for extra, _package in OPTIONAL_DEPENDENCIES.values()} - set(declared)
    assert not missing, f"hints name extras pyproject.toml does not declare: {sorted(missing)}"


# -- verify's hint -------------------------------------------------------------------------------


def test_verify_suggests_repair_only_with_a_second_copy(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    """`--repair` restores from the hot tier: suggest it only when the user gave one."""
    from langgraph_persist.store.tiered import HotTierOptions
    from tests.damage import checkpoint_key, damage

    path = tmp_path / "s"
    with PersistSaver(path, redis=redis_url, hot=HotTierOptions(key_prefix=redis_prefix)) as agent:
        chat = chat_graph().compile(checkpointer=agent)
        chat.invoke(human("a"), cfg("t"))
        latest = agent.get_tuple(cfg("t"))
        assert latest is not None
    with PersistSaver(path) as cold_only:  # the disk copy rots; Redis still has a good one
        damage(
            cold_only, checkpoint_key("t", latest.config["configurable"]["checkpoint_id"]), "flip"
        )
    alone = run(path, "verify")
    assert (
        alone.exit_code == 1 and "no other copy" in alone.stderr and "--repair" not in alone.stderr
    )
    tier = ["--redis", redis_url, "--redis-prefix", redis_prefix]
    tiered = run(path, *tier, "verify")
    assert tiered.exit_code == 1 and "try `verify --repair`" in tiered.stderr
    via_url = CliRunner().invoke(
        cli,
        ["--store", f"{redis_url}?cold={path}&key_prefix={redis_prefix}", "verify"],
    )
    assert via_url.exit_code == 1 and "try `verify --repair`" in via_url.stderr, via_url.stderr
