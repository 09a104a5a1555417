"""Files the store opens by name refuse to follow a symbolic link out of the store.

A link planted as ``audit.jsonl`` or ``locks/gc`` used to make the saver
append to, or create, a file anywhere the process may write.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from langgraph_persist import PersistSaver, StoreError
from tests.graphs import chat_graph, human


def cfg(thread_id: str) -> dict:
    return {"configurable": {"thread_id": thread_id}}


def test_a_symlinked_audit_log_is_refused(tmp_path: Path) -> None:
    saver = PersistSaver(tmp_path / "s")
    chat_graph().compile(checkpointer=saver).invoke(human("hi"), cfg("t"))
    outside = tmp_path / "outside.txt"
    outside.write_text("precious\n")
    (tmp_path / "s" / "audit.jsonl").symlink_to(outside)
    with pytest.raises(StoreError, match="audit log"):
        saver.delete_thread("t")
    assert outside.read_text() == "precious\n"


@pytest.mark.parametrize("layout", ["sqlite", "files"])
def test_a_symlinked_lock_file_is_refused(tmp_path: Path, layout: str) -> None:
    saver = PersistSaver(tmp_path / "s", layout=layout)  # type: ignore[arg-type]
    outside = tmp_path / "elsewhere"
    (tmp_path / "s" / "locks" / "gc").unlink(missing_ok=True)
    (tmp_path / "s" / "locks" / "gc").symlink_to(outside)
    with pytest.raises(StoreError, match="symbolic link"):
        chat_graph().compile(checkpointer=saver).invoke(human("hi"), cfg("t"))
    assert not outside.exists()  # nothing was created through the link
