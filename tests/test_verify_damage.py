"""``verify`` finds a real dangling reference and names every thread that reaches it.

A list value long enough to have closed segments (``segments.SEGMENT_SPREAD``)
is shared three ways: by a thread, its ``copy_thread`` copy, and a sibling
thread whose list starts with the same elements (same content, same
segments). One blob is deleted through the store port, as a lost file or a
buggy gc would: a closed segment, or an element only a segment names (no
record names it directly, so finding it means following segments). ``verify``
must report exactly that blob as missing, reached by every checkpoint of the
threads that share it and by no other, on both layouts.
``tests/test_negative_controls.py`` runs the same check through a store that
serves deleted content from a stale cache, and the check fails.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.base import empty_checkpoint

from langgraph_persist import CorruptRecordError, PersistSaver, keys, records
from langgraph_persist.records import Kind
from langgraph_persist.segments import SEGMENT_SPREAD
from tests.damage import checkpoint_key

SHARED = [f"shared message {i}: " + "s" * 250 for i in range(4 * SEGMENT_SPREAD)]


def _items(tag: str, n: int) -> list[str]:
    return [f"{tag} message {i}: " + "u" * 250 for i in range(n)]


def _put(saver: PersistSaver, thread: str, lists: list[list[str]]) -> list[str]:
    """One checkpoint per list; the checkpoint ids."""
    config: Any = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    ids = []
    for step, items in enumerate(lists):
        ckpt = empty_checkpoint()
        ckpt["channel_values"] = {"messages": items}
        ckpt["channel_versions"] = {"messages": f"{step + 1:032}.0"}
        config = saver.put(config, ckpt, {"source": "loop", "step": step}, {"messages": 1})
        ids.append(config["configurable"]["checkpoint_id"])
    return ids


def build(saver: PersistSaver) -> dict[str, list[str]]:
    """The threads and their checkpoint ids (see module docstring)."""
    source = [SHARED + _items("source", 8), SHARED + _items("source", 40)]
    ids = {"source": _put(saver, "source", source)}
    saver.copy_thread("source", "copy")
    ids["copy"] = ids["source"]
    ids["sibling"] = _put(saver, "sibling", [SHARED + _items("sibling", 24)])
    ids["bystander"] = _put(saver, "bystander", [_items("bystander", 80)])
    return ids


def _list_ref(saver: PersistSaver, thread: str, checkpoint_id: str) -> list[Any]:
    key = checkpoint_key(thread, checkpoint_id)
    data = saver.store.read(key)
    assert data is not None
    rec = records.decode(data, expect=Kind.CHECKPOINT, location="/".join(key), aad=b"")
    ref = rec["refs"]["messages"][1]
    assert ref[0] == "l", ref
    return ref


def _segment_elements(saver: PersistSaver, segment: bytes) -> list[bytes]:
    key = keys.blob(segment)
    data = saver.store.read(key)
    assert data is not None
    items, kind = records.decode_with_kind(data, location="/".join(key), aad=b"")
    assert kind is Kind.SEGMENT
    return [i for i in items if isinstance(i, bytes)]


def victim(saver: PersistSaver, ids: dict[str, list[str]], what: str) -> tuple[bytes, set[str]]:
    """The blob to delete, and the threads whose every checkpoint reaches it."""
    newest = _list_ref(saver, "source", ids["source"][-1])
    sibling = _list_ref(saver, "sibling", ids["sibling"][0])
    assert len(newest[1]) >= 3, "the list has too few closed segments to test with"
    shared = [s for s in newest[1] if s in sibling[1]]
    own = [s for s in newest[1] if s not in sibling[1]]
    assert shared and own, (newest[1], sibling[1])
    if what == "shared segment":
        return shared[0], {"source", "copy", "sibling"}
    if what == "element of a shared segment":
        return _segment_elements(saver, shared[0])[0], {"source", "copy", "sibling"}
    # a segment only the newest checkpoints of source (and its copy) have
    segment = own[-1]
    older = _list_ref(saver, "source", ids["source"][0])
    assert segment not in older[1]
    return segment, {"source", "copy"}


def check_missing_content_is_named(saver: PersistSaver, what: str) -> None:
    """Delete one blob; verify must name it, as missing, with exactly who reaches it."""
    ids = build(saver)
    before = saver.verify()
    assert before.ok and before.garbage_blobs == 0, before.damaged  # the damage comes next
    digest, threads = victim(saver, ids, what)
    saver.store.delete_many([keys.blob(digest)])
    report = saver.verify()
    location = "/".join(keys.blob(digest))
    assert [d.location for d in report.damaged] == [location], (
        f"verify did not report the deleted {what} {location}: {report.damaged}"
    )
    damage = report.damaged[0]
    assert "missing" in damage.reason and not damage.repaired
    reached = {(t, cid) for t, _ns, cid in damage.reached_by}
    if what == "segment of the newest checkpoints":
        expected = {(t, ids[t][-1]) for t in threads}
    else:
        expected = {(t, cid) for t in threads for cid in ids[t]}
    assert reached == expected, f"reached by {sorted(reached)}, expected {sorted(expected)}"
    assert damage.thread_id in threads
    assert not report.ok
    # readers meet it as our typed error naming the blob; the bystander reads fine.
    # (DanglingReferenceError is raised, but Engine re-raises it through
    # CorruptRecordError.with_context, which returns the base class.)
    with pytest.raises(CorruptRecordError, match=f"content is missing.*{location}"):
        saver.get_tuple({"configurable": {"thread_id": sorted(threads)[0]}})
    assert saver.get_tuple({"configurable": {"thread_id": "bystander"}}) is not None


WHAT = ["shared segment", "element of a shared segment", "segment of the newest checkpoints"]


@pytest.mark.parametrize("what", WHAT)
@pytest.mark.parametrize("layout", ["sqlite", "files"])
def test_verify_names_the_threads_that_reach_deleted_content(
    tmp_path: Path, layout: str, what: str
) -> None:
    check_missing_content_is_named(PersistSaver(tmp_path / "s", layout=layout), what)
