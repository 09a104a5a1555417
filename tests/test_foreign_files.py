"""Files a user or an operating system drops into a store are ignored by every read path.

macOS Finder writes ``.DS_Store`` into every folder it opens, Windows
``Thumbs.db``, editors leave ``x~`` backups, and people leave notes. None of
them may break ``saver.list`` (and so ``graph.get_state_history``), the CLI,
``gc`` or ``stats``; ``verify`` names them as warnings, never as damage.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from langgraph_persist import PersistSaver, keys
from langgraph_persist.cli import cli
from tests.graphs import chat_graph, human, subgraph_graph

LITTER = {
    ".DS_Store": b"\x00\x00\x00\x01Bud1",
    "Thumbs.db": b"\xd0\xcf",
    "notes.txt": b"hi",
    "x~": b"",
}


def cfg(thread_id: str) -> dict:
    return {"configurable": {"thread_id": thread_id}}


def _build(store: Path, layout: str) -> dict[str, list]:
    saver = PersistSaver(store, layout=layout)  # type: ignore[arg-type]
    chat = chat_graph().compile(checkpointer=saver)
    for turn in ("hello", "again"):
        chat.invoke(human(turn), cfg("chat"))
    subgraph_graph().compile(checkpointer=saver).invoke({"items": []}, cfg("sub"))
    history: dict[str, list] = {
        t: [s.config for s in chat.get_state_history(cfg(t))] for t in ("chat", "sub")
    }
    history["*"] = [t.config for t in saver.list(None)]
    saver.close()
    return history


def _litter(store: Path) -> int:
    folders = [store, *(p for p in store.rglob("*") if p.is_dir())]
    for folder in folders:
        for name, data in LITTER.items():
            (folder / name).write_bytes(data)
    return len(folders)


def _cli(store: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--store", str(store), *args], prog_name="langgraph-persist")
    return result.exit_code, result.output


def _every_read_path_works(store: Path, history: dict[str, list]) -> None:
    saver = PersistSaver(store)
    chat = chat_graph().compile(checkpointer=saver)
    for thread in ("chat", "sub"):
        assert [s.config for s in chat.get_state_history(cfg(thread))] == history[thread]
    assert chat.get_state(cfg("chat")).values["messages"][-1].content == "echo: again"
    assert [t.config for t in saver.list(None)] == history["*"]
    code, out = _cli(store, "threads", "--json")
    assert code == 0 and sorted(t["thread_id"] for t in json.loads(out)) == ["chat", "sub"]
    assert _cli(store, "history", "chat", "--json")[0] == 0
    assert _cli(store, "stats", "--json")[0] == 0
    assert saver.gc().blobs_deleted == 0
    report = saver.verify()
    assert report.ok and not report.damaged
    return None


@pytest.mark.parametrize("layout", ["sqlite", "files"])
def test_litter_in_every_folder_is_ignored(tmp_path: Path, layout: str) -> None:
    store = tmp_path / "s"
    history = _build(store, layout)
    folders = _litter(store)
    _every_read_path_works(store, history)
    report = PersistSaver(store).verify()
    if layout == "files":  # the litter sits among our files: verify names each one
        assert len(report.warnings) >= (folders - 3) * len(LITTER)  # not in locks/, tmp/, trash/
        assert all("not written by langgraph-persist" in w for w in report.warnings)
    code, out = _cli(store, "verify")
    assert code == 0, out


def test_negative_control_listing_without_the_filter_breaks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the layout filter the same litter breaks the history: the test above can fail."""
    store = tmp_path / "s"
    history = _build(store, "files")
    _litter(store)
    monkeypatch.setattr(keys, "is_layout_prefix", lambda key: True)
    with pytest.raises(Exception):  # noqa: B017 - any failure proves the point
        _every_read_path_works(store, history)
