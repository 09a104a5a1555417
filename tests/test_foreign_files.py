"""Files a user or an operating system drops into a store are ignored by every read path.

macOS Finder writes ``.DS_Store`` into every folder it opens, Windows
``Thumbs.db``, editors leave ``x~`` backups, and people leave notes. None of
them may break ``saver.list`` (and so ``graph.get_state_history``), the CLI,
``gc`` or ``stats``; ``verify`` names them as warnings, never as damage.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from langgraph_persist import PersistSaver, keys
from langgraph_persist.cli import cli
from langgraph_persist.store import files as files_module
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
    # the kind check alone (a file where a directory belongs) would hide most litter
    monkeypatch.setattr(files_module, "_our_entries", _names_only)
    with pytest.raises(Exception):  # noqa: B017 - any failure proves the point
        _every_read_path_works(store, history)


# -- stray directories (file layout) ------------------------------------------------------------


def _stray_directories(store: Path) -> int:
    """In every folder of the store, an empty directory named as the layout names things
    there (a thread, a namespace, a checkpoint...), and one holding a file; returns how
    many folders got them."""
    folders = [p for p in store.rglob("*") if p.is_dir()]
    for folder in folders:
        (folder / "emptydir").mkdir()
        (folder / "straydir").mkdir()
        (folder / "straydir" / "notes.txt").write_bytes(b"hi")
    return len(folders)


def _stray_directories_are_ignored(store: Path, history: dict[str, list]) -> None:
    """Every read path, plus what the tester broke: ``threads()``, ``copy_thread``, CLI ``show``."""
    _every_read_path_works(store, history)
    saver = PersistSaver(store)
    assert sorted(saver.threads()) == ["chat", "sub"]
    saver.copy_thread("chat", "chat-copy")
    assert [t.checkpoint for t in saver.list(cfg("chat-copy"))] == [
        t.checkpoint for t in saver.list(cfg("chat"))
    ]
    saver.delete_thread("chat-copy")
    assert _cli(store, "show", "chat")[0] == 0
    assert _cli(store, "threads")[0] == 0


def test_stray_directories_are_ignored(tmp_path: Path) -> None:
    """A directory at a record's place holds no record, an empty one anywhere holds
    nothing (``files._our_entries``): neither breaks a read or appears as a thread."""
    store = tmp_path / "s"
    history = _build(store, "files")
    assert _stray_directories(store) > 20
    head = store.joinpath(*keys.head("chat", "="))
    head.unlink(missing_ok=True)  # (the file layout may keep no head)
    head.mkdir()  # read by its key, not listed: a directory there is no head
    _stray_directories_are_ignored(store, history)


def test_a_tree_of_empty_directories_is_a_thread_without_checkpoints(tmp_path: Path) -> None:
    """Only an *empty* directory is left out (one more listing per directory, not a walk):
    ``threads/x/ns/`` lists ``x``, which holds nothing, and the CLI skips it."""
    store = tmp_path / "s"
    _build(store, "files")
    (store / "threads" / "x" / "ns").mkdir(parents=True)
    saver = PersistSaver(store)
    assert sorted(saver.threads()) == ["chat", "sub", "x"]
    assert saver.get_tuple(cfg("x")) is None and list(saver.list(cfg("x"))) == []
    code, out = _cli(store, "threads", "--json")
    assert code == 0 and sorted(t["thread_id"] for t in json.loads(out)) == ["chat", "sub"]


def _names_only(path: str, prefix: keys.Key) -> tuple[list[str], bool]:
    """The listing before stray directories were ignored: names, whatever their kind."""
    names = sorted(n for n in os.listdir(path) if keys.is_layout_prefix((*prefix, n)))
    return names, False


def test_negative_control_a_directory_listed_as_a_checkpoint_breaks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listing names whatever their kind, one directory among the checkpoints is read
    as the latest: the check above fails."""
    store = tmp_path / "s"
    history = _build(store, "files")
    (store / "threads" / "chat" / "ns" / "=" / "c" / "straydir").mkdir()
    monkeypatch.setattr(files_module, "_our_entries", _names_only)
    with pytest.raises(Exception):  # noqa: B017 - any failure proves the point
        _stray_directories_are_ignored(store, history)


def test_negative_control_an_empty_directory_listed_as_a_thread_breaks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listing empty directories, ``threads/emptydir`` is a thread: the check above fails."""
    store = tmp_path / "s"
    history = _build(store, "files")
    (store / "threads" / "emptydir").mkdir()
    monkeypatch.setattr(files_module, "_our_entries", _names_only)
    with pytest.raises(AssertionError):
        _stray_directories_are_ignored(store, history)
