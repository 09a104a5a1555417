"""Values made readable in a terminal: binary and base64 summarized, long text folded.

A checkpoint's state is often a chat: messages hundreds of lines long,
images sent as base64 data URLs or raw bytes. Printed raw they bury
everything else, so human output (``show``, ``diff``) shows:

* bytes and base64 text as one summary: ``<image/png base64, 12.3 KiB>``
  (the type told by the content's magic number, or by a data URL's type);
* text longer than ``FOLD_CHARS`` cut, saying how much is left out;
* text of more than ``FOLD_LINES`` lines cut the same way.

``--full`` turns folding off; binary content is always summarized (its
bytes are in ``--json``). Nothing here changes ``--json`` output, which
stays exact.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

FOLD_CHARS = 300
"""Longest text shown whole (per line) unless ``--full``."""

FOLD_LINES = 8
"""Most lines of one text shown unless ``--full``."""

MIN_BASE64 = 120
"""Shorter strings are never taken for base64 (ids and hashes are shown as they are)."""

_DATA_URL = re.compile(r"data:([\w.+-]+/[\w.+-]+)?((?:;[\w.+-]+=[^;,]*)*);base64,", re.IGNORECASE)
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}|[A-Za-z0-9_-]+={0,2}")
_EMBEDDED = re.compile(
    r"data:[\w.+-]*/?[\w.+-]*(?:;[\w.+-]+=[^;,\s]*)*;base64,[A-Za-z0-9+/=_-]+"
    rf"|[A-Za-z0-9+/]{{{MIN_BASE64},}}={{0,2}}|[A-Za-z0-9_-]{{{MIN_BASE64},}}={{0,2}}",
    re.IGNORECASE,
)
_MAGIC: list[tuple[bytes, int, str]] = [
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),
    (b"%PDF-", 0, "application/pdf"),
    (b"PK\x03\x04", 0, "application/zip"),
    (b"\x1f\x8b", 0, "application/gzip"),
    (b"ID3", 0, "audio/mpeg"),
    (b"OggS", 0, "audio/ogg"),
    (b"WAVE", 8, "audio/wav"),
]


def size_text(n: int) -> str:
    """``12.3 KiB``: the size of summarized content."""
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024 or unit == "GiB":
            break
    return f"{value:.1f} {unit}"


def mime_of(data: bytes) -> str | None:
    """The media type told by a magic number at the start of ``data``, if any."""
    for magic, offset, mime in _MAGIC:
        if data[offset : offset + len(magic)] == magic:
            return mime
    return None


def _decode_base64(text: str) -> bytes | None:
    try:
        padded = text + "=" * (-len(text) % 4)
        if "-" in text or "_" in text:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None


def binary_summary(text: str) -> str | None:
    """``<image/png base64, 12.3 KiB>`` for a data URL or a long base64 string, else None.

    A long string is taken for base64 only when it is made of base64's
    alphabet alone, decodes, and is not plain letters (a long word is text).
    """
    match = _DATA_URL.match(text)
    if match:
        payload = text[match.end() :]
        head = _decode_base64(payload[:64]) or b""  # enough for any magic number
        mime = match.group(1) or mime_of(head) or "data"
        return f"<{mime.lower()} base64, {size_text(len(payload) * 3 // 4)}>"
    if len(text) < MIN_BASE64 or text.isalpha() or not _BASE64.fullmatch(text):
        return None
    decoded = _decode_base64(text)
    if decoded is None:
        return None
    return f"<{mime_of(decoded) or 'binary'} base64, {size_text(len(decoded))}>"


def summarize_embedded(text: str) -> str:
    """``text`` with every data URL or long base64 run in it replaced by its summary."""
    if len(text) < MIN_BASE64:
        return text
    return _EMBEDDED.sub(lambda m: binary_summary(m.group(0)) or m.group(0), text)


def bytes_summary(data: bytes) -> str:
    """``<image/png, 12.3 KiB>`` or ``<binary, 40 B>`` for raw bytes."""
    return f"<{mime_of(data) or 'binary'}, {size_text(len(data))}>"


def fold_line(text: str, *, full: bool) -> str:
    """One line, base64 in it summarized, cut at ``FOLD_CHARS`` characters (saying how
    many were left out)."""
    text = summarize_embedded(text)
    if full or len(text) <= FOLD_CHARS:
        return text
    return f"{text[:FOLD_CHARS]}… (+{len(text) - FOLD_CHARS} chars, --full shows them)"


def fold_lines(lines: list[str], *, full: bool) -> list[str]:
    """At most ``FOLD_LINES`` lines, each folded, then one line saying what is left out."""
    kept = lines if full or len(lines) <= FOLD_LINES else lines[:FOLD_LINES]
    out = [fold_line(line, full=full) for line in kept]
    if len(kept) < len(lines):
        out.append(f"… (+{len(lines) - len(kept)} lines, --full shows them)")
    return out


def readable(value: Any, *, full: bool) -> Any:
    """A copy of a JSON-ready value (``to_jsonable``) with binary summarized, text folded.

    Bytes arrive as ``{"$bytes": base64}`` (``to_jsonable``) and become a
    summary string like any base64 text.
    """
    if isinstance(value, str):
        return binary_summary(value) or fold_line(value, full=full)
    if isinstance(value, Mapping):
        if set(value) == {"$bytes"} and isinstance(value["$bytes"], str):
            data = _decode_base64(value["$bytes"]) or b""
            return bytes_summary(data)
        return {k: readable(v, full=full) for k, v in value.items()}
    if isinstance(value, list):
        return [readable(v, full=full) for v in value]
    return value
