"""A list's elements cut into content-defined segments, resumable when the list grows.

``values.py`` stores a list as element blobs grouped in *segments*: an
element whose address is 0 mod ``SEGMENT_SPREAD`` (or the ``SEGMENT_MAX``-th
of its segment) closes the segment. The cut depends only on the elements, so
every version of a growing list shares its closed segments.

``Segmented`` is that cut for the list as far as it was read, kept between
puts together with the list's serialized bytes. A conversation's ``messages``
grows by one or two elements per step; when the new list's bytes *start
with* the remembered bytes (one ``memcmp``, exact: equal bytes are equal
content), only the new elements are cut. Without that, every put would
re-address every earlier message, and a conversation's writes would cost
O(steps²) in Python.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import msgpack

from langgraph_persist.records import Kind, content_digest, pack

SEGMENT_SPREAD = 16
"""Average closed-segment length, in elements (content-defined boundaries)."""

SEGMENT_MAX = 64
"""Hard cap on a segment's length, so adversarial hashes cannot make one huge."""

NewBlobs = dict[bytes, tuple[Kind, bytes]]
"""digest -> (kind, msgpack payload) of content a put may have to store."""

Element = Callable[[str, bytes], tuple[bytes, "bytes | None"]]
"""(type, data) of an element -> (its address, its blob payload or None when inlined)."""


@dataclass
class Segmented:
    """The segmentation of a list's first ``count`` elements (see module docstring)."""

    body: bytes = b""
    """The msgpack encodings of those elements, concatenated (b"" when not kept)."""
    count: int = 0
    closed: list[tuple[bytes, bytes, NewBlobs]] = field(default_factory=list)
    """(segment address, segment payload, blobs of its elements) per closed segment."""
    current: list[Any] = field(default_factory=list)
    """Items of the open segment: element addresses, or [type, data] when inlined."""
    elements: NewBlobs = field(default_factory=dict)
    """Blobs of the open segment's elements."""

    def copy(self) -> Segmented:
        return Segmented(
            self.body, self.count, list(self.closed), list(self.current), dict(self.elements)
        )

    def extend(self, parts: Iterable[tuple[str, bytes]], element: Element, hash_key: bytes) -> None:
        """Cut more elements, closing segments where their addresses say."""
        for typ, data in parts:
            digest, payload = element(typ, data)
            if payload is None:
                self.current.append([typ, data])
            else:
                self.current.append(digest)
                self.elements[digest] = (Kind.BLOB, payload)
            if int.from_bytes(digest[:4], "little") % SEGMENT_SPREAD == 0 or (
                len(self.current) >= SEGMENT_MAX
            ):
                segment_payload = pack(self.current)
                segment = content_digest(Kind.SEGMENT, segment_payload, hash_key)
                self.closed.append((segment, segment_payload, self.elements))
                self.current, self.elements = [], {}
            self.count += 1

    def weight(self) -> int:
        """Approximate bytes held, for the cache's bound."""
        return 2 * len(self.body) + 64 * (len(self.closed) + len(self.current)) + 256


def array_header(data: bytes, count: int) -> int | None:
    """Length of the msgpack array header at the start of ``data``, if it announces
    exactly ``count`` elements; else ``None``."""
    if not data:
        return None
    first = data[0]
    if 0x90 <= first <= 0x9F:
        return 1 if first - 0x90 == count else None
    if first == 0xDC and len(data) >= 3:
        return 3 if struct.unpack_from(">H", data, 1)[0] == count else None
    if first == 0xDD and len(data) >= 5:
        return 5 if struct.unpack_from(">I", data, 1)[0] == count else None
    return None


def pack_array_header(count: int) -> bytes:
    """The msgpack header of an array of ``count`` elements (the inverse of ``array_header``)."""
    if count < 16:
        return bytes([0x90 + count])
    if count < 1 << 16:
        return b"\xdc" + struct.pack(">H", count)
    return b"\xdd" + struct.pack(">I", count)


def split_body(body: bytes, count: int) -> list[bytes] | None:
    """The ``count`` msgpack objects concatenated in ``body``, or ``None`` if it is not
    exactly that (``Unpacker.skip`` walks it in C, decoding nothing)."""
    if count == 0:
        return [] if not body else None
    unpacker = msgpack.Unpacker(max_buffer_size=max(len(body), 1))
    unpacker.feed(body)
    parts: list[bytes] = []
    start = 0
    try:
        for _ in range(count):
            unpacker.skip()
            end = unpacker.tell()
            parts.append(body[start:end])
            start = end
    except Exception:  # truncated, or nested too deep: the caller serializes per element
        return None
    return parts if start == len(body) else None
