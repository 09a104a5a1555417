"""What a store says about itself: whether it is encrypted, which keys open it, its secret.

One record at ``meta/store`` (kind STORE_META, never sent to a hot tier),
readable without a key::

    {"encrypted": bool,
     "key_checks": {key id: hex check value},     # blake2b of the key, personalized
     "secret": sealed 32 random bytes | None}     # sealed with the store's key

Why it exists (the security issue's "encryption can be bypassed by accident"):

* a saver opened *without* the key on an encrypted store would otherwise
  write plaintext silently. ``open_meta`` refuses it (read-only opening stays
  possible: nothing is written);
* a saver opened with a *wrong* key (same id, other bytes) is refused at
  once, by the check value, instead of failing record by record;
* the *secret* is what names and content addresses are keyed with
  (``name_key``, ``hash_key``). It is random, sealed with the current key and
  re-sealed by ``reencrypt``, so it survives key rotation: deriving those keys
  from the current encryption key would change every thread's name at the
  first rotation.

Stores created before this record existed keep what they had: plaintext
names and the address key derived from the current encryption key
(``Encryption.hash_key``), recorded as ``secret: None``. An encrypted store
of that age is recognised by its first thread's record being sealed.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any

from langgraph_persist import keys, records
from langgraph_persist.crypto import Encryption
from langgraph_persist.errors import ConfigurationError, CorruptStoreError, RecordError
from langgraph_persist.records import Kind
from langgraph_persist.store.base import Store

META = keys.meta("store")
_AAD = b"meta/store/secret"


@dataclass(frozen=True)
class StoreKeys:
    """What the engine keys names and content addresses with (b"" when unkeyed)."""

    name_key: bytes = b""
    hash_key: bytes = b""
    encrypted: bool = False
    stable_addresses: bool = True
    """False for an encrypted store from before the secret: its address key was
    derived from whichever key was current, so old addresses cannot be re-checked."""


def key_check(key: bytes) -> str:
    """A check value: proves a key is the store's without revealing it."""
    return hashlib.blake2b(key, digest_size=8, person=b"lgp-key-check").hexdigest()


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return hashlib.blake2b(secret, digest_size=32, person=purpose).digest()


def read_meta(store: Store) -> dict[str, Any] | None:
    data = store.read(META)
    if data is None:
        return None
    meta: dict[str, Any] = records.decode(data, expect=Kind.STORE_META, location="/".join(META))
    return meta


def _write_meta(store: Store, meta: dict[str, Any]) -> None:
    store.write_many([(META, records.encode(Kind.STORE_META, meta))])


def _looks_encrypted(store: Store) -> bool:
    """A store written before ``meta/store`` existed: is its first thread's record sealed?"""
    names = store.list_desc(keys.threads_root(), limit=1)
    if not names:
        return False
    data = store.read(keys.thread_info(names[0]))
    return data is not None and len(data) > 6 and bool(data[6] & records.FLAG_ENCRYPTED)


def open_meta(store: Store, encryption: Encryption | None, *, read_only: bool) -> StoreKeys:
    """Check the saver's key against the store, create the record if needed (module doc).

    A store whose database is damaged cannot say: read-only openers (``verify``,
    the CLI's views) go on, so the damage can be reported; writers are refused.
    """
    try:
        meta = read_meta(store)
    except CorruptStoreError:
        if read_only:
            return StoreKeys(encrypted=encryption is not None)
        raise
    encrypted = bool(meta and meta.get("encrypted")) or (meta is None and _looks_encrypted(store))
    if encryption is None:
        if encrypted and not read_only:
            raise ConfigurationError(
                f"the store {store.describe()} is encrypted: open it with its key "
                "(PersistSaver(..., encryption=Encryption.from_env()) or "
                "LANGGRAPH_PERSIST_KEY for the CLI); without a key it can only be opened "
                "read_only=True, and nothing in it can be read"
            )
        return StoreKeys(encrypted=encrypted)
    checks: dict[str, str] = dict((meta or {}).get("key_checks") or {})
    if checks and not checks.keys() & encryption.keys.keys():
        raise ConfigurationError(
            f"none of the keys given ({', '.join(encryption.keys)}) is a key of the store "
            f"{store.describe()} ({', '.join(checks)}); to rotate, pass the old key too"
        )
    for key_id, key in encryption.keys.items():
        if key_id in checks and checks[key_id] != key_check(key):
            raise ConfigurationError(
                f"key {key_id!r} is not the key this store was encrypted with "
                f"({store.describe()}); check LANGGRAPH_PERSIST_KEY"
            )
    sealed = (meta or {}).get("secret")
    if meta is None or not meta.get("encrypted") or encryption.current not in checks:
        if read_only:
            return _keys(encryption, sealed)
        if meta is None and not store.list_desc(keys.threads_root(), limit=1):
            sealed = encryption.seal(os.urandom(32), _AAD)  # a new store: keyed names
        checks.update({i: key_check(k) for i, k in encryption.keys.items()})
        _write_meta(store, {"encrypted": True, "key_checks": checks, "secret": sealed})
    return _keys(encryption, sealed)


def _keys(encryption: Encryption, sealed: bytes | None) -> StoreKeys:
    if sealed is None:  # a store from before the secret: what it was written with
        return StoreKeys(hash_key=encryption.hash_key, encrypted=True, stable_addresses=False)
    try:
        secret = encryption.open(sealed, _AAD)
    except RecordError as exc:
        raise ConfigurationError(
            f"the store's secret cannot be opened with the keys given ({exc})"
        ) from None
    return StoreKeys(
        name_key=_derive(secret, b"lgp-names"),
        hash_key=_derive(secret, b"lgp-addresses"),
        encrypted=True,
    )


def reseal(store: Store, encryption: Encryption) -> None:
    """After ``reencrypt``: the secret sealed under the current key, every key checked."""
    meta = read_meta(store) or {"encrypted": True, "secret": None}
    sealed = meta.get("secret")
    if sealed is not None:
        sealed = encryption.seal(encryption.open(sealed, _AAD), _AAD)
    checks = {i: key_check(k) for i, k in encryption.keys.items()}
    _write_meta(store, {"encrypted": True, "key_checks": checks, "secret": sealed})
