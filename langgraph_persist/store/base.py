"""The storage port: what the engine needs from a tier, and nothing more.

Keys are tuples of safe names built by ``keys.py``; values are opaque bytes
(records, see ``records.py``). The contract every adapter keeps:

* ``write_many`` makes each item visible atomically (a reader sees the old
  bytes or the new bytes, never a mix) and, when it returns, durable as the
  adapter's durability policy promises. Items of one call may become visible
  in any order: callers that need an order (content before the record that
  references it) make two calls.
* ``create_many`` is ``write_many`` for content-addressed keys: an existing
  key is left as it is (same address, same content).
* ``list`` returns the child names under a prefix, sorted, one level deep.
* ``delete_tree`` makes a whole prefix disappear at once (as far as the
  medium allows) and then removes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Protocol

from langgraph_persist.keys import Key

Listings = list[list[str]]
"""Child names per prefix (module-level: inside the class ``list`` is the method)."""


class Store(Protocol):
    """A key -> bytes store with atomic writes."""

    def describe(self) -> str:
        """A short human-readable name for logs and errors (``file:/path``)."""
        ...

    def read(self, key: Key) -> bytes | None:
        """The bytes at ``key``, or ``None`` when absent."""
        ...

    def read_many(self, keys: Sequence[Key]) -> list[bytes | None]:
        """``read`` for several keys, in one round trip where the medium allows."""
        ...

    def write_many(self, items: Sequence[tuple[Key, bytes]]) -> None:
        """Atomically replace each key's value; durable when this returns."""
        ...

    def create_many(self, items: Sequence[tuple[Key, bytes]]) -> None:
        """Write content-addressed items whose keys are absent."""
        ...

    def exists_many(self, keys: Sequence[Key]) -> list[bool]:
        """Whether each key is present."""
        ...

    def list(self, prefix: Key) -> list[str]:
        """Sorted child names directly under ``prefix`` (empty when absent)."""
        ...

    def delete_many(self, keys: Sequence[Key]) -> None:
        """Remove keys; absent keys are ignored."""
        ...

    def delete_tree(self, prefix: Key) -> None:
        """Remove everything under ``prefix``."""
        ...

    def link(self, items: Sequence[tuple[Key, Key]]) -> None:
        """Make each destination hold the source's bytes, sharing storage if possible."""
        ...

    def list_many(self, prefixes: Sequence[Key]) -> Listings:
        """``list`` for several prefixes, in one round trip where the medium allows."""
        ...

    def walk(self, prefix: Key) -> Iterator[tuple[Key, int, float]]:
        """Every key under ``prefix`` (recursively) with its size and mtime; admin only."""
        ...

    def recover(self, key: Key, good: Callable[[bytes], bool]) -> bool:
        """Replace a damaged ``key`` with another copy for which ``good`` holds.

        Tiered stores look in the other tier; single stores return ``False``.
        """
        ...

    def lock(self, key: Key, exclusive: bool = True) -> AbstractContextManager[None]:
        """A lock named by ``key`` across processes: writers of a thread share it;
        deleting the thread (and fencing) takes it exclusively."""
        ...

    def maintenance_lock(self, exclusive: bool) -> AbstractContextManager[None]:
        """Shared for writers, exclusive for garbage collection (see gc.py)."""
        ...

    def close(self) -> None:
        """Release resources (connections, file handles)."""
        ...
