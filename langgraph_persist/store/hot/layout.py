"""Every Redis key name of the hot tier, built and parsed here and only here.

A store key ``(c0, c1, c2, ...)`` lives in the *tag* ``c0/c1``: every Redis
key of one thread (``threads/<t>/...``), of one blob shard (``blobs/<hh>/...``)
or of one run (``runs/<r>/...``) carries the same Redis Cluster hash tag, so
they share a slot and one Lua script can touch them all::

    <p>{c0/c1}:v:<c2/c3/...>   the value (a record, sealed), one STRING per store key
    <p>{c0/c1}:r               registry: ZSET (score 0) of the tag's value keys
    <p>{c0/c1}:q               pending: ZSET (score 0), values not yet in the cold tier
    <p>{c0/c1}:g               generation token, replaced by every delete in the tag
    <p>{c0/c1}:p               pin flag: the tag's values never expire
    <p>{c0/c1}:s               sweep cursor over the registry (TTL mode only)
    <p>{c0/c1}:lock:<rest>:*   a shared/exclusive lease lock (readers, writer, intent)
    <p>{wb:<writer>}:q         write-behind queue of one writer (LIST, in order)
    <p>{wb:<writer>}:lease     the flusher lease of that queue
    <p>{wb}:writers            SET of writer ids with a queue

Standalone Redis only (a cluster would put them in other slots)::

    <p>{c0}:c                  level-1 index: ZSET of c1 names, score = expiry (ms)
    <p>top                     ZSET of c0 names (a handful: threads, blobs, runs)
    <p>epoch                   random token; a new one means Redis lost its data

Why registries instead of ``KEYS``/``SCAN``: listing and deleting a subtree must
not walk the keyspace. A registry holds full value-key names, so listing is a
lexicographic range (``ZRANGEBYLEX``) and deleting a subtree never builds a key
inside Lua. ``docs/tiers.md`` is the reference.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from langgraph_persist.errors import ConfigurationError, InvalidIdError
from langgraph_persist.keys import Key

_PREFIX = re.compile(r"^[A-Za-z0-9_.:-]{0,64}$")
_COMPONENT = re.compile(r"^[A-Za-z0-9._%=~-]{1,255}$")
_NAME_CACHE = 1 << 16
"""Store keys whose Redis names are remembered (about 200 bytes each)."""


@dataclass(frozen=True, order=True)
class Tag:
    """The hash-tag group of a store key: its first two components.

    ``c1`` is empty only for single-component keys (never written by the engine).
    """

    c0: str
    c1: str = ""

    @property
    def name(self) -> str:
        return f"{self.c0}/{self.c1}" if self.c1 else self.c0


def check_prefix(prefix: str) -> str:
    """Validate a user-given key prefix: no braces (they would change the hash tag)."""
    if not isinstance(prefix, str) or not _PREFIX.match(prefix):
        raise ConfigurationError(
            f"invalid Redis key prefix {prefix!r}: use at most 64 characters from "
            "[A-Za-z0-9_.:-] (no braces, spaces or glob characters)"
        )
    return prefix


class RedisKeys:
    """Every Redis key name of the layout in the module docstring."""

    def __init__(self, prefix: str) -> None:
        self.prefix = check_prefix(prefix)
        # Reads of long conversations name hundreds of blobs per call, the same
        # ones call after call: validate and format each key once.
        self._locate: Callable[[Key], tuple[Tag, str]] = functools.lru_cache(maxsize=_NAME_CACHE)(
            self._compute_locate
        )
        self._block: Callable[[Tag], tuple[str, ...]] = functools.lru_cache(maxsize=_NAME_CACHE)(
            self._compute_block
        )
        self._tag_pattern = re.compile(
            "^" + re.escape(self.prefix) + r"\{([A-Za-z0-9._%=~-]+)(?:/([A-Za-z0-9._%=~-]+))?\}:"
        )

    @staticmethod
    def check(key: Key) -> Key:
        """Components come from ``keys.py`` already; re-checked so no ``{``, ``}``, ``/``
        or ``:`` can ever change a hash tag or split a name ambiguously."""
        if not key:
            raise InvalidIdError("empty store key")
        for part in key:
            if not isinstance(part, str) or not _COMPONENT.match(part):
                raise InvalidIdError(f"unsafe key component {part!r}")
        return key

    def _compute_locate(self, key: Key) -> tuple[Tag, str]:
        self.check(key)
        tag = Tag(key[0], key[1] if len(key) > 1 else "")
        return tag, f"{self._tagged(tag)}:v:{'/'.join(key[2:])}"

    def tag_of(self, key: Key) -> Tag:
        return self._locate(key)[0]

    def _tagged(self, tag: Tag) -> str:
        return f"{self.prefix}{{{tag.name}}}"

    def value(self, key: Key) -> str:
        return self._locate(key)[1]

    def subtree(self, prefix: Key) -> tuple[Tag, str]:
        """(tag, value-key prefix) of everything strictly below ``prefix`` (len >= 2)."""
        if len(prefix) < 2:
            raise ValueError("subtree() needs a prefix of at least two components")
        tag = self.tag_of(prefix)
        rest = "/".join(prefix[2:])
        return tag, f"{self._tagged(tag)}:v:{rest + '/' if rest else ''}"

    def parse(self, value_key: str | bytes) -> Key:
        """Invert :meth:`value`."""
        text = value_key.decode() if isinstance(value_key, bytes) else value_key
        if not text.startswith(self.prefix + "{"):
            raise InvalidIdError(f"{text!r} is not a value key of prefix {self.prefix!r}")
        tag_name, sep, rest = text[len(self.prefix) + 1 :].partition("}:v:")
        if not sep:
            raise InvalidIdError(f"{text!r} is not a value key")
        parts = tuple(tag_name.split("/")) + (tuple(rest.split("/")) if rest else ())
        return self.check(parts)

    def registry(self, tag: Tag) -> str:
        return f"{self._tagged(tag)}:r"

    def pending(self, tag: Tag) -> str:
        return f"{self._tagged(tag)}:q"

    def gen(self, tag: Tag) -> str:
        return f"{self._tagged(tag)}:g"

    def pin(self, tag: Tag) -> str:
        return f"{self._tagged(tag)}:p"

    def sweep(self, tag: Tag) -> str:
        return f"{self._tagged(tag)}:s"

    def level1(self, c0: str) -> str:
        return f"{self.prefix}{{{c0}}}:c"

    def top(self) -> str:
        return f"{self.prefix}top"

    def epoch(self) -> str:
        return f"{self.prefix}epoch"

    def writers(self) -> str:
        return f"{self.prefix}{{wb}}:writers"

    def queue(self, writer: str) -> str:
        return f"{self.prefix}{{wb:{writer}}}:q"

    def lease(self, writer: str) -> str:
        return f"{self.prefix}{{wb:{writer}}}:lease"

    def lock(self, key: Key) -> list[str]:
        """A named shared/exclusive lock (readers, writer, writer intent), in the
        slot of the data it protects."""
        base = f"{self._tagged(self.tag_of(key))}:lock:{'/'.join(key[2:])}"
        return [f"{base}:r", f"{base}:w", f"{base}:i"]

    def block(self, tag: Tag) -> tuple[str, ...]:
        """The per-tag keys every script reads with ``tag_block()`` (``lua/tag.lua``),
        in its order: registry, pending, generation, pin, sweep."""
        return self._block(tag)

    def _compute_block(self, tag: Tag) -> tuple[str, ...]:
        return (
            self.registry(tag),
            self.pending(tag),
            self.gen(tag),
            self.pin(tag),
            self.sweep(tag),
        )

    def tag_of_name(self, name: str | bytes, kind: str) -> Tag | None:
        """The tag of a per-tag key name of ``kind`` (``r``, ``q``, ...), as ``SCAN``
        finds them; ``None`` for any other name."""
        text = name.decode() if isinstance(name, bytes) else name
        match = self._tag_pattern.match(text)
        if match is None or text[match.end() :] != kind:
            return None
        return Tag(match.group(1), match.group(2) or "")

    def parse_members(self, members: Iterable[Any]) -> list[Key]:
        """Store keys of index members, sorted; a member that is not one of our names
        (anyone with access to our keys could add one) is skipped."""
        out: set[Key] = set()
        for member in members:
            try:
                out.add(self.parse(member))
            except (InvalidIdError, UnicodeDecodeError):
                continue
        return sorted(out)

    def group(self, keys: Iterable[Key]) -> dict[Tag, list[int]]:
        """Positions of ``keys`` grouped by tag, tags in first-seen order."""
        groups: dict[Tag, list[int]] = {}
        for i, key in enumerate(keys):
            groups.setdefault(self.tag_of(key), []).append(i)
        return groups
