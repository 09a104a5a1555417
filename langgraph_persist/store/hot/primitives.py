"""What the hot tier's fenced primitives take and return, and how values are sealed.

Shared by both adapters (``store/redis.py``, ``store/redis_cluster.py``) and by
``TieredStore``: a fenced read (``Fetched``), a fenced write (``Written``), a
write-behind queue entry (``PendingEntry``), the plan of an invalidation, and
the sealing of values under the store's MAC (``hot_auth.py``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, NamedTuple

from langgraph_persist.keys import Key
from langgraph_persist.store.hot.layout import RedisKeys, Tag
from langgraph_persist.store.hot_auth import HotAuth


@dataclass(frozen=True)
class Fetched:
    """What a fenced read saw: values, and the generation of each tag at that instant.

    ``values`` holds only verified records (see ``open_values``); a copy that
    failed is ``None`` there and in ``damaged``, with the sha1 of its bytes, so a
    repair can replace exactly those bytes (``put_values(old=...)``). ``digests``
    (with ``fetch(digests=True)``): the sha1 of the bytes Redis holds for each
    value, what ``ack`` compares. ``epoch``: the standalone server's data epoch
    (empty on a cluster, which tells lost data by generations instead).
    """

    epoch: str
    gens: dict[Tag, str]
    values: list[bytes | None]
    damaged: dict[int, str] = field(default_factory=dict)
    digests: list[str | None] | None = None


@dataclass(frozen=True)
class Written:
    """What a fenced write did: the generations it saw, and the tags fenced out.

    ``digests`` (pending writes only): the sha1 of the bytes stored for each
    item, in item order, which the writer's ``ack`` passes back.
    """

    epoch: str
    gens: dict[Tag, str]
    fenced: frozenset[Tag] = field(default_factory=frozenset)
    digests: tuple[str, ...] = ()


@dataclass(frozen=True)
class PendingEntry:
    """One write-behind queue entry (sealed by the caller), pushed with its values."""

    writer: str
    entry: bytes


@dataclass(frozen=True)
class Put:
    """A write as an adapter runs it (``HotTier.put_values`` prepares it).

    ``stored[i]`` (sealed) goes to ``keys[i]`` if ``olds[i]`` allows it;
    ``groups`` holds the positions of each tag's items, tags in first-seen order.
    """

    keys: Sequence[Key]
    olds: Sequence[str]
    stored: Sequence[bytes]
    groups: dict[Tag, list[int]]
    fence: Mapping[Tag, str] | None
    pending: PendingEntry | None


@dataclass(frozen=True)
class Ack:
    """An ack as an adapter runs it (``HotTier.ack`` prepares it): ``flushed[i]``
    is (key, sha1 of the bytes flushed); ``groups`` its positions per tag."""

    writer: str
    entry: bytes
    flushed: Sequence[tuple[Key, str]]
    groups: dict[Tag, list[int]]
    gens: Mapping[Tag, str]
    epoch: str


class Invalidation(NamedTuple):
    """What an invalidation touches, per hash tag (``plan_invalidation``)."""

    exact: dict[Tag, list[Key]]
    ranges: dict[Tag, list[tuple[bytes, bytes]]]
    whole: set[Tag]
    tags: list[Tag]


def plan_invalidation(
    rkeys: RedisKeys, keys: Sequence[Key], prefixes: Sequence[Key], tags: Iterable[Tag]
) -> Invalidation:
    """Exact keys, registry ranges and whole tags of an invalidation, and all its tags.

    A two-component prefix is a whole tag (every key of a thread, a shard, a
    run); a deeper one is a lexicographic range of the tag's registry, plus the
    prefix itself, which may be a value.
    """
    exact: dict[Tag, list[Key]] = {}
    ranges: dict[Tag, list[tuple[bytes, bytes]]] = {}
    whole: set[Tag] = set(tags)
    for key in keys:
        exact.setdefault(rkeys.tag_of(key), []).append(key)
    for prefix in prefixes:
        if len(prefix) == 2:
            whole.add(rkeys.tag_of(prefix))
            continue
        tag, base = rkeys.subtree(prefix)
        exact.setdefault(tag, []).append(prefix)
        ranges.setdefault(tag, []).append(lex_range(base))
    return Invalidation(
        exact, ranges, whole, list(dict.fromkeys([*exact, *ranges, *sorted(whole)]))
    )


def lex_range(base: str) -> tuple[bytes, bytes]:
    """The ``ZRANGEBYLEX`` bounds of every member starting with ``base``."""
    lo = ("[" + base).encode()
    return lo, lo + b"\xff"


def new_token() -> str:
    """A generation or epoch token: unique, so a replaced token never comes back (no ABA)."""
    return os.urandom(12).hex()


def sha1_hex(data: bytes) -> str:
    """What the scripts compare (``redis.sha1hex``) to act on exactly the bytes seen."""
    return hashlib.sha1(data).hexdigest()


def seal_values(auth: HotAuth | None, items: Sequence[tuple[Key, bytes]]) -> list[bytes]:
    """The bytes Redis holds for each item: sealed under the store's MAC, if it has one."""
    if auth is None:
        return [data for _, data in items]
    return [auth.seal(key, data) for key, data in items]


def open_values(
    auth: HotAuth | None, keys: Sequence[Key], raw: Sequence[bytes | None], *, digests: bool
) -> tuple[list[bytes | None], dict[int, str], list[str | None] | None]:
    """Verify what Redis returned for ``keys``: (records, damaged, digests) as in ``Fetched``.

    With ``auth``, a value is kept only if its MAC verifies for its key;
    anything else (made or moved by a client without our key, or damaged) is
    reported as damaged, never served. The MAC covers every byte, so the
    record's own digest needs no second check here (it costs as much again).
    """
    values: list[bytes | None] = [None] * len(raw)
    damaged: dict[int, str] = {}
    sums: list[str | None] | None = [None] * len(raw) if digests else None
    for i, stored in enumerate(raw):
        if stored is None:
            continue
        value = stored if auth is None else auth.open(keys[i], stored)
        if value is None:
            damaged[i] = sha1_hex(stored)
            continue
        values[i] = value
        if sums is not None:
            sums[i] = sha1_hex(stored)
    return values, damaged, sums


# -- replies and sizes ---------------------------------------------------------------------


def ms(delta: timedelta | None) -> int:
    """Milliseconds for Redis (``PX``/``PEXPIRE``); 0 means none."""
    return 0 if delta is None else max(1, int(delta.total_seconds() * 1000))


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def texts(reply: Any) -> list[str]:
    """A Redis array reply as text (redis-py types replies loosely)."""
    return [text(m) for m in reply]


def raw(reply: Any) -> list[bytes]:
    """A Redis array reply as bytes."""
    return [m if isinstance(m, bytes) else str(m).encode() for m in reply]


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
