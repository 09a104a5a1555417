"""Damage a stored record the way a failing disk would, through any ``Store``.

Tests of corruption detection must not depend on the layout: the bytes of a
record are read and written back through the store port, bypassing the
engine, exactly as a flipped sector or a truncated write would leave them
in a file or in a database row.
"""

from __future__ import annotations

from collections.abc import Callable

from langgraph_persist import PersistSaver, keys
from langgraph_persist.keys import Key

Damage = Callable[[bytes], bytes]

DAMAGES: dict[str, Damage] = {
    "flip": lambda b: b[:40] + bytes([b[40] ^ 0x01]) + b[41:],
    "truncate": lambda b: b[: len(b) // 2],
    "empty": lambda b: b"",
}


def damage(saver: PersistSaver, key: Key, how: Damage | str) -> None:
    fn = DAMAGES[how] if isinstance(how, str) else how
    raw = saver.store.read(key)
    assert raw is not None, f"nothing stored at {key}"
    saver.store.write_many([(key, fn(raw))])


def checkpoint_key(
    thread_id: str, checkpoint_id: str, ns: str = "", saver: PersistSaver | None = None
) -> Key:
    """A checkpoint's key; pass the saver of a store that keys its names (encrypted)."""
    if saver is not None:
        a = saver.engine.address(thread_id, ns)
        return keys.checkpoint(a.t, a.n, checkpoint_id)
    return keys.checkpoint(keys.encode_name(thread_id), keys.encode_name(ns), checkpoint_id)


def blob_keys(saver: PersistSaver) -> list[Key]:
    return sorted(k for k, _size, _mtime in saver.store.walk((keys.BLOBS,)))


def record_keys(saver: PersistSaver, prefix: Key = ()) -> list[Key]:
    return sorted(k for k, _size, _mtime in saver.store.walk(prefix))
