"""Write-behind queue entries: which keys one ``Store`` call wrote, in call order.

Values are not copied into the queue: a flusher reads the current value, so a
key written twice is flushed with its latest bytes. Entries are sealed under
the store's MAC (``hot_auth.py``) by the writer; only entries that verify are
ever acted on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from langgraph_persist import records
from langgraph_persist.errors import InvalidIdError
from langgraph_persist.keys import Key
from langgraph_persist.store.hot.layout import RedisKeys
from langgraph_persist.store.hot_auth import HotAuth


def encode_entry(seq: int, create: bool, keys: Sequence[Key]) -> bytes:
    """A queue entry: which keys one Store call wrote, and whether it was a create."""
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
