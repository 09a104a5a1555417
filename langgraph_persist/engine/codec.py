"""The record codec: how a record is framed and sealed for its place in the store.

Every record is encoded and decoded through ``RecordCodec`` with the key it
lives under. The key is the *associated data* of an encrypted record
(``crypto.py``): a sealed record copied or moved to another key no longer
opens. That rule, and the one exception (``meta/store`` is never sealed: it
says whether and how the rest is, see ``storemeta.py``), live here and nowhere
else, so no reader and writer can ever disagree on them.
"""

from __future__ import annotations

from typing import Any

from langgraph_persist import keys, records
from langgraph_persist.records import Kind, Sealer


def location(key: keys.Key) -> str:
    """A key as errors and reports name it."""
    return "/".join(key)


def associated_data(key: keys.Key) -> bytes:
    """What an encrypted record is bound to: its key."""
    return location(key).encode()


class RecordCodec:
    """Encodes and verifies records for their keys, sealing them when a sealer is set."""

    def __init__(self, sealer: Sealer | None) -> None:
        self.sealer = sealer

    def _sealer_for(self, kind: Kind | None) -> Sealer | None:
        return None if kind is Kind.STORE_META else self.sealer

    def encode(self, kind: Kind, obj: Any, key: keys.Key) -> bytes:
        """A record of ``kind`` holding ``obj``, for ``key``."""
        return records.encode(kind, obj, sealer=self._sealer_for(kind), aad=associated_data(key))

    def frame(self, kind: Kind, payload: bytes, key: keys.Key) -> bytes:
        """A record of an already packed payload (content, hashed before framing)."""
        return records.frame(kind, payload, sealer=self._sealer_for(kind), aad=associated_data(key))

    def decode(self, data: bytes, kind: Kind, key: keys.Key) -> Any:
        """The object a record of ``kind`` at ``key`` holds; ``CorruptRecordError`` naming
        the key for anything damaged, misplaced or of another kind."""
        return self.decode_any(data, key, expect=kind)[0]

    def decode_any(
        self,
        data: bytes,
        key: keys.Key,
        *,
        expect: Kind | None = None,
        allow_plaintext: bool = False,
    ) -> tuple[Any, Kind]:
        """(object, kind) of a record whose kind the caller may not know.

        ``allow_plaintext`` reads records written before encryption was turned on
        (``reencrypt``)."""
        where = location(key)
        sealer = self._sealer_for(expect)
        return records.decode_with_kind(
            data,
            expect=expect,
            location=where,
            sealer=sealer,
            aad=b"" if sealer is None else where.encode(),  # only a sealed record has one
            allow_plaintext=allow_plaintext,
        )
