"""Authenticating the Redis hot tier: a keyed MAC on every value and queue entry in Redis.

Why: a Redis is shared. Any client that reaches it (another application,
another key prefix) reads and writes our keys unless an ACL stops it (see
``docs/tiers.md``, "Isolation"), and a record's digest (``records.py``) is
not keyed: anyone can frame a valid record. Without a MAC such a client made
a reader serve a record of its own, swapped two threads' copies, and queued
fake write-behind entries that a flusher wrote to disk.

What ``HotAuth`` authenticates:

* every **value** (a record) goes to Redis in an envelope whose MAC covers the
  key prefix, the full storage key tuple and the record: a copy moved to
  another key, thread or store fails, and so does anything made without the key;
* every **write-behind queue entry** likewise, bound to the prefix and to the
  writer that queued it.

The envelope (the body is the record or the entry, unchanged)::

    offset size  field
    0      4     magic b"LGPA"
    4      1     version (1)
    5      1     key-id length n (0 without encryption)
    6      n     key id: the encryption key the MAC key derives from
    6+n    32    MAC: keyed blake2b-256 of bytes 0..6+n, the binding and the body
    38+n   ...   body

Keys come from the cold store, the trust anchor, never from Redis:

* a random 32-byte **store secret**, created once (create-if-absent) at
  ``keys.hot_secret()`` (``meta/hot-secret``, a ``STORE_META`` record beside
  ``meta/store``: readable without a key, which the MAC keys below do not need);
* without encryption the MAC key is derived from that secret alone;
* with encryption, one MAC key per encryption key, derived from it (keyed
  blake2b, personalization ``lgp-hot-mac``: the AES key itself never keys
  anything else) over the store secret. Someone who reads the cold store but
  lacks the encryption key cannot forge, and two stores sharing an encryption
  key still cannot use each other's copies. Envelopes name their key id, so
  key rotation works as for records: new envelopes use the current key, older
  ones verify with the key they name.

What it does not do: hide anything (the bodies are the records, encrypted
only if the store is), or prove freshness (a client able to write our keys
could put back a copy it saw earlier). Indexes, generation tokens and leases
are not authenticated: tampering with them can cost misses or stall a
recovery, not make us serve or persist what we did not write. Keeping other
clients out of our keys is the ACL's job; the MAC makes a breach detectable
and harmless to what we serve.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from collections.abc import Mapping, Sequence

from langgraph_persist import keys, records
from langgraph_persist.crypto import Encryption
from langgraph_persist.errors import ConfigurationError, CorruptRecordError, StoreError
from langgraph_persist.keys import Key
from langgraph_persist.records import Kind
from langgraph_persist.store.base import Store

MAGIC = b"LGPA"
VERSION = 1
MAC_SIZE = 32
SECRET_SIZE = 32
_HEAD = struct.Struct("<4sBB")
_VALUE = b"lgp-hot-value"
_ENTRY = b"lgp-hot-queue"
_DERIVE = b"lgp-hot-mac"
"""blake2b personalizations (at most 16 bytes): one per use, so no MAC made for one
purpose verifies for another."""


class HotAuth:
    """MAC keys by id: ``current`` seals, every key opens (see the module docstring).

    ``scope`` is the Redis key prefix: the store's copies are bound to it.
    """

    def __init__(self, mac_keys: Mapping[str, bytes], current: str, scope: str) -> None:
        if current not in mac_keys:
            raise ConfigurationError(f"current MAC key id {current!r} is not among the keys")
        heads: dict[str, bytes] = {}
        for key_id, key in mac_keys.items():
            raw_id = key_id.encode()
            if len(raw_id) > 255 or not isinstance(key, bytes) or len(key) != MAC_SIZE:
                raise ConfigurationError(f"bad MAC key {key_id!r}: {MAC_SIZE} bytes, id <= 255")
            heads[key_id] = _HEAD.pack(MAGIC, VERSION, len(raw_id)) + raw_id
        # keyed once; each MAC starts from a copy (a keyed init costs a block of work)
        self._bases = {
            (key_id, person): hashlib.blake2b(key=key, digest_size=MAC_SIZE, person=person)
            for key_id, key in mac_keys.items()
            for person in (_VALUE, _ENTRY)
        }
        self._heads = heads
        self._ids = {key_id.encode(): key_id for key_id in mac_keys}
        self.current = current
        self.scope = scope

    @classmethod
    def derive(cls, secret: bytes, scope: str, encryption: Encryption | None = None) -> HotAuth:
        """MAC keys from the store secret, and from the encryption keys when there are some."""
        if len(secret) != SECRET_SIZE:
            raise ConfigurationError(f"the hot-tier store secret must be {SECRET_SIZE} bytes")
        if encryption is None:
            derived = hashlib.blake2b(b"", key=secret, digest_size=MAC_SIZE, person=_DERIVE)
            return cls({"": derived.digest()}, "", scope)
        mac_keys = {
            key_id: hashlib.blake2b(secret, key=key, digest_size=MAC_SIZE, person=_DERIVE).digest()
            for key_id, key in encryption.keys.items()
        }
        return cls(mac_keys, encryption.current, scope)

    @classmethod
    def for_store(cls, cold: Store, scope: str, encryption: Encryption | None = None) -> HotAuth:
        """The MAC of the hot tier in front of ``cold`` (reads, or creates, its secret)."""
        return cls.derive(store_secret(cold), scope, encryption)

    # -- values ----------------------------------------------------------------------------------

    def seal(self, key: Key, record: bytes) -> bytes:
        """What Redis holds for ``record`` at ``key``. Deterministic: the same
        record at the same key always gives the same bytes (fenced repairs and
        acks compare their sha1)."""
        return self._seal(_VALUE, _binding(self.scope, key), record)

    def open(self, key: Key, stored: bytes) -> bytes | None:
        """The record inside ``stored``, or ``None`` unless its MAC verifies for ``key``."""
        return self._open(_VALUE, _binding(self.scope, key), stored)

    # -- write-behind queue entries --------------------------------------------------------------

    def seal_entry(self, writer: str, entry: bytes) -> bytes:
        return self._seal(_ENTRY, _binding(self.scope, (writer,)), entry)

    def open_entry(self, writer: str, stored: bytes) -> bytes | None:
        """The entry inside ``stored``, or ``None`` unless ``writer``'s MAC verifies."""
        return self._open(_ENTRY, _binding(self.scope, (writer,)), stored)

    # -- the envelope ----------------------------------------------------------------------------

    def _mac(
        self, person: bytes, key_id: str, head: bytes, binding: bytes, body: bytes | memoryview
    ) -> bytes:
        h = self._bases[key_id, person].copy()
        h.update(head)
        h.update(struct.pack("<I", len(binding)))
        h.update(binding)
        h.update(body)
        return h.digest()

    def _seal(self, person: bytes, binding: bytes, body: bytes) -> bytes:
        head = self._heads[self.current]
        return head + self._mac(person, self.current, head, binding, body) + body

    def _open(self, person: bytes, binding: bytes, stored: bytes) -> bytes | None:
        if len(stored) < _HEAD.size or stored[:4] != MAGIC or stored[4] != VERSION:
            return None
        head_end = _HEAD.size + stored[5]
        end = head_end + MAC_SIZE
        key_id = self._ids.get(stored[_HEAD.size : head_end])
        if key_id is None or len(stored) < end:
            return None
        view = memoryview(stored)  # hash in place: the body is copied once, when returned
        expected = self._mac(person, key_id, stored[:head_end], binding, view[end:])
        return stored[end:] if hmac.compare_digest(view[head_end:end], expected) else None


def _binding(scope: str, parts: Sequence[str]) -> bytes:
    """What a MAC is bound to besides its body: the prefix and the key's components
    (or the writer), NUL-separated. Unambiguous, ``("a/b", "c")`` and ``("a", "b/c")``
    differ, because no part may hold a NUL (keys are safe names, ``RedisKeys.check``;
    anything else is refused here rather than bound ambiguously)."""
    joined = "\x00".join((scope, *parts))
    if joined.count("\x00") != len(parts):
        raise ValueError("a key component or prefix holds a NUL byte")
    return joined.encode()


def store_secret(cold: Store) -> bytes:
    """The cold store's hot-tier secret, created (create-if-absent) on first use.

    A plaintext ``STORE_META`` record, like ``meta/store``: in an encrypted store
    the MAC keys need the encryption key as well, so the secret's secrecy is not
    what protects them, and a plaintext record stays verifiable and is left
    alone by ``reencrypt``. A concurrent first start on a store whose
    ``create_many`` is not atomic (the files layout) may briefly leave two
    processes with different secrets: each then treats the other's copies in
    Redis as damaged and serves the cold tier, until it restarts; nothing wrong
    is ever served.
    """
    key = keys.hot_secret()
    location = "/".join(key)
    data = cold.read(key)
    if data is None:
        fresh = records.encode(Kind.STORE_META, {"hot_secret": os.urandom(SECRET_SIZE)})
        cold.create_many([(key, fresh)])  # a concurrent creator's secret wins: read it back
        data = cold.read(key)
        if data is None:
            raise StoreError(f"{cold.describe()} did not keep the hot-tier secret {location}")
    obj = records.decode(data, expect=Kind.STORE_META, location=location)
    secret = obj.get("hot_secret") if isinstance(obj, dict) else None
    if not isinstance(secret, bytes) or len(secret) != SECRET_SIZE:
        raise CorruptRecordError("not a hot-tier secret", location=location)
    return secret
