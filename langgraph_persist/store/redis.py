"""The Redis tier: the ``Store`` port on plain Redis >= 6 (no modules), plus the
fenced operations a hot tier needs (see ``tiered.py``).

Key layout (``docs/tiers.md`` is the reference). A store key
``(c0, c1, c2, ...)`` lives in the *tag* ``c0/c1``: every Redis key of one
thread (``threads/<t>/...``), of one blob shard (``blobs/<hh>/...``) or of
one run (``runs/<r>/...``) carries the same Redis Cluster hash tag, so they
share a slot and one Lua script can touch them all::

    <p>{c0/c1}:v:<c2/c3/...>   the value (a record, sealed), one STRING per store key
    <p>{c0/c1}:r               registry: ZSET (score 0) of the tag's value keys
    <p>{c0/c1}:q               pending: ZSET (score 0), values not yet in the cold tier
    <p>{c0/c1}:g               generation token, replaced by every delete in the tag
    <p>{c0/c1}:p               pin flag: the tag's values never expire
    <p>{c0/c1}:s               sweep cursor over the registry (TTL mode only)
    <p>{c0}:c                  level-1 index: ZSET of c1 names, score = expiry (ms)
    <p>top                     ZSET of c0 names (a handful: threads, blobs, runs)
    <p>epoch                   random token; a new one means Redis lost its data
    <p>{wb:<writer>}:q         write-behind queue of one writer (LIST, in order)
    <p>{wb:<writer>}:lease     the flusher lease of that queue
    <p>{wb}:writers            SET of writer ids with a queue

Why registries instead of ``KEYS``/``SCAN``: ``list`` and ``delete_tree`` must
not walk the keyspace. A registry holds full value-key names, so listing is a
lexicographic range (``ZRANGEBYLEX``) and deleting a subtree never builds a
key inside Lua: every key name is built and parsed in ``RedisKeys`` below,
and only there.

Invariants every script keeps (why deletes can never miss a value):

* every live value key is a member of its tag's registry;
* the registry's TTL is never shorter than any of its values' TTLs (both are
  set to the full TTL together; pinned or pending tags have no TTL at all);
* a value is either pending (no TTL, not yet in the cold tier) or a copy of
  what the cold tier holds.

These hold only if Redis never evicts keys on its own: run the hot tier with
``maxmemory-policy noeviction`` (the default) and bound memory with the TTL.

One round trip per call: every operation is one ``EVALSHA`` (or one
pipeline); ``SCAN`` and ``KEYS`` are never used.

Authentication: given a ``HotAuth`` (``hot_auth.py``; ``TieredStore`` always
gives one), every value goes to Redis sealed under a MAC bound to its store
key, and ``fetch`` returns only values whose MAC verifies (it covers every byte):
the others are reported as damaged (``Fetched.damaged``) and their TTL is
never extended. A store without one trusts Redis entirely (a standalone
store in a Redis nobody else can reach).

Cluster: the hash tags group a thread's data in one slot, but the scripts
also touch the small global indexes (``top``, level-1, ``epoch``) that live
in other slots, and they receive key names inside msgpack arguments (far
cheaper for redis-py to send than hundreds of ``KEYS``), so this adapter
needs a standalone Redis. A Cluster adapter would split the index updates
out and declare keys per slot.
"""

from __future__ import annotations

import abc
import contextlib
import functools
import hashlib
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, NamedTuple

import msgpack
import redis
import redis.asyncio
from redis.backoff import NoBackoff
from redis.commands.core import Script
from redis.exceptions import NoScriptError
from redis.retry import Retry

from langgraph_persist import records
from langgraph_persist.errors import ConfigurationError, InvalidIdError
from langgraph_persist.keys import Key
from langgraph_persist.store.base import Listings, Store
from langgraph_persist.store.hot_auth import HotAuth

_PREFIX = re.compile(r"^[A-Za-z0-9_.:-]{0,64}$")
_COMPONENT = re.compile(r"^[A-Za-z0-9._%=~-]{1,255}$")
_GEN_TTL_MIN_MS = 24 * 3600 * 1000
"""Generation tokens outlive any in-flight backfill by far (see ``RedisStore.invalidate``)."""

LOCK_LEASE = timedelta(seconds=60)
"""How long a ``lock`` outlives a holder that died holding it."""

_NAME_CACHE = 1 << 16
"""Store keys whose Redis names are remembered (about 200 bytes each)."""

SWEEP_BATCH = 8
"""Registry members checked per write for expired values. Each put adds ~3
members and checks 8, so dead members stay below ~40% of a registry."""


def _ms(delta: timedelta | None) -> int:
    return 0 if delta is None else max(1, int(delta.total_seconds() * 1000))


# -- keys: built and parsed here, and only here ----------------------------------------------


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
        self._block: Callable[[Tag], tuple[tuple[str, ...], tuple[str, str]]] = functools.lru_cache(
            maxsize=_NAME_CACHE
        )(self._compute_block)

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

    def block(self, tag: Tag) -> tuple[tuple[str, ...], tuple[str, str]]:
        """The per-tag keys and arguments every script reads with ``tag_block()``."""
        return self._block(tag)

    def _compute_block(self, tag: Tag) -> tuple[tuple[str, ...], tuple[str, str]]:
        keys = (
            self.registry(tag),
            self.pending(tag),
            self.gen(tag),
            self.pin(tag),
            self.level1(tag.c0),
            self.sweep(tag),
        )
        return keys, (tag.c0, tag.c1)


# -- Lua -------------------------------------------------------------------------------------

_PREAMBLE = """
-- Key names and arguments arrive as two msgpack arrays (see _Call): one
-- argument each instead of hundreds, which redis-py packs ~10x faster.
local KK, AA = cmsgpack.unpack(ARGV[1]), cmsgpack.unpack(ARGV[2])
local ki, ai = 0, 0
local function K() ki = ki + 1; return KK[ki] end
local function A() ai = ai + 1; return AA[ai] end
local function flag() return tonumber(A()) == 1 end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function tag_block()
  return {r = K(), q = K(), g = K(), p = K(), l = K(), s = K(), c0 = A(), c1 = A()}
end
local function set_level1(t, score)
  if t.c1 ~= '' then redis.call('ZADD', t.l, score, t.c1) end
end
local function sweep(t, ttl)
  local cur = redis.call('GET', t.s)
  local lo = cur and ('(' .. cur) or '-'
  local batch = redis.call('ZRANGEBYLEX', t.r, lo, '+', 'LIMIT', 0, SWEEP_BATCH)
  for _, m in ipairs(batch) do
    if redis.call('EXISTS', m) == 0 then
      redis.call('ZREM', t.r, m)
      redis.call('ZREM', t.q, m)
    end
  end
  if #batch < SWEEP_BATCH then redis.call('DEL', t.s)
  else redis.call('SET', t.s, batch[#batch], 'PX', ttl) end
end
-- After values of a tag changed: the registry's TTL covers every value's
-- (or there is none: pinned or pending), and the level-1 index says until
-- when the tag lives.
local function settle(t, ttl, top)
  if ttl > 0 and redis.call('EXISTS', t.p) == 0 and redis.call('EXISTS', t.q) == 0 then
    redis.call('PEXPIRE', t.r, ttl)
    local now = now_ms()
    set_level1(t, now + ttl)
    if t.c1 ~= '' then redis.call('ZREMRANGEBYSCORE', t.l, '-inf', '(' .. now) end
  else
    redis.call('PERSIST', t.r)
    set_level1(t, '+inf')
  end
  if ttl > 0 then sweep(t, ttl) end
  redis.call('ZADD', top, 0, t.c0)
end
""".replace("SWEEP_BATCH", str(SWEEP_BATCH))

_READ = """
-- Per tag only its generation key; per key its value key. Returns the values,
-- the generations of tags with a miss (or all), and the positions of hits whose
-- TTL is due for a refresh (less than 90% left), refreshed by _REFRESH: rarely,
-- so the common read sends no per-tag structures at all.
local epoch = K()
local ttl = tonumber(A()); local all_gens = flag(); local ntags = tonumber(A())
local gens, vals, due = {}, {}, {}
for i = 1, ntags do
  local g = K(); local n = tonumber(A())
  local missed = false
  for j = 1, n do
    local k = K()
    local v = redis.call('GET', k)
    vals[#vals + 1] = v
    if not v then
      missed = true
    elseif ttl > 0 then
      local left = redis.call('PTTL', k)
      if left > 0 and left < ttl * 0.9 then due[#due + 1] = #vals end
    end
  end
  gens[#gens + 1] = (missed or all_gens) and (redis.call('GET', g) or '') or false
end
return {redis.call('GET', epoch) or '', gens, vals, due}
"""

_REFRESH = """
-- Only the exact bytes the caller verified (their sha1): a copy replaced since
-- the read, by a client without our key say, never has its TTL extended.
local top = K(); local ttl = tonumber(A()); local ntags = tonumber(A())
for i = 1, ntags do
  local t = tag_block(); local n = tonumber(A())
  local touched = false
  for j = 1, n do
    local k = K(); local sha = A()
    local v = redis.call('GET', k)
    -- pinned and pending values have no TTL
    if v and redis.sha1hex(v) == sha and redis.call('PTTL', k) > 0 then
      redis.call('PEXPIRE', k, ttl)
      touched = true
    end
  end
  -- together with its values: a registry never expires before them
  if touched and redis.call('PTTL', t.r) > 0 then
    redis.call('PEXPIRE', t.r, ttl)
    set_level1(t, now_ms() + ttl)
  end
end
return 1
"""

_WRITE = """
local top, epoch, queue, writers = K(), K(), K(), K()
local ttl = tonumber(A()); local fence = flag(); local pending = flag()
local entry, writer, candidate = A(), A(), A(); local ntags = tonumber(A())
redis.call('SET', epoch, candidate, 'NX')
local out = {}
for i = 1, ntags do
  local t = tag_block(); local expected = A(); local n = tonumber(A())
  local gen = redis.call('GET', t.g) or ''
  local ok = (not fence) or gen == expected
  local pinned = redis.call('EXISTS', t.p) == 1
  local wrote = 0
  for j = 1, n do
    local k = K(); local old = A(); local data = A()
    if ok then
      local go = true
      if old == '-' then go = redis.call('EXISTS', k) == 0
      elseif old ~= '*' then
        local cur = redis.call('GET', k)
        go = (cur ~= false) and redis.sha1hex(cur) == old
      end
      if go then
        redis.call('SET', k, data)
        redis.call('ZADD', t.r, 0, k)
        if pending then redis.call('ZADD', t.q, 0, k)
        elseif ttl > 0 and not pinned then redis.call('PEXPIRE', k, ttl) end
        wrote = wrote + 1
      end
    end
  end
  if wrote > 0 then settle(t, ttl, top) end
  out[#out + 1] = gen
  out[#out + 1] = ok and 1 or 0
end
if pending and entry ~= '' then
  redis.call('RPUSH', queue, entry)
  redis.call('SADD', writers, writer)
end
return {redis.call('GET', epoch), out}
"""

_INVALIDATE = """
local top = K()
local gen_ttl = tonumber(A()); local keep = flag(); local ntags = tonumber(A())
local removed = 0
local function drop(t, m)
  if keep and redis.call('ZSCORE', t.q, m) then return end
  removed = removed + redis.call('DEL', m)
  redis.call('ZREM', t.r, m)
  redis.call('ZREM', t.q, m)
end
for i = 1, ntags do
  local t = tag_block(); local newgen = A(); local whole = flag()
  local nexact = tonumber(A()); local nranges = tonumber(A())
  for j = 1, nexact do drop(t, K()) end
  for j = 1, nranges do
    local lo, hi = A(), A()
    for _, m in ipairs(redis.call('ZRANGEBYLEX', t.r, lo, hi)) do drop(t, m) end
  end
  if whole then
    for _, m in ipairs(redis.call('ZRANGE', t.r, 0, -1)) do drop(t, m) end
  end
  redis.call('SET', t.g, newgen, 'PX', gen_ttl)
  if redis.call('EXISTS', t.r) == 0 then
    redis.call('DEL', t.s)
    if t.c1 ~= '' then redis.call('ZREM', t.l, t.c1) end
  end
end
return removed
"""

_ACK = """
local top, epoch, queue = K(), K(), K()
local ttl = tonumber(A()); local entry = A(); local expected_epoch = A()
local ntags = tonumber(A())
local same_epoch = (redis.call('GET', epoch) or '') == expected_epoch
local compensate = {}
for i = 1, ntags do
  local t = tag_block(); local expected = A(); local n = tonumber(A())
  local gen = redis.call('GET', t.g) or ''
  local pinned = redis.call('EXISTS', t.p) == 1
  for j = 1, n do
    local k = K(); local sha = A()
    local v = redis.call('GET', k)
    if not v then
      -- gone: deleted after we captured the generation, so the cold copy we
      -- just wrote resurrects a deleted record (unless Redis lost its data)
      if same_epoch and gen ~= expected then compensate[#compensate + 1] = k end
      redis.call('ZREM', t.q, k)
      redis.call('ZREM', t.r, k)
    elseif redis.sha1hex(v) == sha then
      redis.call('ZREM', t.q, k)
      if ttl > 0 and not pinned then redis.call('PEXPIRE', k, ttl) end
    end
    -- else: a newer write of the key is pending; it stays pending
  end
  if redis.call('EXISTS', t.r) == 1 then settle(t, ttl, top) end
end
if entry ~= '' then redis.call('LREM', queue, 1, entry) end
return compensate
"""

_LIST = """
local z = KEYS[1]; local cursor = ARGV[1]; local hi = ARGV[2]; local n = tonumber(ARGV[3])
local out = {}
while true do
  local chunk = redis.call('ZRANGEBYLEX', z, cursor, hi, 'LIMIT', 0, 64)
  if #chunk == 0 then break end
  local jumped = false
  for _, m in ipairs(chunk) do
    local rest = string.sub(m, n + 1)
    local slash = string.find(rest, '/', 1, true)
    if slash then
      -- a directory child: record it once and skip everything below it
      out[#out + 1] = string.sub(rest, 1, slash - 1)
      cursor = '[' .. string.sub(m, 1, n + slash) .. '\\255'
      jumped = true
      break
    end
    if rest ~= '' then out[#out + 1] = rest end
    cursor = '(' .. m
  end
  if not jumped and #chunk < 64 then break end
end
return out
"""

_LIST_LEVEL1 = """
local lo = ARGV[1]
if lo == 'now' then
  local t = redis.call('TIME')
  lo = '(' .. tostring(tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
end
return redis.call('ZRANGEBYSCORE', KEYS[1], lo, '+inf')
"""

_PIN = """
local top = K(); local t = tag_block(); local ttl = tonumber(A()); local pin = flag()
if pin then
  redis.call('SET', t.p, '1')
  for _, m in ipairs(redis.call('ZRANGE', t.r, 0, -1)) do redis.call('PERSIST', m) end
else
  redis.call('DEL', t.p)
  if ttl > 0 then
    for _, m in ipairs(redis.call('ZRANGE', t.r, 0, -1)) do
      if not redis.call('ZSCORE', t.q, m) then redis.call('PEXPIRE', m, ttl) end
    end
  end
end
if redis.call('EXISTS', t.r) == 1 then settle(t, ttl, top) end
return 1
"""

_LEASE = """
local cur = redis.call('GET', KEYS[1])
if ARGV[3] == 'take' then
  if not cur then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]); return 1 end
  if cur == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]); return 1 end
  return 0
end
if cur == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""

_LOCK = """
-- KEYS: readers (ZSET token -> expiry ms), writer (token, PX), intent (PX)
-- ARGV: op (shared | exclusive | release), token, lease ms
local readers, writer, intent = KEYS[1], KEYS[2], KEYS[3]
local op, token, lease = ARGV[1], ARGV[2], tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', readers, '-inf', now)  -- holders that died
if op == 'release' then
  redis.call('ZREM', readers, token)
  if redis.call('GET', writer) == token then redis.call('DEL', writer) end
  if redis.call('GET', intent) == token then redis.call('DEL', intent) end
  return 1
end
local w = redis.call('GET', writer)
if op == 'shared' then
  local i = redis.call('GET', intent)
  if w or (i and i ~= token) then return 0 end
  redis.call('ZADD', readers, now + lease, token)
  redis.call('PEXPIRE', readers, lease)
  return 1
end
if w or redis.call('ZCARD', readers) > 0 then
  redis.call('SET', intent, token, 'PX', 1000)  -- new readers wait: no writer starvation
  return 0
end
redis.call('SET', writer, token, 'PX', lease)
redis.call('DEL', intent)
return 1
"""

_FORGET_WRITER = """
if redis.call('LLEN', KEYS[2]) == 0 and redis.call('EXISTS', KEYS[3]) == 0 then
  redis.call('SREM', KEYS[1], ARGV[1])
  return 1
end
return 0
"""


# -- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fetched:
    """What a fenced read saw: values, and the generation of each tag at that instant.

    ``values`` holds only verified records (see ``open_values``); a copy that
    failed is ``None`` there and in ``damaged``, with the sha1 of its bytes, so a
    repair can replace exactly those bytes (``put(old=...)``). ``digests``
    (with ``fetch(digests=True)``): the sha1 of the bytes Redis holds for each
    value, what ``ack`` compares.
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
    """One write-behind queue entry: pushed by the write script, in call order."""

    writer: str
    entry: bytes


class _Call:
    """Accumulates the key names and arguments of one script call, tag block by tag block.

    They travel as two msgpack arrays (raw strings: Redis's cmsgpack predates
    the bin type), unpacked by ``_PREAMBLE``. Names are still built only by
    ``RedisKeys``; the scripts never compose one. The scripts therefore touch
    keys they do not declare, which standalone Redis allows (see module doc).
    """

    def __init__(self, rk: RedisKeys, head_keys: Sequence[str], head_args: Sequence[Any]) -> None:
        self.rk = rk
        self.keys: list[str] = list(head_keys)
        self.args: list[Any] = list(head_args)

    def tag(self, tag: Tag) -> None:
        keys, args = self.rk.block(tag)
        self.keys += keys
        self.args += args

    def frames(self) -> list[bytes]:
        return [
            msgpack.packb(self.keys, use_bin_type=False),
            msgpack.packb(self.args, use_bin_type=False),
        ]


def _group(rk: RedisKeys, keys: Iterable[Key]) -> dict[Tag, list[int]]:
    """Positions of ``keys`` grouped by tag, tags in first-seen order."""
    groups: dict[Tag, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(rk.tag_of(key), []).append(i)
    return groups


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _texts(reply: Any) -> list[str]:
    """A Redis array reply as text (redis-py types replies loosely)."""
    return [_text(m) for m in reply]


def _raw(reply: Any) -> list[bytes]:
    return [m if isinstance(m, bytes) else str(m).encode() for m in reply]


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


def open_entries(auth: HotAuth | None, writer: str, raw: Iterable[bytes]) -> Iterator[list[Key]]:
    """The keys named by ``writer``'s queue entries that verify; others are skipped."""
    for stored in raw:
        entry = stored if auth is None else auth.open_entry(writer, stored)
        if entry is None:
            continue
        try:
            yield decode_entry(entry)[1]
        except InvalidIdError:
            continue


def connect(target: str | redis.Redis | redis.asyncio.Redis, *, timeout: timedelta) -> redis.Redis:
    """A synchronous client for a URL (``redis://``, ``rediss://``, ``unix://``) or a client.

    URLs get short timeouts and a single retry: a hot tier must fail fast and
    fall back to the cold tier, not retry for seconds (redis-py's default
    retries ten times). A ready sync client is used as given. An asyncio
    client is mirrored by a sync client with the same connection settings,
    because the engine is synchronous (it runs in worker threads).
    """
    seconds = timeout.total_seconds()
    if isinstance(target, redis.Redis):
        return target
    if isinstance(target, redis.asyncio.Redis):
        pool = target.connection_pool
        wanted = ("host", "port", "db", "username", "password", "path", "client_name")
        kwargs = {k: v for k, v in pool.connection_kwargs.items() if k in wanted}
        ssl_kwargs = {
            k: v
            for k, v in pool.connection_kwargs.items()
            if k.startswith("ssl_") and v is not None
        }
        tls = issubclass(pool.connection_class, redis.asyncio.connection.SSLConnection)
        if "path" in kwargs:
            return redis.Redis(unix_socket_path=kwargs.pop("path"), **kwargs)
        return redis.Redis(
            **kwargs,
            ssl=tls,
            **(ssl_kwargs if tls else {}),
            socket_timeout=seconds,
            socket_connect_timeout=seconds,
            retry=Retry(NoBackoff(), 1),
        )
    if isinstance(target, str):
        try:
            return redis.Redis.from_url(
                target,
                socket_timeout=seconds,
                socket_connect_timeout=seconds,
                retry=Retry(NoBackoff(), 1),
            )
        except ValueError as exc:
            raise ConfigurationError(f"invalid Redis URL: {exc}") from exc
    raise ConfigurationError(
        f"redis must be a URL or a redis.Redis client, not {type(target).__name__}"
    )


def describe_client(client: redis.Redis) -> str:
    """``redis://host:port/db`` (or ``rediss://``), never the password."""
    kwargs = client.connection_pool.connection_kwargs
    if "path" in kwargs:
        return f"unix://{kwargs['path']}?db={kwargs.get('db', 0)}"
    scheme = (
        "rediss"
        if issubclass(client.connection_pool.connection_class, redis.SSLConnection)
        else "redis"
    )
    user = f"{kwargs['username']}@" if kwargs.get("username") else ""
    where = f"{kwargs.get('host', '?')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"
    return f"{scheme}://{user}{where}"


class Invalidation(NamedTuple):
    """``group_invalidations``'s answer."""

    exact: dict[Tag, list[Key]]
    ranges: dict[Tag, list[tuple[bytes, bytes]]]
    whole: set[Tag]
    tags: list[Tag]


def group_invalidations(
    rkeys: RedisKeys, keys: Sequence[Key], prefixes: Sequence[Key], tags: Iterable[Tag]
) -> Invalidation:
    """What an invalidation touches, per hash tag: exact keys, registry ranges, all tags.

    A two-component prefix is a whole tag (every key of a thread, a shard, a
    run); a deeper one is a lexicographic range of the tag's registry, plus the
    prefix itself, which may be a value. Shared by both Redis adapters.
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
        lo = ("[" + base).encode()
        ranges.setdefault(tag, []).append((lo, lo + b"\xff"))
    return Invalidation(
        exact, ranges, whole, list(dict.fromkeys([*exact, *ranges, *sorted(whole)]))
    )


Names = list[str]
Values = list[bytes | None]


class StorePortOverPrimitives(Store):
    """The ``Store`` port in terms of a hot tier's fenced primitives.

    ``RedisStore`` and ``RedisClusterStore`` differ in how they run a script
    (one server, or one per slot); the port on top of ``fetch``, ``put``,
    ``invalidate`` and the child indexes is the same, and lives here once.
    """

    @abc.abstractmethod
    def fetch(
        self,
        keys: Sequence[Key],
        *,
        refresh: bool = True,
        all_gens: bool = False,
        digests: bool = False,
    ) -> Fetched: ...

    @abc.abstractmethod
    def put(
        self,
        items: Sequence[tuple[Key, bytes]],
        *,
        old: Sequence[str] | str = "*",
        fence: Mapping[Tag, str] | None = None,
        pending: PendingEntry | None = None,
    ) -> Written: ...

    @abc.abstractmethod
    def invalidate(
        self,
        *,
        keys: Sequence[Key] = (),
        prefixes: Sequence[Key] = (),
        tags: Iterable[Tag] = (),
        keep_pending: bool = False,
    ) -> int: ...

    @abc.abstractmethod
    def children(self, prefix: Key, *, pending_only: bool = False) -> Names: ...

    @abc.abstractmethod
    def children_many(self, prefixes: Sequence[Key], *, pending_only: bool = False) -> Listings: ...

    def read(self, key: Key) -> bytes | None:
        return self.fetch([key]).values[0]

    def read_many(self, keys: Sequence[Key]) -> Values:
        return self.fetch(keys).values if keys else []

    def write_many(self, items: Sequence[tuple[Key, bytes]]) -> None:
        if items:
            self.put(items, old="*")

    def create_many(self, items: Sequence[tuple[Key, bytes]]) -> None:
        if items:
            self.put(items, old="-")

    def delete_many(self, keys: Sequence[Key]) -> None:
        if keys:
            self.invalidate(keys=keys)

    def link(self, items: Sequence[tuple[Key, Key]]) -> None:
        """Copy (Redis cannot share a value between keys); missing sources are skipped."""
        if not items:
            return
        values = self.read_many([src for src, _ in items])
        self.write_many(
            [(dst, v) for (_, dst), v in zip(items, values, strict=True) if v is not None]
        )

    def recover(self, key: Key, good: Callable[[bytes], bool]) -> bool:
        """One copy only: nothing to recover from."""
        return False

    def list_many(self, prefixes: Sequence[Key]) -> Listings:
        return self.children_many(prefixes)

    def list(self, prefix: Key) -> Names:
        return self.children(prefix)


class RedisStore(StorePortOverPrimitives):
    """A ``Store`` on Redis, and the fenced operations ``TieredStore`` builds on.

    Used alone (``ttl=None``) it is a complete, non-durable store (values live
    as long as Redis keeps its data). With a ``ttl`` it is a cache: values
    expire unless pinned or pending, and only ``TieredStore`` should use it
    that way, because a listing may then omit what expired. ``auth`` seals
    and verifies every value (module docstring); ``TieredStore`` installs its own.
    """

    def __init__(
        self,
        redis_target: str | redis.Redis | redis.asyncio.Redis,
        *,
        key_prefix: str = "lgp:",
        ttl: timedelta | None = None,
        timeout: timedelta = timedelta(seconds=2),
        auth: HotAuth | None = None,
    ) -> None:
        self.keys = RedisKeys(key_prefix)
        if ttl is not None and ttl <= timedelta(0):
            raise ConfigurationError(f"ttl must be positive, not {ttl}")
        self.ttl = ttl
        self.auth = auth
        self._ttl_ms = _ms(ttl)
        self._gen_ttl_ms = max(self._ttl_ms, _GEN_TTL_MIN_MS)
        self._owns_client = not isinstance(redis_target, redis.Redis)
        self.client = connect(redis_target, timeout=timeout)
        self._scripts: dict[str, Script] = {
            name: self.client.register_script(body)
            for name, body in (
                ("read", _PREAMBLE + _READ),
                ("refresh", _PREAMBLE + _REFRESH),
                ("write", _PREAMBLE + _WRITE),
                ("invalidate", _PREAMBLE + _INVALIDATE),
                ("ack", _PREAMBLE + _ACK),
                ("pin", _PREAMBLE + _PIN),
                ("list", _LIST),
                ("level1", _LIST_LEVEL1),
                ("lease", _LEASE),
                ("forget", _FORGET_WRITER),
                ("lock", _LOCK),
            )
        }

    def _run(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        return self._scripts[name](keys=keys, args=args, client=self.client)

    def _run_many(self, calls: Sequence[tuple[str, list[str], list[Any]]]) -> list[Any]:
        """Several script calls in one pipeline (one round trip).

        Plain ``EVALSHA`` in a pipeline: redis-py's pipeline scripts would first
        ask ``SCRIPT EXISTS`` (a second round trip). After a server restart the
        scripts are gone, so on ``NOSCRIPT`` they are loaded and the batch re-run.
        """
        if not calls:
            return []
        for attempt in (1, 2):
            pipe = self.client.pipeline(transaction=False)
            for name, keys, args in calls:
                pipe.evalsha(self._scripts[name].sha, len(keys), *keys, *args)
            results = pipe.execute(raise_on_error=False)
            if attempt == 1 and any(isinstance(r, NoScriptError) for r in results):
                for name in {name for name, _, _ in calls}:
                    self.client.script_load(self._scripts[name].script)
                continue
            for result in results:
                if isinstance(result, Exception):
                    raise result
            return list(results)
        raise AssertionError("unreachable")

    def describe(self) -> str:
        return f"{describe_client(self.client)} prefix={self.keys.prefix!r}"

    def ping(self) -> None:
        """Raise ``redis.RedisError`` unless the server answers."""
        self.client.ping()

    # -- fenced primitives (TieredStore builds on these) ---------------------------------------

    def fetch(
        self,
        keys: Sequence[Key],
        *,
        refresh: bool = True,
        all_gens: bool = False,
        digests: bool = False,
    ) -> Fetched:
        """Verified values of ``keys`` and their tags' generations, in one round trip.

        ``refresh`` extends the TTL of verified hits that have one (pinned and
        pending values have none) once less than 90% of it is left; that costs a
        second round trip, at most once per key per tenth of the TTL, and never
        touches a copy that failed verification. ``Fetched.gens`` has the tags
        with a miss (what a backfill needs), or every tag with ``all_gens``.
        """
        groups = _group(self.keys, keys)
        call = _Call(
            self.keys,
            [self.keys.epoch()],
            [self._ttl_ms if refresh else 0, int(all_gens), len(groups)],
        )
        order: list[int] = []
        for tag, positions in groups.items():
            call.keys.append(self.keys.gen(tag))
            call.args.append(len(positions))
            call.keys += [self.keys.value(keys[i]) for i in positions]
            order += positions
        epoch, gens, vals, due = self._run("read", [], call.frames())
        raw: list[bytes | None] = [None] * len(keys)
        for pos, val in zip(order, vals, strict=True):
            raw[pos] = val
        values, damaged, sums = open_values(self.auth, keys, raw, digests=digests)
        fresh = [p for p in (order[int(n) - 1] for n in due) if values[p] is not None]
        if fresh:
            self._refresh([(keys[p], sha1_hex(raw[p] or b"")) for p in fresh])
        return Fetched(
            _text(epoch),
            {t: _text(g) for t, g in zip(groups, gens, strict=True) if g is not None},
            values,
            damaged,
            sums,
        )

    def _refresh(self, seen: Sequence[tuple[Key, str]]) -> None:
        """Extend the TTL of values, and of their registries, together (refresh-on-read);
        each only while it still holds the bytes whose sha1 is given (the ones verified)."""
        groups = _group(self.keys, [k for k, _ in seen])
        call = _Call(self.keys, [self.keys.top()], [self._ttl_ms, len(groups)])
        for tag, positions in groups.items():
            call.tag(tag)
            call.args.append(len(positions))
            for i in positions:
                call.keys.append(self.keys.value(seen[i][0]))
                call.args.append(seen[i][1])
        self._run("refresh", [], call.frames())

    def gens(self, tags: Iterable[Tag]) -> dict[Tag, str]:
        """Current generation of each tag (one pipelined round trip)."""
        tags = list(tags)
        pipe = self.client.pipeline(transaction=False)
        for tag in tags:
            pipe.get(self.keys.gen(tag))
        return {
            t: _text(g) if g is not None else "" for t, g in zip(tags, pipe.execute(), strict=True)
        }

    def put(
        self,
        items: Sequence[tuple[Key, bytes]],
        *,
        old: Sequence[str] | str = "*",
        fence: Mapping[Tag, str] | None = None,
        pending: PendingEntry | None = None,
    ) -> Written:
        """Write ``items`` in one script, optionally fenced and/or as pending.

        ``old`` per item: ``"*"`` overwrite, ``"-"`` only if absent (create),
        or the sha1 hex of the bytes that must still be there (repairing a
        corrupt entry without clobbering a newer write). ``fence``: a tag whose
        generation differs from the given one (a delete happened since it was
        observed) is skipped entirely and reported in ``Written.fenced``.
        ``pending``: the values get no TTL and join the tag's pending set, and
        the entry (sealed by the caller) is appended to the writer's queue,
        atomically with the write. Values are sealed here (``auth``).
        """
        olds = [old] * len(items) if isinstance(old, str) else list(old)
        stored = seal_values(self.auth, items)
        groups = _group(self.keys, [k for k, _ in items])
        writer = pending.writer if pending else "-"
        call = _Call(
            self.keys,
            [self.keys.top(), self.keys.epoch(), self.keys.queue(writer), self.keys.writers()],
            [
                self._ttl_ms,
                int(fence is not None),
                int(pending is not None),
                pending.entry if pending else b"",
                writer,
                new_token(),
                len(groups),
            ],
        )
        for tag, positions in groups.items():
            call.tag(tag)
            call.args += [fence.get(tag, "") if fence is not None else "", len(positions)]
            for i in positions:
                call.keys.append(self.keys.value(items[i][0]))
                call.args += [olds[i], stored[i]]
        epoch, out = self._run("write", [], call.frames())
        gens: dict[Tag, str] = {}
        fenced: set[Tag] = set()
        for n, tag in enumerate(groups):
            gens[tag] = _text(out[2 * n])
            if not int(out[2 * n + 1]):
                fenced.add(tag)
        sums = tuple(sha1_hex(v) for v in stored) if pending is not None else ()
        return Written(_text(epoch), gens, frozenset(fenced), sums)

    def invalidate(
        self,
        *,
        keys: Sequence[Key] = (),
        prefixes: Sequence[Key] = (),
        tags: Iterable[Tag] = (),
        keep_pending: bool = False,
    ) -> int:
        """Delete values and replace their tags' generation tokens, in one script.

        A new token makes every fenced write or backfill that observed the old
        one a no-op, so a reader that fetched a record from the cold tier just
        before a delete cannot put it back afterwards. ``keep_pending`` spares
        values not yet in the cold tier (used when replaying invalidations
        after an outage: acknowledged write-behind records are never dropped).
        Returns the number of values deleted.
        """
        exact, ranges, whole, all_tags = group_invalidations(self.keys, keys, prefixes, tags)
        if not all_tags:
            return 0
        call = _Call(
            self.keys, [self.keys.top()], [self._gen_ttl_ms, int(keep_pending), len(all_tags)]
        )
        for tag in all_tags:
            call.tag(tag)
            tag_exact = exact.get(tag, [])
            tag_ranges = ranges.get(tag, [])
            call.args += [new_token(), int(tag in whole), len(tag_exact), len(tag_ranges)]
            call.keys += [self.keys.value(k) for k in tag_exact]
            for lo, hi in tag_ranges:
                call.args += [lo, hi]
        return int(self._run("invalidate", [], call.frames()))

    def ack(
        self,
        writer: str,
        entry: bytes,
        flushed: Sequence[tuple[Key, str]],
        gens: Mapping[Tag, str],
        epoch: str,
    ) -> list[Key]:
        """After a cold write of ``flushed``: end their pending state and pop ``entry``.

        ``flushed`` pairs each key with the sha1 of the bytes Redis held for it
        (``Written.digests``, ``Fetched.digests``): a value replaced since stays
        pending. ``entry`` is the queue entry as stored. Returns keys that were
        deleted while the flush was in flight (their tag's generation changed
        and the value is gone): the caller deletes them from the cold tier
        again, so a delete never loses to a flush.
        """
        groups = _group(self.keys, [k for k, _ in flushed])
        call = _Call(
            self.keys,
            [self.keys.top(), self.keys.epoch(), self.keys.queue(writer)],
            [self._ttl_ms, entry, epoch, len(groups)],
        )
        for tag, positions in groups.items():
            call.tag(tag)
            call.args += [gens.get(tag, ""), len(positions)]
            for i in positions:
                key, sha = flushed[i]
                call.keys.append(self.keys.value(key))
                call.args.append(sha)
        return [self.keys.parse(k) for k in self._run("ack", [], call.frames())]

    def pin(self, tag: Tag, pinned: bool) -> None:
        """Pin (no TTL on anything of the tag) or unpin (TTLs back, except pending)."""
        call = _Call(self.keys, [self.keys.top()], [])
        call.tag(tag)
        call.args += [self._ttl_ms, int(pinned)]
        self._run("pin", [], call.frames())

    def pinned(self, tag: Tag) -> bool:
        return bool(self.client.exists(self.keys.pin(tag)))

    def _listing(self, prefix: Key, pending_only: bool) -> tuple[str, list[str], list[Any]]:
        """The script call that lists ``prefix`` from the indexes."""
        if len(prefix) <= 1:
            if prefix:
                self.keys.check(prefix)
            index = self.keys.level1(prefix[0]) if prefix else self.keys.top()
            # +inf means pinned or pending (or no TTL at all): exactly what a
            # write-behind listing must add to the cold tier's names
            since = "+inf" if pending_only and prefix else ("now" if self._ttl_ms else "-inf")
            return "level1", [index], [since if prefix else "-inf"]
        tag, base = self.keys.subtree(prefix)
        index = self.keys.pending(tag) if pending_only else self.keys.registry(tag)
        lo = ("[" + base).encode()
        return "list", [index], [lo, lo + b"\xff", len(base.encode())]

    def children(self, prefix: Key, *, pending_only: bool = False) -> list[str]:
        """Sorted child names under ``prefix`` from the indexes (one round trip)."""
        return sorted(set(_texts(self._run(*self._listing(prefix, pending_only)))))

    def children_many(self, prefixes: Sequence[Key], *, pending_only: bool = False) -> Listings:
        """``children`` of several prefixes in one pipelined round trip."""
        calls = [self._listing(p, pending_only) for p in prefixes]
        return [sorted(set(_texts(names))) for names in self._run_many(calls)]

    def pending_flags(self, keys: Sequence[Key]) -> list[bool]:
        """Whether each key holds a write-behind value not yet in the cold tier."""
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.zscore(self.keys.pending(self.keys.tag_of(key)), self.keys.value(key))
        return [score is not None for score in pipe.execute()]

    # -- write-behind queues -----------------------------------------------------------------

    def writers(self) -> list[str]:
        return sorted(_texts(self.client.smembers(self.keys.writers())))

    def queue_head(self, writer: str, count: int) -> list[bytes]:
        return _raw(self.client.lrange(self.keys.queue(writer), 0, count - 1))

    def queue_length(self, writer: str) -> int:
        return int(self.client.llen(self.keys.queue(writer)))

    def take_lease(self, writer: str, holder: str, lease: timedelta) -> bool:
        """Acquire or extend the flusher lease of ``writer``'s queue for ``holder``."""
        return bool(self._run("lease", [self.keys.lease(writer)], [holder, _ms(lease), "take"]))

    def release_lease(self, writer: str, holder: str) -> None:
        self._run("lease", [self.keys.lease(writer)], [holder, 0, "release"])

    def forget_writer(self, writer: str) -> bool:
        """Drop ``writer`` from the writer set if its queue is empty and unleased."""
        keys = [self.keys.writers(), self.keys.queue(writer), self.keys.lease(writer)]
        return bool(self._run("forget", keys, [writer]))

    def pending_keys(self, prefix: Key) -> Iterator[Key]:
        """Keys under ``prefix`` still pending in any writer's queue (admin path).

        Only entries that verify count (``auth``); the values they name are
        still to be read, and verified, by the caller.
        """
        seen: set[Key] = set()
        for writer in self.writers():
            raw = _raw(self.client.lrange(self.keys.queue(writer), 0, -1))
            for entry_keys in open_entries(self.auth, writer, raw):
                seen.update(k for k in entry_keys if k[: len(prefix)] == prefix)
        keys = sorted(seen)
        yield from (k for k, flag in zip(keys, self.pending_flags(keys), strict=True) if flag)

    def pending_under(self, prefixes: Sequence[Key]) -> list[list[Key]]:
        """Keys of the pending (unflushed) values below each prefix, from the pending sets.

        Names only, which anyone with access to our keys could add: the caller
        reads and verifies the values before it lists a name. Below a tag this
        is one range of its pending set, all prefixes in one round trip; above
        the tags (every thread), the level-1 index first names the tags that
        are pinned or pending (a second round trip).
        """
        tags_of: dict[int, list[Tag]] = {}
        short = [i for i, p in enumerate(prefixes) if len(p) < 2]
        if short:
            pipe = self.client.pipeline(transaction=False)
            firsts: list[tuple[int, str]] = []
            for i in short:
                prefix = self.keys.check(prefixes[i]) if prefixes[i] else ()
                if prefix:
                    firsts.append((i, prefix[0]))
                else:
                    firsts += [(i, c0) for c0 in _texts(self.client.zrange(self.keys.top(), 0, -1))]
            for _, c0 in firsts:
                pipe.zrangebyscore(self.keys.level1(c0), "+inf", "+inf")
            for (i, c0), names in zip(firsts, pipe.execute(), strict=True):
                tags_of.setdefault(i, []).extend(Tag(c0, c1) for c1 in _texts(names))
        pipe = self.client.pipeline(transaction=False)
        owners: list[int] = []
        for i, prefix in enumerate(prefixes):
            if len(prefix) >= 2:
                tag, base = self.keys.subtree(prefix)
                lo = ("[" + base).encode()
                pipe.zrangebylex(self.keys.pending(tag), lo, lo + b"\xff")
                owners.append(i)
            for tag in tags_of.get(i, []):
                pipe.zrange(self.keys.pending(tag), 0, -1)
                owners.append(i)
        members: list[list[Any]] = [[] for _ in prefixes]
        for i, reply in zip(owners, pipe.execute() if owners else [], strict=True):
            members[i] += reply
        return [parse_members(self.keys, m) for m in members]

    # -- the Store port ------------------------------------------------------------------------

    def exists_many(self, keys: Sequence[Key]) -> list[bool]:
        if not keys:
            return []
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.exists(self.keys.value(key))
        return [bool(n) for n in pipe.execute()]

    def delete_tree(self, prefix: Key) -> None:
        if len(prefix) >= 2:
            self.invalidate(prefixes=[prefix])
            return
        # Above the tags (the whole store, or all threads): an admin path that
        # enumerates tags from the indexes, a few hundred per script call.
        for tags in _chunks(self.all_tags(prefix), 256):
            self.invalidate(tags=tags)
        if len(prefix) == 1:
            self.client.delete(self.keys.level1(prefix[0]))
            self.client.zrem(self.keys.top(), prefix[0])
        else:
            self.client.delete(self.keys.top())

    def all_tags(self, prefix: Key = ()) -> list[Tag]:
        """Every tag under ``prefix`` (length 0 or 1), from the indexes; admin path."""
        firsts = [prefix[0]] if prefix else _texts(self.client.zrange(self.keys.top(), 0, -1))
        tags: list[Tag] = []
        for c0 in firsts:
            tags.append(Tag(c0))
            tags += [Tag(c0, c1) for c1 in _texts(self.client.zrange(self.keys.level1(c0), 0, -1))]
        return tags

    def walk(self, prefix: Key) -> Iterator[tuple[Key, int, float]]:
        """Every value under ``prefix`` with its size; admin path, from the registries.

        Redis keeps no modification time, so ``mtime`` is "now": age-based
        policies then treat every hot value as fresh, which errs on keeping.
        """
        if len(prefix) >= 2:
            tag, base = self.keys.subtree(prefix)
            lo = ("[" + base).encode()
            members = _raw(self.client.zrangebylex(self.keys.registry(tag), lo, lo + b"\xff"))
            exact = self.keys.value(prefix).encode()
            if self.client.exists(exact):
                members.append(exact)
        else:
            members = []
            for tag in self.all_tags(prefix):
                members += _raw(self.client.zrange(self.keys.registry(tag), 0, -1))
        now = time.time()
        for chunk in _chunks(sorted(set(members)), 512):
            pipe = self.client.pipeline(transaction=False)
            for m in chunk:
                pipe.strlen(m)
            for m, size in zip(chunk, pipe.execute(), strict=True):
                if size:
                    yield self.keys.parse(m), int(size), now

    @contextlib.contextmanager
    def lock(self, key: Key, exclusive: bool = True) -> Iterator[None]:
        """Shared or exclusive across processes and hosts: a Redis lease lock.

        Leases (``LOCK_LEASE``) free the lock if a holder dies; holders keep it
        for one put or one delete, milliseconds. A waiting exclusive holder
        stops new shared ones, so deletes are not starved by a stream of puts.
        """
        names = self.keys.lock(key)
        token = new_token()
        lease = _ms(LOCK_LEASE)
        op = "exclusive" if exclusive else "shared"
        pause = 0.001
        while not self._run("lock", names, [op, token, lease]):
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
        try:
            yield
        finally:
            self._run("lock", names, ["release", token, lease])

    @contextlib.contextmanager
    def maintenance_lock(self, exclusive: bool) -> Iterator[None]:
        """No cross-process lock: as a hot tier, the cold store's lock is the one used.

        A ``RedisStore`` used on its own has no garbage collector to exclude,
        because it is not meant to be the only copy of anything.
        """
        yield

    def close(self) -> None:
        """Close the connection pool, if this store created it."""
        if self._owns_client:
            self.client.close()

    # Last in the class: a method named ``list`` shadows the builtin in later annotations.


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def parse_members(rk: RedisKeys, members: Iterable[Any]) -> list[Key]:
    """Store keys of index members; a member that is not one of our names is skipped."""
    out: set[Key] = set()
    for member in members:
        try:
            out.add(rk.parse(member))
        except (InvalidIdError, UnicodeDecodeError):
            continue
    return sorted(out)


# -- write-behind queue entries ------------------------------------------------------------


def encode_entry(seq: int, create: bool, keys: Sequence[Key]) -> bytes:
    """A queue entry: which keys one Store call wrote, and whether it was a create.

    Values are not copied into the queue: a flusher reads the current value,
    so a key written twice is flushed with its latest bytes.
    """
    return records.pack([seq, "c" if create else "w", ["/".join(k) for k in keys]])


def decode_entry(raw: bytes) -> tuple[bool, list[Key]]:
    """Invert :func:`encode_entry`; ``InvalidIdError`` for anything else."""
    try:
        _seq, op, names = records.unpack(raw)
        return op == "c", [RedisKeys.check(tuple(name.split("/"))) for name in names]
    except InvalidIdError:
        raise
    except Exception as exc:  # msgpack raises many types; a shape mismatch others
        raise InvalidIdError(f"not a write-behind queue entry ({type(exc).__name__})") from None
