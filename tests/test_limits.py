"""A limit is a number someone typed: any int is answered, never with a ValueError.

LangGraph passes ``limit`` as an int, and the CLI passes what was typed: ``history
--limit 99999999999999999999999999`` died with ``ValueError: Stop argument for
islice()`` (``itertools.islice`` refuses a stop past ``sys.maxsize``). A limit
no thread can reach is no limit; zero or a negative one is nothing, as
``list`` already answered. The CLI takes any limit of at least 1, and refuses
zero and negative ones with click's usage error (exit 2).
"""

from __future__ import annotations

import types
from pathlib import Path

import pytest
from click.testing import CliRunner

from langgraph_persist import PersistSaver
from langgraph_persist import saver as saver_module
from langgraph_persist.cli import cli
from tests.graphs import chat_graph, human

HUGE = 99999999999999999999999999
THREAD = "t"


def cfg(thread_id: str = THREAD) -> dict:
    return {"configurable": {"thread_id": thread_id}}


@pytest.fixture
def store(tmp_path: Path) -> Path:
    saver = PersistSaver(tmp_path / "s")
    graph = chat_graph().compile(checkpointer=saver)
    for turn in ("hello", "again"):
        graph.invoke(human(turn), cfg())
    saver.close()
    return tmp_path / "s"


def _cli(store: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--store", str(store), *args], prog_name="langgraph-persist")
    return result.exit_code, result.output


def _ids(tuples: object) -> list[str]:
    return [t.config["configurable"]["checkpoint_id"] for t in tuples]  # type: ignore[attr-defined]


def _check_limits(store: Path) -> None:
    """Every limit, huge to negative, through the library and the CLI."""
    saver = PersistSaver(store)
    try:
        everything = _ids(saver.list(cfg()))
        assert len(everything) == 6
        for limit, expected in ((HUGE, everything), (2, everything[:2]), (0, []), (-1, [])):
            for config in (cfg(), None):
                assert _ids(saver.list(config, limit=limit)) == expected, (config, limit)
            entries = saver.history(THREAD, limit=limit)
            assert [e.config["configurable"]["checkpoint_id"] for e in entries] == expected
    finally:
        saver.close()
    commands = (["threads"], ["history", THREAD], ["prune", "--dry-run"])
    for command in commands:
        option = "--keep-last" if command[0] == "prune" else "--limit"
        code, out = _cli(store, *command, option, str(HUGE))
        unlimited = _cli(store, *command) if command[0] != "prune" else (0, out)
        assert (code, out) == unlimited, (command, out)
        for bad in ("0", "-1", f"-{HUGE}"):
            code, out = _cli(store, *command, option, bad)
            assert code == 2 and f"Invalid value for '{option}'" in out, (command, bad, out)


def test_huge_zero_and_negative_limits(store: Path) -> None:
    _check_limits(store)


def test_negative_control_an_unclamped_islice_is_caught(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``history`` handing any limit to ``islice`` (the clamp sees no maxsize), the
    check above fails with the ValueError the tester met."""
    monkeypatch.setattr(saver_module, "sys", types.SimpleNamespace(maxsize=HUGE * 10))
    with pytest.raises(ValueError, match="islice"):
        _check_limits(store)
