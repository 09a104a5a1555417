"""The ``langgraph-persist`` command, run against stores written by real graphs.

Every command goes through click's runner (and a few through a real
process); a command without help, an example or a section in docs/cli.md
fails ``test_every_command_has_help_with_an_example_and_docs``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from langgraph.types import Command

from langgraph_persist import PersistSaver, keys, records
from langgraph_persist.cli import EXIT_CODES, cli
from langgraph_persist.records import Kind
from langgraph_persist.snapshot import PREFIX
from tests.damage import checkpoint_key, damage
from tests.graphs import approval_graph, chat_graph, delta_graph, human, subgraph_graph

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "cli.md"


def cfg(thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id}}


def build(path: Path) -> None:
    saver = PersistSaver(path)
    chat = chat_graph().compile(checkpointer=saver)
    chat.invoke(human("hello"), cfg("user-42"))
    chat.invoke(human("again"), cfg("user-42"))
    approval_graph().compile(checkpointer=saver).invoke(
        {"request": "refund", "log": []}, cfg("hitl")
    )
    subgraph_graph().compile(checkpointer=saver).invoke({"items": []}, cfg("sub"))
    delta_graph(10).compile(checkpointer=saver).invoke({"events": [], "n": 0}, cfg("delta"))
    saver.close()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One store for the read-only tests (built once: graphs take a while)."""
    path = tmp_path_factory.mktemp("cli") / "store"
    build(path)
    return path


@pytest.fixture
def store(built: Path, tmp_path: Path) -> Path:
    """A private copy for tests that change the store."""
    copy = tmp_path / "store"
    shutil.copytree(built, copy)
    return copy


def run(store: Path | None, *args: str, env: dict[str, str] | None = None) -> Result:
    prefix = ["--store", str(store)] if store is not None else []
    return CliRunner().invoke(cli, [*prefix, *args], env=env, catch_exceptions=False)


def ok(store: Path | None, *args: str) -> Result:
    result = run(store, *args)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def as_json(store: Path | None, *args: str) -> Any:
    return json.loads(ok(store, *args, "--json").stdout)


def fails(code: int, store: Path | None, *args: str, env: dict[str, str] | None = None) -> str:
    """Run, expect ``code``, and return the one error line."""
    result = run(store, *args, env=env)
    assert result.exit_code == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert lines, "an error must say what went wrong"
    return lines[-1]


def ids(store: Path, thread: str) -> list[str]:
    return [r["checkpoint_id"] for r in as_json(store, "history", thread)]


# -- threads, history -------------------------------------------------------------------------


def test_threads(built: Path) -> None:
    rows = as_json(built, "threads")
    assert [r["thread_id"] for r in rows] == ["delta", "hitl", "sub", "user-42"]
    by_id = {r["thread_id"]: r for r in rows}
    assert by_id["user-42"]["checkpoints"] == 6 and by_id["sub"]["namespaces"] == 2
    assert all(r["bytes"] > 0 and r["last_update"] for r in rows)
    biggest = as_json(built, "threads", "--sort", "checkpoints", "--limit", "2")
    assert [r["thread_id"] for r in biggest] == ["delta", "sub"]
    smallest = as_json(built, "threads", "--sort", "checkpoints", "--reverse", "--limit", "1")
    assert smallest[0]["thread_id"] == "hitl"
    # filters match the latest root checkpoint's metadata; values parse as JSON
    assert [r["thread_id"] for r in as_json(built, "threads", "--filter", "step=1")] == ["hitl"]
    assert as_json(built, "threads", "--filter", "source=input") == []
    table = ok(built, "threads").stdout
    assert table.splitlines()[0].split() == [
        "THREAD",
        "UPDATED",
        "CHECKPOINTS",
        "NAMESPACES",
        "BYTES",
    ]
    assert fails(2, built, "threads", "--filter", "nonsense").startswith("Error")


def test_store_from_option_after_command_and_environment(built: Path) -> None:
    after = CliRunner().invoke(cli, ["threads", "--json", "--store", str(built)])
    from_env = CliRunner().invoke(
        cli, ["threads", "--json"], env={"LANGGRAPH_PERSIST_STORE": str(built)}
    )
    assert json.loads(after.stdout) == json.loads(from_env.stdout) == as_json(built, "threads")


def test_history(built: Path) -> None:
    saver = PersistSaver(built)
    rows = as_json(built, "history", "hitl")
    assert [r["checkpoint_id"] for r in rows] == sorted(
        (r["checkpoint_id"] for r in rows), reverse=True
    )
    assert [r["step"] for r in rows] == [1, 0, -1]
    assert [r["source"] for r in rows] == ["loop", "loop", "input"]
    assert rows[0]["parent_id"] == rows[1]["checkpoint_id"] and rows[-1]["parent_id"] is None
    expected = [len(t.pending_writes or []) for t in saver.list(cfg("hitl"))]
    assert [r["pending_writes"] for r in rows] == expected
    assert all(r["bytes"] > 0 for r in rows)
    sub = as_json(built, "history", "sub")
    child = next(r["checkpoint_ns"] for r in sub if r["checkpoint_ns"])
    assert {r["checkpoint_ns"] for r in as_json(built, "history", "sub", "--ns", child)} == {child}
    assert len(as_json(built, "history", "sub", "--limit", "2")) == 2
    assert "NS" in ok(built, "history", "sub").stdout.splitlines()[0].split()
    assert "no thread 'nobody'" in fails(3, built, "history", "nobody")


# -- show, diff -------------------------------------------------------------------------------


def test_show(built: Path) -> None:
    text = ok(built, "show", "user-42").stdout
    assert "[human] hello  (id human-hello)" in text and "[ai] echo: again" in text
    state = as_json(built, "show", "user-42")
    assert [m["content"] for m in state["values"]["messages"]] == [
        "hello",
        "echo: hello",
        "again",
        "echo: again",
    ]
    assert state["values"]["turns"] == 2 and state["metadata"]["step"] == 4
    # an older checkpoint by a unique prefix, one channel only
    first = ids(built, "user-42")[-1]
    old = as_json(built, "show", "user-42", first[:-4], "--channel", "__start__")
    assert old["checkpoint_id"] == first and list(old["values"]) == ["__start__"]
    # an interrupted thread shows its pending interrupt
    hitl = as_json(built, "show", "hitl")
    interrupt = next(w for w in hitl["pending_writes"] if w["channel"] == "__interrupt__")
    assert interrupt["value"][0]["value"] == {"question": "approve refund?"}
    # a DeltaChannel is shown as the seed and the writes LangGraph replays
    delta = as_json(built, "show", "delta")
    events = delta["delta_channels"]["events"]
    rebuilt = list(events["seed"]) + [e for batch in events["writes"] for e in batch]
    assert rebuilt == [f"event-{i}" for i in range(10)]
    assert "(delta channel: seed +" in ok(built, "show", "delta").stdout


def test_show_errors(built: Path) -> None:
    assert "no checkpoint" in fails(3, built, "show", "user-42", "ffffffff")
    assert "matches" in fails(2, built, "show", "user-42", "1")  # every uuid6 id starts alike
    assert "no channel" in fails(3, built, "show", "user-42", "--channel", "nope")
    assert "no thread" in fails(3, built, "show", "nobody")


def test_diff(built: Path) -> None:
    history = as_json(built, "history", "user-42")
    after_first = next(r["checkpoint_id"] for r in history if r["step"] == 1)
    report = as_json(built, "diff", "user-42", after_first, "latest")
    channels = {c["channel"]: c for c in report["channels"]}
    messages = channels["messages"]["messages"]
    assert [m["content"] for m in messages["added"]] == ["again", "echo: again"]
    assert messages["removed"] == [] and messages["changed"] == []
    assert channels["turns"]["before"] == 1 and channels["turns"]["after"] == 2
    text = ok(built, "diff", "user-42", after_first, "latest").stdout
    assert "~ messages" in text and "+ [human] again  (id human-again)" in text
    assert "~ turns" in text and "1 -> 2" in text
    assert "(no differences)" in ok(built, "diff", "user-42", "latest", "latest").stdout
    # lists that grew show what was appended; channels appear and disappear
    hitl = [r["checkpoint_id"] for r in as_json(built, "history", "hitl")]
    report = as_json(built, "diff", "hitl", hitl[1], hitl[0])
    statuses = {c["channel"]: c["status"] for c in report["channels"]}
    assert statuses == {"branch:to:draft": "removed", "branch:to:review": "added", "log": "changed"}
    assert next(c for c in report["channels"] if c["channel"] == "log")["appended"] == [
        "drafted refund"
    ]
    assert '+ "drafted refund"' in ok(built, "diff", "hitl", hitl[1], hitl[0]).stdout


# -- verify, gc, stats ------------------------------------------------------------------------


def test_verify_clean_and_damaged(store: Path) -> None:
    assert "no damage found" in ok(store, "verify").stdout
    saver = PersistSaver(store)
    first = saver.store.list_desc(keys.checkpoints_dir("user-42", "="))[-1]
    damage(saver, checkpoint_key("user-42", first), lambda b: b[:-1] + bytes([b[-1] ^ 0xFF]))
    saver.close()
    result = run(store, "verify")
    assert result.exit_code == 1
    assert "DAMAGED" in result.stdout and first in result.stdout
    assert result.stderr.strip().splitlines()[-1] == (
        "error: 1 damaged record(s) remain; this store holds no other copy: restore a backup, "
        "or delete what is damaged"
    )
    report = json.loads(run(store, "verify", "--json").stdout)
    assert report["ok"] is False and report["damaged"][0]["thread_id"] == "user-42"
    # reading the damaged checkpoint is a clear error, exit 5
    assert "corrupt record" in fails(5, store, "show", "user-42", first)


def test_progress_bars_on_request(built: Path) -> None:
    assert "verifying" in run(built, "--progress", "verify").stderr
    assert "verifying" not in run(built, "verify").stderr  # not a terminal: no bar


def test_stats_and_gc(store: Path) -> None:
    stats = as_json(store, "stats")
    assert stats["threads"] == 4 and stats["checkpoints"] == 30 and stats["bytes_total"] > 0
    assert "checkpoints" in ok(store, "stats").stdout
    assert as_json(store, "gc")["blobs_deleted"] == 0
    ok(store, "prune", "--keep-last", "1", "--thread", "user-42")
    assert (
        as_json(store, "gc")["bytes_freed"] > 0
    )  # old message versions were only in old checkpoints
    assert "no damage found" in ok(store, "verify").stdout


# -- export, import, inspect ------------------------------------------------------------------


def test_export_import_inspect(store: Path, tmp_path: Path) -> None:
    file = tmp_path / "hitl.lgps"
    out = ok(
        store,
        "export",
        "hitl",
        "-o",
        str(file),
        "--description",
        "before upgrade",
        "--agent-id",
        "approver",
    )
    assert "exported thread 'hitl': 3 checkpoints" in out.stdout
    info = as_json(None, "inspect", str(file))
    assert (
        info["verified"]
        and info["description"] == "before upgrade"
        and info["agent_id"] == "approver"
    )
    assert "verified     ok" in ok(None, "inspect", str(file)).stdout
    assert "exists" in fails(4, store, "export", "hitl", "-o", str(file))
    ok(store, "export", "hitl", "-o", str(file), "--force")

    assert "already exists" in fails(4, store, "import", str(file))
    imported = as_json(store, "import", str(file), "--as", "hitl-copy")
    assert imported["restored_as"] == "hitl-copy" and imported["checkpoint_count"] == 3
    # the restored thread resumes like the original
    graph = approval_graph().compile(checkpointer=PersistSaver(store))
    assert graph.get_state(cfg("hitl-copy")).values == graph.get_state(cfg("hitl")).values
    assert graph.invoke(Command(resume="yes"), cfg("hitl-copy"))["decision"] == "yes"
    # into a store that does not exist yet
    ok(tmp_path / "fresh", "import", str(file))
    assert [r["thread_id"] for r in as_json(tmp_path / "fresh", "threads")] == ["hitl"]


def test_damaged_and_newer_snapshots(store: Path, tmp_path: Path) -> None:
    file = tmp_path / "t.lgps"
    ok(store, "export", "user-42", "-o", str(file), "--latest")
    data = file.read_bytes()
    (tmp_path / "cut.lgps").write_bytes(data[:-5])
    assert "truncated" in fails(5, None, "inspect", str(tmp_path / "cut.lgps"))
    assert "truncated" in fails(5, store, "import", str(tmp_path / "cut.lgps"), "--as", "x")
    assert "x" not in {r["thread_id"] for r in as_json(store, "threads")}
    start = PREFIX.size
    length = struct.unpack_from("<I", data, start + 8)[0]
    header = records.decode(data[start : start + records.HEADER_SIZE + length])
    header["format"] = 9
    newer = PREFIX.pack(b"LGPSNAP", 9) + records.encode(Kind.SNAPSHOT_ENTRY, header)
    (tmp_path / "new.lgps").write_bytes(newer + data[start + records.HEADER_SIZE + length :])
    assert "upgrade" in fails(6, None, "inspect", str(tmp_path / "new.lgps"))
    assert "no snapshot file at" in fails(3, None, "inspect", str(tmp_path / "missing.lgps"))
    nowhere = tmp_path / "no-such-dir" / "t.lgps"
    assert "No such file or directory" in fails(7, store, "export", "user-42", "-o", str(nowhere))


# -- prune ------------------------------------------------------------------------------------


def test_prune(store: Path) -> None:
    before = {r["thread_id"]: r["checkpoints"] for r in as_json(store, "threads")}
    plan = as_json(store, "prune", "--keep-last", "2", "--dry-run")
    assert {r["thread_id"]: r["checkpoints"] for r in as_json(store, "threads")} == before
    by_thread = {p["thread_id"]: p for p in plan["threads"]}
    assert by_thread["user-42"]["dropped"] == 4
    assert by_thread["delta"]["kept_for_delta"], "the delta channel's seed must be kept"
    text = ok(store, "prune", "--keep-last", "2", "--dry-run").stdout
    assert "would trim" in text and "would drop" in text

    expected = (
        delta_graph(10).compile(checkpointer=PersistSaver(store)).get_state(cfg("delta")).values
    )
    done = as_json(store, "prune", "--keep-last", "2")
    assert done["checkpoints_dropped"] == plan["checkpoints_dropped"]
    after = {r["thread_id"]: r["checkpoints"] for r in as_json(store, "threads")}
    assert after["user-42"] == 2 and after["hitl"] == 2
    # DeltaChannel state and interrupted threads survive pruning
    saver = PersistSaver(store)
    assert delta_graph(10).compile(checkpointer=saver).get_state(cfg("delta")).values == expected
    resumed = approval_graph().compile(checkpointer=saver).invoke(Command(resume="ok"), cfg("hitl"))
    assert resumed["log"][-1] == "acted on ok"
    assert (
        chat_graph().compile(checkpointer=saver).invoke(human("more"), cfg("user-42"))["turns"] == 3
    )


def test_prune_idle_threads(store: Path) -> None:
    assert as_json(store, "prune", "--idle-longer-than", "30d")["threads"] == []
    gone = as_json(store, "prune", "--idle-longer-than", "0s", "--thread", "sub")
    assert gone["threads_deleted"] == 1
    assert "sub" not in {r["thread_id"] for r in as_json(store, "threads")}
    assert "give --keep-last" in fails(2, store, "prune")
    assert "not a duration" in fails(2, store, "prune", "--idle-longer-than", "3 fortnights")
    assert fails(2, store, "prune", "--keep-last", "0").startswith("Error")


# -- migrate ----------------------------------------------------------------------------------


def test_migrate_to_sqlite_and_back(store: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'out.db'}"
    report = as_json(store, "migrate", "--to", url)
    assert sorted(report["threads"]) == ["delta", "hitl", "sub", "user-42"]
    assert report["checkpoints"] == 30
    back = tmp_path / "back"
    text = ok(back, "migrate", "--from", url, "--thread", "user-42").stdout
    assert "migrated 1 thread(s)" in text and "all verified" in text

    # equal but for bytes: SQLite does not return task paths, so write records are smaller
    def strip(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if k != "bytes"} for r in rows]

    assert strip(as_json(back, "history", "user-42")) == strip(as_json(store, "history", "user-42"))
    assert "already exist" in fails(4, back, "migrate", "--from", url)
    skipped = as_json(back, "migrate", "--from", url, "--skip-existing")
    assert skipped["skipped"] == ["user-42"] and len(skipped["threads"]) == 3
    assert "no SQLite database" in fails(
        3, store, "migrate", "--from", f"sqlite:///{tmp_path}/x.db"
    )
    assert "unsupported" in fails(2, store, "migrate", "--from", "mysql://db/x")
    assert "give --from" in fails(2, store, "migrate")


# -- errors, encryption, help, processes ---------------------------------------------------------


def test_store_errors(tmp_path: Path) -> None:
    assert "no store at" in fails(3, tmp_path / "missing", "threads")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("x")
    assert "not a langgraph-persist store" in fails(2, tmp_path / "notes", "threads")


def test_encrypted_store(tmp_path: Path) -> None:
    from langgraph_persist.crypto import Encryption

    key = Encryption.generate_key()
    saver = PersistSaver(tmp_path / "enc", encryption=Encryption.from_keys({"k1": key}))
    chat_graph().compile(checkpointer=saver).invoke(human("secret"), cfg("s"))
    env = {"LANGGRAPH_PERSIST_KEY": f"k1:{key.hex()}"}
    shown = CliRunner().invoke(
        cli, ["--store", str(tmp_path / "enc"), "show", "s", "--json"], env=env
    )
    assert json.loads(shown.stdout)["values"]["messages"][0]["content"] == "secret"
    exported = CliRunner().invoke(
        cli,
        ["--store", str(tmp_path / "enc"), "export", "s", "-o", str(tmp_path / "s.lgps")],
        env=env,
    )
    assert exported.exit_code == 0 and exported.stderr == ""
    assert b"secret" not in (tmp_path / "s.lgps").read_bytes()  # sealed like the store
    inspected = CliRunner().invoke(cli, ["inspect", str(tmp_path / "s.lgps")], env=env)
    assert inspected.exit_code == 0, inspected.output
    assert "yes (key k1)" in inspected.stdout and "yes: its keyed MAC verifies" in inspected.stdout
    assert "encrypted with key 'k1'" in fails(
        5, None, "inspect", str(tmp_path / "s.lgps"), env={"LANGGRAPH_PERSIST_KEY": ""}
    )
    plain = CliRunner().invoke(
        cli,
        ["--store", str(tmp_path / "enc"), "export", "s", "--decrypt", "-o", str(tmp_path / "p")],
        env=env,
    )
    assert plain.exit_code == 0 and "is not (--decrypt)" in plain.stderr
    assert b"secret" in (tmp_path / "p").read_bytes()
    assert "is encrypted: set LANGGRAPH_PERSIST_KEY" in fails(
        2, tmp_path / "enc", "show", "s", env={"LANGGRAPH_PERSIST_KEY": ""}
    )
    # a keyless writer (import) is refused before anything is written
    assert "is encrypted" in fails(
        2,
        tmp_path / "enc",
        "import",
        str(tmp_path / "s.lgps"),
        "--as",
        "plain",
        env={"LANGGRAPH_PERSIST_KEY": ""},
    )


def test_store_with_a_redis_hot_tier(tmp_path: Path, redis_url: str, redis_prefix: str) -> None:
    """Agents read through Redis: the CLI's deletions must reach it, not just the disk."""
    from langgraph_persist.store.tiered import HotTierOptions

    hot = HotTierOptions(key_prefix=redis_prefix)
    with PersistSaver(tmp_path / "s", redis=redis_url, hot=hot) as agent:
        chat = chat_graph().compile(checkpointer=agent)
        chat.invoke(human("a"), cfg("t"))
        chat.invoke(human("b"), cfg("t"))
        oldest = next(iter(reversed(list(agent.list(cfg("t"))))))
        tier = ["--redis", redis_url, "--redis-prefix", redis_prefix]
        stats = as_json(tmp_path / "s", *tier, "stats")
        assert "redis" in str(stats["tiers"]["hot"]) and stats["tiers"]["degraded"] is False
        pruned = as_json(tmp_path / "s", *tier, "prune", "--keep-last", "1")
        assert pruned["checkpoints_dropped"] == 5
        assert agent.get_tuple(oldest.config) is None  # not served from the hot tier any more
        assert [r["checkpoints"] for r in as_json(tmp_path / "s", *tier, "threads")] == [1]
        assert chat.invoke(human("c"), cfg("t"))["turns"] == 3


def test_every_command_has_help_with_an_example_and_docs() -> None:
    docs = DOCS.read_text()
    assert cli.commands, "no commands registered"
    for name, command in cli.commands.items():
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0, name
        assert "Example:" in result.stdout, f"`{name} --help` has no example"
        assert f"langgraph-persist {name}" in result.stdout, f"`{name}` example does not run it"
        assert command.short_help or command.help, name
        section = re.search(rf"^## `{name}`\n(.*?)(?=^## |\Z)", docs, re.M | re.S)
        assert section, f"docs/cli.md has no section for `{name}`"
        assert "```" in section.group(1), f"docs/cli.md shows no sample for `{name}`"
    assert "Example:" in CliRunner().invoke(cli, ["--help"]).stdout


def test_exit_codes_are_documented() -> None:
    docs = DOCS.read_text()
    for code in EXIT_CODES:
        assert re.search(rf"^\| {code} \|", docs, re.M), f"exit code {code} is not in docs/cli.md"


def test_real_processes(built: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    module = subprocess.run(
        [sys.executable, "-m", "langgraph_persist", "--store", str(built), "threads", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=True,
    )
    assert len(json.loads(module.stdout)) == 4
    script = Path(sys.executable).with_name("langgraph-persist")
    missing = subprocess.run(
        [str(script), "--store", str(built), "show", "nobody"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert missing.returncode == 3
    assert (
        missing.stdout == ""
        and missing.stderr.strip() == f"error: no thread 'nobody' in the store {built}"
    )


# -- untrusted text in human output ---------------------------------------------------------------

NASTY = "evil\x1b]0;pwned\x07\x1b[2J\x9b31m\u202etxt.exe\nfake line"


def test_control_characters_from_the_store_are_escaped_in_human_output(tmp_path: Path) -> None:
    """Thread ids, metadata and snapshot headers are data from elsewhere: a terminal must
    show their escape sequences, not run them (security finding)."""
    saver = PersistSaver(tmp_path / "store")
    chat = chat_graph().compile(checkpointer=saver)
    config: Any = {"configurable": {"thread_id": NASTY, "note": NASTY}}
    chat.invoke(human(NASTY), config)
    latest = saver.get_tuple(config)
    assert latest is not None
    metadata: Any = {**latest.metadata, "source": NASTY, "run_id": NASTY}
    saver.put(
        latest.config, latest.checkpoint | {"id": "1" + latest.checkpoint["id"][1:]}, metadata, {}
    )
    store = tmp_path / "store"
    # negative control: the raw sequences really are in what the commands print from
    assert as_json(store, "threads")[0]["thread_id"] == NASTY
    snapshot_file = tmp_path / "n.lgps"
    ok(
        store,
        "export",
        NASTY,
        "-o",
        str(snapshot_file),
        "--description",
        NASTY,
        "--agent-id",
        NASTY,
    )
    outputs = {
        "threads": ok(store, "threads"),
        "history": ok(store, "history", NASTY),
        "show": ok(store, "show", NASTY),
        "diff": ok(store, "diff", NASTY, "latest", "latest", "--all"),
        "inspect": ok(None, "inspect", str(snapshot_file)),
        "prune": ok(store, "prune", "--keep-last", "1", "--dry-run"),
        "not found": run(store, "show", NASTY + "x"),
        "bad store": run(tmp_path / NASTY, "threads"),
    }
    for name, result in outputs.items():
        text = result.stdout + result.stderr
        for raw in ("\x1b", "\x07", "\x9b", "\u202e", "\nfake line"):
            assert raw not in text, (name, raw, text)
        assert "evil\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\u202etxt.exe" in text, (name, text)
    # --json keeps the data exact (JSON escapes control characters itself)
    assert json.loads(ok(store, "show", NASTY, "--json").stdout)["thread_id"] == NASTY


def test_urls_are_printed_without_their_passwords(tmp_path: Path) -> None:
    from langgraph_persist.migrate import redact_url

    assert redact_url("postgresql://app:hunter2@db:5432/x?sslmode=require") == (
        "postgresql://app:***@db:5432/x?sslmode=require"
    )
    assert redact_url("postgresql://db/x?user=app&password=hunter2") == (
        "postgresql://db/x?user=app&password=***"
    )
    assert redact_url("sqlite:////abs/path.db") == "sqlite:////abs/path.db"
    assert redact_url("./store") == "./store"
    for url in ("postgresql://app:hunter2@127.0.0.1:1/x", "mysql://app:hunter2@db/x"):
        result = run(tmp_path / "s", "migrate", "--from", url)
        assert result.exit_code in (2, 7), result.output
        assert "hunter2" not in result.stdout + result.stderr
        assert "app:***@" in result.stderr, result.stderr
