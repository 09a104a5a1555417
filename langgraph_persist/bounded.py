"""Decompression and msgpack decoding with limits checked before anything is allocated.

Every byte string we decode may come from someone else: a snapshot file, a
shared Redis, a foreign file dropped into the store. Neither lz4 nor msgpack
bounds what a small input may cost:

* an lz4 block carries its decompressed size in a 4-byte prefix that lz4
  allocates blindly (2.35 MB declaring 600 MB; 426 bytes declaring 2^40);
* a msgpack header of 5 bytes declares up to 2^32 items, and every item
  becomes a Python object of 16 to 72 bytes: 1.6 MB of lz4 holding 100 M
  tiny items took over 4 GiB before failing.

So, before allocating:

* ``lz4_block``/``lz4_frame_size`` check the declared size against a limit and
  against what lz4 can produce from that many bytes (``LZ4_MAX_RATIO``), then
  decompress into exactly that size;
* ``scan`` walks a msgpack document *without building it*: every declared
  length must fit in the bytes that are left (an item is at least one byte),
  and the declared item count (seen + still expected) must stay under a
  budget, so a huge header is refused the moment it is read, in O(1);
  payloads of LangGraph's extension types (constructor arguments, models)
  are msgpack too and are walked as part of the same budget;
* ``unpack`` scans documents above ``SCAN_MIN`` bytes, then lets msgpack decode
  with per-container limits derived from the payload's length (an item can
  never exceed the buffer). Below ``SCAN_MIN`` the scan is skipped: the worst a
  2 KiB document can cost is a few MiB, and every record read pays nothing.

Errors are ``LimitError`` (over a limit) or ``MalformedError`` (not valid
msgpack/lz4), both ``ValueError``; callers turn them into their typed errors
(``CorruptRecordError``, ``SnapshotError``).
"""

from __future__ import annotations

import struct
from typing import Any

import lz4.block
import msgpack

SCAN_MIN = 2048
"""msgpack documents at most this long are decoded without a prior scan."""

LZ4_MAX_RATIO = 255
"""lz4 never expands one input byte into more than 255 output bytes (each length
extension byte adds at most 255); a larger declared size is impossible, not big."""

_LZ4_SLACK = 1024
"""Constant part of lz4's bound (tokens, the last literals, a frame's headers)."""

LANGGRAPH_EXT_CODES = frozenset(range(8))
"""Extension codes whose payload LangGraph's serializer itself decodes as msgpack."""

MAX_EXT_DEPTH = 256
"""Extension payloads nested deeper than this are refused (LangGraph's own decoder
recurses in Python for each level and gives up long before)."""


class LimitError(ValueError):
    """Input that declares more than a limit allows (size, items)."""


class MalformedError(ValueError):
    """Input that is not what it claims to be (truncated, impossible sizes, bad codes)."""


def lz4_max_output(compressed_size: int) -> int:
    """The most bytes lz4 can produce from ``compressed_size`` bytes of input."""
    return LZ4_MAX_RATIO * compressed_size + _LZ4_SLACK


def lz4_block(payload: bytes, limit: int) -> bytes:
    """Decompress a size-prefixed lz4 block (``compress(store_size=True)``) of at most ``limit``.

    The 4-byte declared size is checked before lz4 sees it, and the output is
    allocated at that checked size rather than trusted from the prefix.
    """
    if len(payload) < 4:
        raise MalformedError("lz4 block shorter than its size prefix")
    declared = int.from_bytes(payload[:4], "little")
    if declared > limit:
        raise LimitError(f"declares {declared} bytes decompressed, over the {limit}-byte limit")
    if declared > lz4_max_output(len(payload) - 4):
        raise MalformedError(
            f"declares {declared} bytes decompressed from {len(payload) - 4}, "
            "more than lz4 can produce"
        )
    try:
        out: bytes = lz4.block.decompress(memoryview(payload)[4:], uncompressed_size=declared)
    except lz4.block.LZ4BlockError as exc:
        raise MalformedError(str(exc)) from None
    if len(out) != declared:
        raise MalformedError(f"lz4 block holds {len(out)} bytes, its prefix says {declared}")
    return out


def check_lz4_frame_size(declared: int, compressed_size: int, limit: int) -> None:
    """Refuse a declared decompressed size over ``limit`` or beyond what lz4 can produce."""
    if declared > limit:
        raise LimitError(f"declares {declared} bytes decompressed, over the {limit}-byte limit")
    if declared > lz4_max_output(compressed_size):
        raise MalformedError(
            f"declares {declared} bytes decompressed from {compressed_size}, "
            "more than lz4 can produce"
        )


# -- msgpack -------------------------------------------------------------------------------------

# Sizes of the fixed-width scalars: header byte -> bytes including the header.
_FIXED = {
    0xC0: 1, 0xC2: 1, 0xC3: 1,  # nil, false, true
    0xCA: 5, 0xCB: 9,  # float32, float64
    0xCC: 2, 0xCD: 3, 0xCE: 5, 0xCF: 9,  # uint8..64
    0xD0: 2, 0xD1: 3, 0xD2: 5, 0xD3: 9,  # int8..64
}  # fmt: skip
# Extension headers: header byte -> (bytes of the length field, fixed payload size or 0).
_EXT = {
    0xC7: (1, 0), 0xC8: (2, 0), 0xC9: (4, 0),  # ext8, ext16, ext32
    0xD4: (0, 1), 0xD5: (0, 2), 0xD6: (0, 4), 0xD7: (0, 8), 0xD8: (0, 16),  # fixext
}  # fmt: skip
_LEN = {1: struct.Struct(">B"), 2: struct.Struct(">H"), 4: struct.Struct(">I")}
_U16 = struct.Struct(">H").unpack_from
_U32 = struct.Struct(">I").unpack_from


def scan(data: bytes, max_items: int, *, extensions: bool = False) -> int:
    """Count the objects of one msgpack document without building any; return the count.

    Raises ``LimitError`` as soon as the objects declared so far (seen plus
    still expected) exceed ``max_items``, and ``MalformedError`` for anything
    truncated, trailing, or declaring more items than bytes left. With
    ``extensions``, the payloads of LangGraph's extension codes are walked as
    nested documents under the same budget (other codes are opaque bytes);
    without, any extension type is malformed (our own records use none).

    Iterative (an explicit stack for extension payloads), so nesting costs no
    Python recursion.
    """
    n = len(data)
    pos, end, pending, items, held = 0, n, 1, 0, 0
    stack: list[tuple[int, int]] = []  # (end, pending) of enclosing documents
    while True:
        if pending == 0:
            if pos != end:
                raise MalformedError(f"{end - pos} unexpected bytes after a msgpack document")
            if not stack:
                return items
            end, pending = stack.pop()
            held -= pending
            continue
        if pos >= end:
            raise MalformedError("truncated msgpack document")
        b = data[pos]
        pending -= 1
        items += 1
        if b < 0x80 or b >= 0xE0:  # positive / negative fixint
            pos += 1
            continue  # declares nothing more: no limit can be crossed
        if b >= 0xA0 and b < 0xC0:  # fixstr
            pos += 1 + (b & 0x1F)
        elif b < 0x90:  # fixmap
            pending += 2 * (b & 0x0F)
            pos += 1
        elif b < 0xA0:  # fixarray
            pending += b & 0x0F
            pos += 1
        elif b in _FIXED:
            pos += _FIXED[b]
        elif b in (0xC4, 0xD9):  # bin8, str8
            if pos + 2 > end:
                raise MalformedError("truncated msgpack length")
            pos += 2 + data[pos + 1]
        elif b in (0xC5, 0xDA, 0xDC, 0xDE):  # bin16, str16, array16, map16
            if pos + 3 > end:
                raise MalformedError("truncated msgpack length")
            size = _U16(data, pos + 1)[0]
            pos += 3
            if b == 0xDC:
                pending += size
            elif b == 0xDE:
                pending += 2 * size
            else:
                pos += size
        elif b in (0xC6, 0xDB, 0xDD, 0xDF):  # bin32, str32, array32, map32
            if pos + 5 > end:
                raise MalformedError("truncated msgpack length")
            size = _U32(data, pos + 1)[0]
            pos += 5
            if b == 0xDD:
                pending += size
            elif b == 0xDF:
                pending += 2 * size
            else:
                pos += size
        elif b in _EXT:
            if not extensions:
                raise MalformedError("msgpack extension type where none is allowed")
            width, size = _EXT[b]
            if pos + 2 + width > end:
                raise MalformedError("truncated msgpack extension")
            if width:
                size = _LEN[width].unpack_from(data, pos + 1)[0]
            code = data[pos + 1 + width]
            start = pos + 2 + width
            pos = start + size
            if pos > end:
                raise MalformedError("truncated msgpack extension")
            if code in LANGGRAPH_EXT_CODES:
                if len(stack) >= MAX_EXT_DEPTH:
                    raise LimitError(f"extension payloads nested deeper than {MAX_EXT_DEPTH}")
                if pending > end - pos:
                    raise MalformedError("msgpack container declares more items than bytes left")
                stack.append((end, pending))
                held += pending
                end, pending, pos = pos, 1, start
                continue
        else:  # 0xC1 is never used
            raise MalformedError(f"invalid msgpack byte {b:#04x}")
        if pos > end:
            raise MalformedError("truncated msgpack document")
        if pending > end - pos:
            raise MalformedError("msgpack container declares more items than bytes left")
        if items + pending + held > max_items:
            raise LimitError(f"declares more than {max_items} msgpack objects")


def unpack(data: bytes, max_items: int) -> Any:
    """msgpack → Python for our own formats: bounded, no extension types, str keys kept as is.

    See the module docstring for why the scan comes first and when it is skipped.
    """
    n = len(data)
    if n > SCAN_MIN:
        scan(data, max_items)
    return msgpack.unpackb(
        data,
        raw=False,
        strict_map_key=False,
        use_list=True,
        max_bin_len=n,
        max_str_len=n,
        max_array_len=n,
        max_map_len=n // 2,
        max_ext_len=0,
    )
