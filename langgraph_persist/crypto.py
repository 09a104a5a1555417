"""Encryption at rest: AES-256-GCM over record payloads, bound to where they live.

Opt-in: ``PersistSaver(path, encryption=Encryption.from_keys({"2026-11": key}))``.

What is protected: the whole payload of every record (channel values,
pending writes, *and* metadata, which LangGraph's own encrypted serializer
leaves in plaintext), blobs included. The record header (magic, kind, flags,
length, digest) stays readable so that integrity checks and ``verify`` work
without the key.

Binding: each payload is sealed with the record's storage key as associated
data (``threads/<thread>/ns/<ns>/c/<checkpoint>``, ``blobs/<hh>/<digest>``,
...). A record copied or swapped into another thread, namespace or
checkpoint fails authentication and reads as ``CorruptRecordError``.

Rotation: a sealed payload is ``key-id length (1) | key id | nonce (12) |
ciphertext+tag``. Reading uses the key the payload names, so old keys keep
decrypting; writing uses ``current``. ``PersistSaver.reencrypt()`` rewrites
every record under the current key, after which old keys can be dropped.

Blob addresses are keyed hashes (``hash_key``): without the key, equal
content cannot be recognised across stores by its name.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from langgraph_persist.errors import ConfigurationError, CorruptRecordError

NONCE_SIZE = 12
KEY_SIZE = 32


def _aesgcm(key: bytes) -> Any:
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError:  # pragma: no cover - depends on the installation
        raise ConfigurationError(
            "encryption needs the 'cryptography' package: "
            "pip install 'langgraph-persist[encryption]'"
        ) from None
    return AESGCM(key)


@dataclass(frozen=True, repr=False)
class Encryption:
    """AES-256-GCM keys by id; ``current`` encrypts, every key decrypts.

    Key bytes never appear in a ``repr`` or an error message (they end up in
    logs and tracebacks): only key ids do.
    """

    keys: Mapping[str, bytes]
    current: str
    _ciphers: Mapping[str, Any] = field(init=False, repr=False, compare=False)

    def __repr__(self) -> str:
        return f"Encryption(key_ids={list(self.keys)!r}, current={self.current!r})"

    def __post_init__(self) -> None:
        if not self.keys:
            raise ConfigurationError("encryption needs at least one key")
        if self.current not in self.keys:
            raise ConfigurationError(f"current key id {self.current!r} is not among the keys")
        for key_id, key in self.keys.items():
            if not isinstance(key, bytes) or len(key) != KEY_SIZE:
                raise ConfigurationError(f"key {key_id!r} must be {KEY_SIZE} bytes (AES-256)")
            if not key_id or len(key_id.encode()) > 255:
                raise ConfigurationError("key ids must be 1 to 255 bytes")
        ciphers = {key_id: _aesgcm(key) for key_id, key in self.keys.items()}
        object.__setattr__(self, "keys", MappingProxyType(dict(self.keys)))
        object.__setattr__(self, "_ciphers", MappingProxyType(ciphers))

    @classmethod
    def from_keys(cls, keys: Mapping[str, bytes], current: str | None = None) -> Encryption:
        """``current`` defaults to the last key given (the newest, by convention)."""
        return cls(keys=dict(keys), current=current or list(keys)[-1])

    @classmethod
    def from_env(cls, variable: str = "LANGGRAPH_PERSIST_KEY") -> Encryption:
        """Keys from an environment variable: ``id1:hexkey1,id2:hexkey2`` (last is current).

        Errors name the entry by its position, never by its text: a malformed
        entry may well be a bare key (``hexkey`` without ``id:``, or the two
        swapped), and error messages end up in logs.
        """
        raw = os.environ.get(variable, "")
        if not raw:
            raise ConfigurationError(f"environment variable {variable} is not set")
        items = raw.split(",")
        keys: dict[str, bytes] = {}
        for position, item in enumerate(items, 1):
            key_id, sep, hexed = item.strip().partition(":")
            where = f"{variable}: entry {position} of {len(items)}"
            if not sep or not key_id or len(key_id.encode()) > 255:
                raise ConfigurationError(
                    f"{where} is not 'id:hexkey' (an id of 1 to 255 bytes, a colon, "
                    f"then {KEY_SIZE * 2} hex digits)"
                )
            try:
                key = bytes.fromhex(hexed)
            except ValueError:
                raise ConfigurationError(f"{where}: the key is not hex") from None
            if len(key) != KEY_SIZE:
                raise ConfigurationError(
                    f"{where}: the key must be {KEY_SIZE} bytes ({KEY_SIZE * 2} hex digits), "
                    f"got {len(key)}"
                )
            keys[key_id] = key
        return cls.from_keys(keys)

    @staticmethod
    def generate_key() -> bytes:
        return os.urandom(KEY_SIZE)

    @property
    def hash_key(self) -> bytes:
        """Key for blob addresses, derived from (not equal to) the current key."""
        return hashlib.blake2b(
            self.keys[self.current], digest_size=32, person=b"lgp-blob-addr"
        ).digest()

    def seal(self, payload: bytes, aad: bytes) -> bytes:
        key_id = self.current.encode()
        nonce = os.urandom(NONCE_SIZE)
        sealed = self._ciphers[self.current].encrypt(nonce, payload, aad)
        return bytes([len(key_id)]) + key_id + nonce + sealed  # type: ignore[no-any-return]

    def open(self, sealed: bytes, aad: bytes) -> bytes:
        from cryptography.exceptions import InvalidTag

        try:
            n = sealed[0]
            key_id = sealed[1 : 1 + n].decode()
            nonce = sealed[1 + n : 1 + n + NONCE_SIZE]
            body = sealed[1 + n + NONCE_SIZE :]
        except (IndexError, UnicodeDecodeError):
            raise CorruptRecordError("malformed encrypted payload") from None
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise CorruptRecordError(
                f"record is encrypted with key {key_id!r}, which this saver was not given"
            )
        try:
            return cipher.decrypt(nonce, body, aad)  # type: ignore[no-any-return]
        except InvalidTag:
            raise CorruptRecordError(
                "encrypted payload failed authentication (wrong key, tampered, or moved "
                "from another thread/checkpoint)"
            ) from None

    def key_id_of(self, sealed: bytes) -> str:
        """The id of the key a sealed payload was written with."""
        return sealed[1 : 1 + sealed[0]].decode()
