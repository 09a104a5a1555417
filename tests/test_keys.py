"""Thread ids and namespaces: any string maps to a safe name that maps back."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from langgraph_persist import InvalidIdError, PersistSaver, keys
from langgraph_persist.address import Address

NASTY = [
    "",
    ".",
    "..",
    "../../etc/passwd",
    "/absolute",
    "a/b\\c",
    "\0",
    "nul\0inside",
    "UPPER",
    "upper",
    "emoji 🤖 and ümlauts",
    "ns:with|pipes:and:colons",
    "%41",
    "=",
    "~deadbeef",
    "x" * 10_000,
]


def _is_safe(name: str) -> bool:
    return (
        0 < len(name.encode()) <= keys.MAX_COMPONENT
        and name not in (".", "..")
        and "/" not in name
        and "\\" not in name
        and "\0" not in name
    )


@pytest.mark.parametrize("value", NASTY)
def test_nasty_ids_are_safe_and_round_trip(value: str) -> None:
    name = keys.encode_name(value)
    assert _is_safe(name)
    if not keys.is_hashed(name):
        assert keys.decode_name(name) == value


def test_case_insensitive_file_systems_cannot_collide() -> None:
    assert keys.encode_name("User").lower() != keys.encode_name("user").lower()


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=300))
def test_any_text_round_trips(value: str) -> None:
    name = keys.encode_name(value)
    assert _is_safe(name)
    if not keys.is_hashed(name):
        assert keys.decode_name(name) == value


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60), st.text(max_size=60))
def test_distinct_ids_never_share_a_name_even_case_folded(a: str, b: str) -> None:
    if a != b:
        assert keys.encode_name(a).lower() != keys.encode_name(b).lower()


def test_ids_that_are_too_long_not_strings_or_not_unicode_are_refused() -> None:
    with pytest.raises(InvalidIdError, match="lone surrogate"):
        keys.encode_name("\ud800")
    with pytest.raises(InvalidIdError):
        keys.encode_name("x" * (keys.MAX_ID_CHARS + 1))
    with pytest.raises(InvalidIdError):
        keys.encode_name(42)  # type: ignore[arg-type]
    with pytest.raises(InvalidIdError):
        keys.check_checkpoint_id("../escape")


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=120), st.text(max_size=80))
def test_paths_never_leave_the_root(thread_id: str, ns: str) -> None:
    root = Path("/tmp/lgp-root-that-is-never-created")
    a = Address.of(thread_id, ns)
    path = os.path.normpath(os.path.join(root, *keys.checkpoint(a.t, a.n, "1ef-abc")))
    assert path.startswith(str(root) + os.sep)


def test_nasty_ids_work_end_to_end(tmp_path: Path) -> None:
    """Every nasty id is a usable thread and namespace, listed back verbatim."""
    from langgraph.checkpoint.base import empty_checkpoint

    saver = PersistSaver(tmp_path / "store", durability="none")
    for i, value in enumerate(NASTY):
        ns = NASTY[-1 - i]
        config = {"configurable": {"thread_id": value, "checkpoint_ns": ns}}
        stored = saver.put(config, empty_checkpoint(), {"source": "input", "step": i}, {})
        assert stored["configurable"]["thread_id"] == value
        assert stored["configurable"]["checkpoint_ns"] == ns
        back = saver.get_tuple(stored)
        assert back is not None and back.metadata["step"] == i
    listed = {
        (t.config["configurable"]["thread_id"], t.config["configurable"]["checkpoint_ns"])
        for t in saver.list(None)
    }
    assert listed == {(v, NASTY[-1 - i]) for i, v in enumerate(NASTY)}
    # nothing was created outside the store's root
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]


def test_long_thread_id_survives_delete_and_reuse_by_another_process(tmp_path: Path) -> None:
    """A hashed (too long) thread name is recovered from its info record, which a put
    must write again when another saver deleted the thread in between."""
    from langgraph.checkpoint.base import empty_checkpoint

    long_id = "conversation/" + "x" * 500
    config = {"configurable": {"thread_id": long_id, "checkpoint_ns": ""}}
    writer = PersistSaver(tmp_path / "store", durability="none")
    writer.put(config, empty_checkpoint(), {"step": 0}, {})
    PersistSaver(tmp_path / "store").delete_thread(long_id)  # "another process"
    writer.put(config, empty_checkpoint(), {"step": 1}, {})  # a new run reuses the id
    listed = [t.config["configurable"]["thread_id"] for t in writer.list(None)]
    assert listed == [long_id]


class _NoLoop(str):
    """A str whose characters cannot be iterated: proves a code path never loops over them."""

    def __iter__(self):  # type: ignore[no-untyped-def]
        raise AssertionError("encode_name looped over the id's characters")


def _reference_encode(value: str) -> str:
    """The escaping rule of docs/format.md, written out plainly (slow, obviously right)."""
    encoded = "".join(
        ch if ch in "abcdefghijklmnopqrstuvwxyz0123456789_-" else f"%{ch.encode().hex('%').upper()}"
        for ch in value
    )
    if len(encoded) > keys.MAX_COMPONENT:
        import hashlib

        return "~" + hashlib.blake2b(value.encode(), digest_size=20).hexdigest()
    return encoded or "="


def test_huge_ids_are_refused_before_any_per_character_work() -> None:
    """Security finding: a 999,999-character non-ASCII id cost ~1 s per call in the loop."""
    with pytest.raises(InvalidIdError, match="exceeds"):
        keys.encode_name(_NoLoop("ü" * 999_999))
    with pytest.raises(InvalidIdError, match="UTF-8 bytes"):
        keys.encode_name(_NoLoop("ü" * (keys.MAX_ID_BYTES // 2 + 1)))  # few chars, many bytes
    # long but acceptable ids are hashed without the loop, to the same name as before
    long_id = "ü" * (keys.MAX_ID_BYTES // 2)
    assert keys.encode_name(_NoLoop(long_id)) == _reference_encode(long_id)
    assert keys.is_hashed(keys.encode_name(_NoLoop("x" * 201)))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(max_size=260))
def test_encoding_matches_the_documented_rule(value: str) -> None:
    try:
        expected = _reference_encode(value)
    except UnicodeEncodeError:
        return
    assert keys.encode_name(value) == expected


def test_parse_inverts_every_builder() -> None:
    """``keys.parse`` is the one parser: each builder's key comes back with its names."""
    t, n, cid = keys.encode_name("user/42"), keys.encode_name("child:1"), "1f0-abc"
    seq = "00000000000000000001-0000001-0123456789ab"
    assert keys.parse(keys.thread_info(t)) == keys.Parsed("thread_info", t)
    assert keys.parse(keys.head(t, n)) == keys.Parsed("head", t, n)
    assert keys.parse(keys.checkpoint(t, n, cid)) == keys.Parsed("checkpoint", t, n, cid)
    assert keys.parse(keys.write(t, n, cid, seq)) == keys.Parsed("write", t, n, cid)
    assert keys.parse(keys.blob(bytes(20))) == keys.Parsed("blob")
    assert keys.parse(keys.run_index(keys.encode_name("run"), t)) == keys.Parsed("run_index", t)
    assert keys.parse(keys.tombstone(t)) == keys.Parsed("tombstone", t)
    assert keys.parse(keys.meta("store")) == keys.Parsed("meta")
    assert keys.record_of(keys.write(t, n, cid, seq)) == (n, cid)
    assert keys.record_of(keys.checkpoint(t, n, cid)) == (n, cid)
    assert keys.record_of(keys.head(t, n)) is None
    for foreign in [
        ("threads", t, "ns", n, "c", "notes.txt"),
        ("threads", t, "ns", n, "w", cid, "x~"),
        ("threads", t, ".DS_Store"),
        ("blobs", "00", "ff" + "0" * 38),  # shard does not match the digest
        ("elsewhere", t),
        (),
    ]:
        assert keys.parse(foreign) is None, foreign
        assert not keys.is_layout_key(foreign)
        assert keys.record_of(foreign) is None
