"""Portable snapshots: one self-describing, verified file per thread.

Capture an agent's thread (all checkpoints and writes, or only what resuming
needs), carry the file elsewhere, check it, restore it into any saver::

    from langgraph_persist import PersistSaver
    from langgraph_persist.snapshot import restore, snapshot, verify_snapshot

    info = snapshot(PersistSaver("./checkpoints"), "user-42", "user-42.lgps")
    verify_snapshot("user-42.lgps")
    restore("user-42.lgps", other_saver, thread_id="user-42-copy")

File layout (integers little-endian)::

    offset  size  field
    0       7     magic b"LGPSNAP"
    7       1     snapshot format version (1)
    8       28+h  header: ONE record in the store's own framing (records.py: magic
                  "LGPR", kind SNAPSHOT_ENTRY, length, blake2b digest over header
                  and payload) whose msgpack payload is the header map below
    36+h    c     body: one lz4 frame of the msgpack body; c == header["compressed_size"]

The header map: ``format``, ``thread_id``, ``created`` (unix seconds),
``checkpoints``, ``writes``, ``namespaces``, ``latest``,
``uncompressed_size``, ``compressed_size``, ``stored_digest`` (of the body as
stored), ``digest`` ("blake2b-256:" + hex
of the *uncompressed* body, so two files with the same content have the same
digest whatever their compression or creation time), ``description``,
``agent_id``, ``serde`` (class of the serializer that wrote the values),
``producer`` and, only in the snapshot of a damaged thread
(``skip_damaged=True``), ``skipped``: ``[[namespace, checkpoint id, why],
...]``, the checkpoints that could not be read and are not in the file
(at most ``MAX_SKIPPED_LISTED`` named, ``skipped_count`` of them in all).

The body map::

    {"values": [[type, bytes], ...],          # each distinct channel value once
     "checkpoints": [                          # oldest first, parents first
        {"ns": str, "id": str, "parent": str | None,
         "checkpoint": [type, bytes],          # the checkpoint without channel_values
         "values": {channel: index into "values"},
         "metadata": [type, bytes],
         "writes": [[task_id, task_path, idx, channel, type, bytes], ...]}]}

Values are ``[type, bytes]`` pairs exactly as the *source saver's* serializer
(``saver.serde``) produced them. Restore decodes them strictly (see below;
pickle is never used) and the *target saver's* serializer encodes them
again; a thread from a saver with LangGraph's ``EncryptedSerializer`` stays
encrypted inside the file, and restores into a saver with the same cipher.
Channel values are stored once per distinct content, so a long thread costs
about what its changes cost, not one copy of the whole state per checkpoint.

Why the header is a store record: it reuses one tested framing (magic,
version, length, digest) instead of a second one, and a flipped bit anywhere
in it is caught before any field is trusted. The body's digest lives in
that verified header, so the whole file is covered.

A snapshot is untrusted input (anyone can write a file with valid digests),
so reading one is strict and bounded:

* the file is read header first and never beyond the body its verified header
  declares (at most ``MAX_STORED_SIZE``; ``_read``), so a sparse file of
  gigabytes, a FIFO or ``/dev/zero`` costs a few bytes of memory;
* the header is range-checked field by field (``_check_header``: finite
  times, sizes within limits, digests well-formed), so a bad header is a
  ``SnapshotError``, never an ``OverflowError`` or a ``KeyError``;
* the body's declared size is checked against ``MAX_SNAPSHOT_SIZE`` and
  against what lz4 can produce from the file before anything is
  decompressed, and its msgpack against ``MAX_SNAPSHOT_ITEMS`` before it is
  built (``bounded.py``); ``snapshot`` refuses to write what would be refused;
* values are decoded with the strict serializer of ``untrusted.py`` (LangGraph's
  strict-mode allowlist plus ``allowed_types``), never with the target
  saver's: a value of a type not allowed fails ``restore`` and
  ``verify_snapshot`` with ``BlockedTypeError`` naming every such type, before
  anything is written;
* decoded checkpoints must have a checkpoint's shape (``_check_checkpoint``).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import math
import os
import re
import secrets
import stat
import struct
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from typing import Any, cast

import lz4.frame
from langgraph.checkpoint.base import Checkpoint, CheckpointMetadata, CheckpointTuple
from langgraph.checkpoint.serde.base import SerializerProtocol

from langgraph_persist import bounded, keys, records
from langgraph_persist.crypto import Encryption
from langgraph_persist.errors import (
    BlockedTypeError,
    CorruptRecordError,
    PersistError,
    RecordError,
    SnapshotError,
    SnapshotVersionError,
)
from langgraph_persist.migrate import (
    AnySaver,
    CheckpointCopy,
    Progress,
    WriteCopy,
    delta_ancestors,
    read_checkpoints,
    read_thread,
    write_thread,
)
from langgraph_persist.records import Kind
from langgraph_persist.saver import PersistSaver
from langgraph_persist.untrusted import AllowedTypes, blocked_error, blocked_of, untrusted_serde

MAGIC = b"LGPSNAP"
SNAPSHOT_FORMAT = 1
PREFIX = struct.Struct("<7sB")
DIGEST_PREFIX = "blake2b-256:"
SUFFIX = ".lgps"
"""Conventional file extension (not required)."""

MAX_SNAPSHOT_SIZE = 2 * 1024 * 1024 * 1024
"""Largest body, uncompressed (2 GiB), written or read; checked before decompressing."""

MAX_SNAPSHOT_ITEMS = 1 << 24
"""Most msgpack objects a body may hold (16,777,216: about 100,000 checkpoints of a
state with 50 channels), checked before any is built."""

MAX_HEADER_SIZE = 1024 * 1024
"""Largest header record (1 MiB: a 64 KiB thread id and a long description fit)."""

MAX_STORED_SIZE = MAX_SNAPSHOT_SIZE + MAX_SNAPSHOT_SIZE // bounded.LZ4_MAX_RATIO + (1 << 20)
"""Largest body as stored: an lz4 frame of ``MAX_SNAPSHOT_SIZE`` bytes (lz4 stores an
incompressible block as is, plus a few bytes per block and frame), sealed or not;
1 MiB covers the frame's and the seal's overhead many times over. With
``MAX_HEADER_SIZE`` it bounds the size of any file ``_read`` accepts."""

MAX_TIMESTAMP = 253402300799.0
"""9999-12-31T23:59:59Z, the last second ``datetime`` can represent."""

MAX_SKIPPED_LISTED = 1000
"""Most skipped checkpoints a header names (each with a reason of at most
``MAX_SKIP_REASON`` characters); ``skipped_count`` has the full count."""

MAX_SKIP_REASON = 300

_DIGEST = re.compile(r"^blake2b-256:[0-9a-f]{64}$")
_MAC = re.compile(r"[0-9a-f]{64}")
_SEAL_AAD = b"lgp-snapshot-body"


@dataclass(frozen=True)
class SkippedCheckpoint:
    """A checkpoint of the thread that a snapshot does not hold, because it was damaged."""

    checkpoint_ns: str
    checkpoint_id: str
    reason: str


@dataclass(frozen=True)
class SnapshotInfo:
    """What a snapshot's header says (``get_metadata``), verified against the body where read."""

    path: str
    format_version: int
    thread_id: str
    created: datetime
    checkpoint_count: int
    write_count: int
    namespace_count: int
    latest: bool
    uncompressed_size: int
    compressed_size: int
    file_size: int
    digest: str
    description: str | None
    agent_id: str | None
    serde: str
    producer: str
    sealed: str | None = None
    """The id of the key the body is sealed with (AES-GCM), or None for a plain body."""
    authenticated: bool | None = None
    """True: the keyed MAC verified with the key given. None: no MAC, or no key given,
    so only accidents were checked (digests anyone can recompute)."""
    skipped: tuple[SkippedCheckpoint, ...] = ()
    """Damaged checkpoints of the thread left out of the file (``skip_damaged=True``)."""
    skipped_count: int = 0
    """How many were left out (``skipped`` names at most ``MAX_SKIPPED_LISTED``)."""

    @property
    def partial(self) -> bool:
        """True when the thread had damaged checkpoints that are not in the file."""
        return self.skipped_count > 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (the CLI's ``--json``)."""
        out = dict(self.__dict__)
        out["created"] = self.created.isoformat()
        out["skipped"] = [s.__dict__ for s in self.skipped]
        out["partial"] = self.partial
        return out


def _producer() -> str:
    try:
        return f"langgraph-persist {version('langgraph-persist')}"
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "langgraph-persist"


def _serde_name(serde: SerializerProtocol) -> str:
    return f"{type(serde).__module__}.{type(serde).__qualname__}"


# -- encoding ----------------------------------------------------------------------------------


def _encode_body(items: list[CheckpointCopy], serde: SerializerProtocol) -> dict[str, Any]:
    values: list[list[Any]] = []
    index: dict[bytes, int] = {}

    def value_ref(value: Any) -> int:
        typ, data = serde.dumps_typed(value)
        key = hashlib.blake2b(typ.encode() + b"\0" + data, digest_size=20).digest()
        if key not in index:
            index[key] = len(values)
            values.append([typ, data])
        return index[key]

    checkpoints = []
    for item in items:
        body = {k: v for k, v in item.checkpoint.items() if k != "channel_values"}
        checkpoints.append(
            {
                "ns": item.checkpoint_ns,
                "id": item.checkpoint_id,
                "parent": item.parent_id,
                "checkpoint": list(serde.dumps_typed(body)),
                "values": {ch: value_ref(v) for ch, v in item.checkpoint["channel_values"].items()},
                "metadata": list(serde.dumps_typed(item.metadata)),
                "writes": [
                    [w.task_id, w.task_path, w.idx, w.channel, *serde.dumps_typed(w.value)]
                    for w in item.writes
                ],
            }
        )
    return {"values": values, "checkpoints": checkpoints}


def _write_atomically(path: str, data: bytes) -> None:
    """tmp file beside the target + fsync + rename + fsync of the directory."""
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(16)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def snapshot(
    saver: AnySaver,
    thread_id: str,
    path: str | os.PathLike[str],
    *,
    latest: bool = False,
    description: str | None = None,
    agent_id: str | None = None,
    encryption: Encryption | None = None,
    decrypt: bool = False,
    skip_damaged: bool = False,
) -> SnapshotInfo:
    """Write one thread of any saver to a snapshot file (replacing ``path`` atomically).

    A damaged checkpoint (a flipped byte, missing content) fails the snapshot
    with ``CorruptRecordError``, unless ``skip_damaged=True`` (a
    ``PersistSaver`` only): then every checkpoint that reads is written, the
    damaged ones are named with the reason in the header (``skipped``), and
    the result's ``partial`` is True. A child of a skipped checkpoint becomes
    a root in the file, as with ``latest``. With ``latest=True`` the newest
    checkpoint that reads is the one kept.

    ``latest=True`` keeps only the newest checkpoint of each namespace plus
    the ancestors its delta channels need: enough to resume, not to replay
    history. The oldest kept checkpoint becomes a root (its parent is not in
    the file; see "Self-contained" in ``migrate.py``).

    A snapshot of an encrypted store is encrypted too: the body is sealed
    (AES-GCM) with the store's current key and the header carries a keyed MAC,
    so an edited file fails ``verify_snapshot`` even when someone recomputed
    its digests. ``encryption`` seals a snapshot of any saver the same way;
    ``decrypt=True`` writes a plaintext file on purpose (no MAC either).
    """
    skipped: list[SkippedCheckpoint] = []
    try:
        items = read_thread(saver, thread_id, latest=latest)
    except CorruptRecordError:
        if not (skip_damaged and isinstance(saver, PersistSaver)):
            raise
        items, skipped = _read_what_is_good(saver, thread_id, latest=latest)
    raw = records.pack(_encode_body(items, saver.serde))
    if len(raw) > MAX_SNAPSHOT_SIZE:
        raise SnapshotError(
            f"thread {thread_id!r} is {len(raw)} bytes, over the {MAX_SNAPSHOT_SIZE}-byte "
            "snapshot limit; export it with latest=True (--latest)"
        )
    try:
        bounded.scan(raw, MAX_SNAPSHOT_ITEMS)
    except bounded.LimitError as exc:
        raise SnapshotError(
            f"thread {thread_id!r} {exc}, over the snapshot limit; export it with latest=True "
            "(--latest)"
        ) from None
    compressed = lz4.frame.compress(raw, content_checksum=False, store_size=True)
    key = None if decrypt else (encryption or getattr(saver, "encryption", None))
    stored = compressed if key is None else key.seal(compressed, _SEAL_AAD)
    header: dict[str, Any] = {
        "format": SNAPSHOT_FORMAT,
        "thread_id": thread_id,
        "created": time.time(),
        "checkpoints": len(items),
        "writes": sum(len(i.writes) for i in items),
        "namespaces": len({i.checkpoint_ns for i in items}),
        "latest": latest,
        "uncompressed_size": len(raw),
        "compressed_size": len(stored),  # as stored: sealed when encrypted
        "digest": DIGEST_PREFIX + hashlib.blake2b(raw, digest_size=32).hexdigest(),
        # the stored bytes too: a flip in lz4's framing can leave the output intact,
        # and a verified file means every byte is as written
        "stored_digest": _stored_digest(stored),
        "description": description,
        "agent_id": agent_id,
        "serde": _serde_name(saver.serde),
        "producer": _producer(),
    }
    if skipped:
        header["skipped_count"] = len(skipped)
        header["skipped"] = [
            [c.checkpoint_ns, c.checkpoint_id, c.reason[:MAX_SKIP_REASON]]
            for c in skipped[:MAX_SKIPPED_LISTED]
        ]
    if key is not None:
        header["sealed"] = key.current
        header["mac_key"] = key.current
        header["mac"] = _mac(header, key, key.current)
    framed = records.encode(Kind.SNAPSHOT_ENTRY, header)
    data = PREFIX.pack(MAGIC, SNAPSHOT_FORMAT) + framed + stored
    target = os.fspath(path)
    _write_atomically(target, data)
    return _info(target, header, len(data), authenticated=key is not None or None)


def _read_what_is_good(
    saver: PersistSaver, thread_id: str, *, latest: bool
) -> tuple[list[CheckpointCopy], list[SkippedCheckpoint]]:
    """Every checkpoint that reads, and the damaged ones (``PersistSaver.history``).

    With ``latest``, per namespace the newest checkpoint that reads plus the
    ancestors its delta channels need (``migrate.delta_ancestors``). A record
    of a newer format is not damage: it still fails the snapshot
    (``UnsupportedFormatError``), as does a thread with nothing readable.
    """
    good: dict[str, dict[str, CheckpointTuple]] = {}
    skipped: list[SkippedCheckpoint] = []
    first_error: RecordError | None = None
    for entry in saver.history(thread_id):
        conf = entry.config["configurable"]
        ns, checkpoint_id = str(conf.get("checkpoint_ns", "")), str(conf["checkpoint_id"])
        if entry.tuple is not None:
            good.setdefault(ns, {})[checkpoint_id] = entry.tuple
            continue
        if not isinstance(entry.error, CorruptRecordError):
            raise entry.error or RecordError(f"thread {thread_id!r}: unreadable checkpoint")
        first_error = first_error or entry.error
        skipped.append(SkippedCheckpoint(ns, checkpoint_id, str(entry.error)))
    if not good:
        raise first_error or RecordError(f"thread {thread_id!r} has no readable checkpoint")
    selection: list[tuple[str, str]] = []
    for ns, by_id in good.items():
        if latest:
            tip = max(by_id)
            selection.append((ns, tip))
            selection.extend((ns, cid) for cid in delta_ancestors(by_id[tip], by_id))
        else:
            selection.extend((ns, cid) for cid in by_id)
    items = read_checkpoints(saver, thread_id, selection)
    return items, sorted(skipped, key=lambda c: (c.checkpoint_ns, c.checkpoint_id))


def _mac(header: Mapping[str, Any], encryption: Encryption, key_id: str) -> str:
    """A keyed MAC over every header field but itself (the digests cover the body)."""
    fields = sorted((k, v) for k, v in header.items() if k != "mac")
    mac_key = hashlib.blake2b(
        encryption.keys[key_id], digest_size=32, person=b"lgp-snap-mac"
    ).digest()
    return hashlib.blake2b(records.pack(fields), digest_size=32, key=mac_key).hexdigest()


def _authenticate(
    name: str, header: Mapping[str, Any], encryption: Encryption | None
) -> bool | None:
    """True when the MAC verifies; None when there is none or no key to check it with."""
    key_id = header.get("mac_key")
    if header.get("mac") is None or encryption is None or not isinstance(key_id, str):
        return None
    if key_id not in encryption.keys:
        return None
    if not hmac.compare_digest(_mac(header, encryption, key_id), header["mac"]):
        raise SnapshotError(
            f"{name}: snapshot fails authentication (edited, or not made with this key)"
        )
    return True


# -- decoding ----------------------------------------------------------------------------------


def _info(
    path: str, header: dict[str, Any], file_size: int, authenticated: bool | None = None
) -> SnapshotInfo:
    skipped = tuple(SkippedCheckpoint(*entry) for entry in header.get("skipped") or ())
    return SnapshotInfo(
        path=path,
        format_version=header["format"],
        thread_id=header["thread_id"],
        created=datetime.fromtimestamp(header["created"], tz=timezone.utc),
        checkpoint_count=header["checkpoints"],
        write_count=header["writes"],
        namespace_count=header["namespaces"],
        latest=header["latest"],
        uncompressed_size=header["uncompressed_size"],
        compressed_size=header["compressed_size"],
        file_size=file_size,
        digest=header["digest"],
        description=header.get("description"),
        agent_id=header.get("agent_id"),
        serde=header.get("serde", ""),
        producer=header.get("producer", ""),
        sealed=header.get("sealed"),
        authenticated=authenticated,
        skipped=skipped,
        skipped_count=max(header.get("skipped_count") or 0, len(skipped)),
    )


def _is_int(value: Any, low: int, high: int) -> bool:
    return type(value) is int and low <= value <= high


def _is_text(value: Any, limit: int, *, optional: bool = False) -> bool:
    if value is None:
        return optional
    return isinstance(value, str) and len(value) <= limit


def _is_skipped_list(value: Any) -> bool:
    """``[[namespace, checkpoint id, reason], ...]``, bounded like every other field."""
    return (
        isinstance(value, list)
        and 0 < len(value) <= MAX_SKIPPED_LISTED
        and all(
            isinstance(entry, list)
            and len(entry) == 3
            and _is_text(entry[0], keys.MAX_ID_BYTES)
            and _is_text(entry[1], keys.MAX_ID_BYTES)
            and _is_text(entry[2], MAX_SKIP_REASON)
            for entry in value
        )
    )


def _check_header(path: str, header: Any) -> dict[str, Any]:
    """Every field typed and in range, or ``SnapshotError`` naming the field (not its value)."""
    if not isinstance(header, dict):
        raise SnapshotError(f"{path}: malformed snapshot header (not a map)")
    created = header.get("created")
    checks: dict[str, bool] = {
        "format": _is_int(header.get("format"), 1, 255),
        "thread_id": _is_text(header.get("thread_id"), keys.MAX_ID_BYTES),
        "created": isinstance(created, (int, float))
        and not isinstance(created, bool)
        and math.isfinite(created)
        and 0 <= created <= MAX_TIMESTAMP,
        "checkpoints": _is_int(header.get("checkpoints"), 0, MAX_SNAPSHOT_ITEMS),
        "writes": _is_int(header.get("writes"), 0, MAX_SNAPSHOT_ITEMS),
        "namespaces": _is_int(header.get("namespaces"), 0, MAX_SNAPSHOT_ITEMS),
        "latest": type(header.get("latest")) is bool,
        "uncompressed_size": _is_int(header.get("uncompressed_size"), 0, MAX_SNAPSHOT_SIZE),
        "compressed_size": _is_int(header.get("compressed_size"), 0, MAX_STORED_SIZE),
        "digest": isinstance(header.get("digest"), str) and bool(_DIGEST.match(header["digest"])),
        "stored_digest": isinstance(header.get("stored_digest"), str)
        and bool(_DIGEST.match(header["stored_digest"])),
        "description": _is_text(header.get("description"), MAX_HEADER_SIZE, optional=True),
        "agent_id": _is_text(header.get("agent_id"), MAX_HEADER_SIZE, optional=True),
        "serde": _is_text(header.get("serde"), 1024, optional=True),
        "producer": _is_text(header.get("producer"), 1024, optional=True),
        "sealed": _is_text(header.get("sealed"), 255, optional=True),
        "mac_key": _is_text(header.get("mac_key"), 255, optional=True),
        "mac": header.get("mac") is None
        or (isinstance(header["mac"], str) and bool(_MAC.fullmatch(header["mac"]))),
        "skipped_count": header.get("skipped_count") is None
        or _is_int(header["skipped_count"], 1, MAX_SNAPSHOT_ITEMS),
        "skipped": header.get("skipped") is None or _is_skipped_list(header["skipped"]),
    }
    bad = [field for field, ok in checks.items() if not ok]
    if bad:
        missing = [f for f in bad if f not in header]
        why = f"missing {', '.join(missing)}" if missing else f"invalid {', '.join(bad)}"
        if missing and len(missing) < len(bad):
            why += f"; invalid {', '.join(f for f in bad if f not in missing)}"
        raise SnapshotError(f"{path}: malformed snapshot header ({why})")
    return header


def _read_header(path: str, data: bytes) -> tuple[dict[str, Any], int]:
    """Verified, range-checked header and the offset where the body starts (the
    body's size is ``_read``'s to check: it knows the file's)."""
    if len(data) < PREFIX.size:
        raise SnapshotError(f"{path}: not a snapshot (file of {len(data)} bytes is too short)")
    magic, fmt = PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise SnapshotError(f"{path}: not a langgraph-persist snapshot (bad magic {magic!r})")
    start = PREFIX.size
    if len(data) < start + records.HEADER_SIZE:
        raise SnapshotError(f"{path}: truncated snapshot (header incomplete)")
    length = struct.unpack_from("<I", data, start + 8)[0]
    if length > MAX_HEADER_SIZE:
        raise SnapshotError(
            f"{path}: damaged snapshot header (declares {length} bytes, limit {MAX_HEADER_SIZE})"
        )
    end = start + records.HEADER_SIZE + length
    try:
        decoded = records.decode(data[start:end], expect=Kind.SNAPSHOT_ENTRY, location=path)
    except RecordError as exc:
        if fmt > SNAPSHOT_FORMAT:
            raise SnapshotVersionError(
                f"{path}: snapshot format {fmt} is newer than this release reads "
                f"({SNAPSHOT_FORMAT}); upgrade langgraph-persist"
            ) from None
        if len(data) < end:
            raise SnapshotError(f"{path}: truncated snapshot (header incomplete)") from None
        raise SnapshotError(f"{path}: damaged snapshot header ({exc})") from None
    if isinstance(decoded, dict) and decoded.get("format") != fmt:
        claimed = decoded.get("format")
        raise SnapshotError(f"{path}: damaged snapshot (format {fmt} vs {claimed!r:.40})")
    if fmt > SNAPSHOT_FORMAT:
        raise SnapshotVersionError(
            f"{path}: snapshot format {fmt} is newer than this release reads "
            f"({SNAPSHOT_FORMAT}); upgrade langgraph-persist"
        )
    return _check_header(path, decoded), end


def _check_body_size(path: str, header: Mapping[str, Any], body_size: int) -> None:
    if body_size != header["compressed_size"]:
        state = "truncated" if body_size < header["compressed_size"] else "has trailing bytes"
        raise SnapshotError(
            f"{path}: snapshot {state} (body is {body_size} bytes, header says "
            f"{header['compressed_size']})"
        )


def _stored_digest(body: bytes) -> str:
    return DIGEST_PREFIX + hashlib.blake2b(body, digest_size=32).hexdigest()


_CHUNK = 1 << 20
"""Bytes read at a time from a file that is not a regular file (a pipe, a device)."""


@dataclass(frozen=True)
class _File:
    """A snapshot file as ``_read`` found it."""

    name: str
    header: dict[str, Any]
    """Verified and range-checked (``_read_header``)."""
    stored: bytes
    """The body as stored (sealed and compressed); empty when it was not read."""
    size: int
    """Of the whole file, in bytes."""


def _read(path: str | os.PathLike[str], *, body: bool = True) -> _File:
    """The file's verified header and, with ``body``, its body, of the size the
    header declares.

    A snapshot is untrusted, and so is its size: a sparse file of terabytes, a
    FIFO or ``/dev/zero`` must cost no more memory than a valid snapshot may.
    So the fixed prefix is read first, then the header it declares (at most
    ``MAX_HEADER_SIZE``), verified; then the body the verified header declares
    (at most ``MAX_STORED_SIZE``), and only after a regular file's size
    (``fstat``) proved it is that long; from anything else, in chunks and one
    byte more than declared, so trailing bytes are still refused. A file
    without a valid header is refused having read its first bytes only.
    """
    name = os.fspath(path)
    with open(name, "rb", buffering=0) as fh:
        fd = fh.fileno()
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
        fixed = PREFIX.size + records.HEADER_SIZE
        head = _read_up_to(fd, fixed)
        if len(head) < fixed or not head.startswith(MAGIC):
            _read_header(name, head)  # raises: too short, or not a snapshot
        length = struct.unpack_from("<I", head, PREFIX.size + 8)[0]
        if length <= MAX_HEADER_SIZE:  # else _read_header refuses it
            head += _read_up_to(fd, length)
        header, end = _read_header(name, head)
        declared: int = header["compressed_size"]
        if regular:
            size = os.fstat(fd).st_size
            _check_body_size(name, header, size - end)
            stored = _read_up_to(fd, declared) if body else b""
        else:
            stored = _read_up_to(fd, declared + 1)
            size = end + len(stored)
            _check_body_size(name, header, len(stored))
    return _File(name, header, stored, size)


def _read_up_to(fd: int, count: int) -> bytes:
    """At most ``count`` bytes, fewer at the end of the file; memory grows with what
    is read, never with ``count`` (``read(count)`` would allocate it up front)."""
    chunks = []
    while count > 0:
        chunk = os.read(fd, min(count, _CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


def get_metadata(
    path: str | os.PathLike[str], *, encryption: Encryption | None = None
) -> SnapshotInfo:
    """The header, verified (digest, sizes, and the MAC when a key is given); the body
    is not decompressed. Cheap enough to list a directory of snapshots.
    ``verify_snapshot`` also checks the body.
    """
    found = _read(path, body=False)
    authenticated = _authenticate(found.name, found.header, encryption)
    return _info(found.name, found.header, found.size, authenticated)


def _read_body(
    found: _File, encryption: Encryption | None
) -> tuple[dict[str, Any], dict[str, Any], bool | None]:
    name, header, stored = found.name, found.header, found.stored
    if _stored_digest(stored) != header["stored_digest"]:
        raise SnapshotError(f"{name}: damaged snapshot body (stored digest mismatch)")
    authenticated = _authenticate(name, header, encryption)
    if header.get("sealed") is not None:
        stored = _unseal(name, header, stored, encryption)
    expected = header["uncompressed_size"]
    try:
        bounded.check_lz4_frame_size(expected, len(stored), MAX_SNAPSHOT_SIZE)
    except ValueError as exc:
        raise SnapshotError(f"{name}: refused snapshot body ({exc})") from None
    try:
        decompressor = lz4.frame.LZ4FrameDecompressor()
        raw = decompressor.decompress(stored, max_length=expected + 1)
        complete = decompressor.eof and not decompressor.unused_data
    except RuntimeError as exc:
        raise SnapshotError(f"{name}: damaged snapshot body ({exc})") from None
    if not complete or len(raw) != expected:
        raise SnapshotError(f"{name}: damaged snapshot body (size mismatch)")
    digest = DIGEST_PREFIX + hashlib.blake2b(raw, digest_size=32).hexdigest()
    if digest != header["digest"]:
        raise SnapshotError(f"{name}: damaged snapshot body (digest mismatch)")
    try:
        body = records.unpack(raw, max_items=MAX_SNAPSHOT_ITEMS)
    except bounded.LimitError as exc:
        raise SnapshotError(f"{name}: refused snapshot body ({exc})") from None
    except MemoryError:  # exhaustion is not damage: the limits exist so it never happens
        raise
    except Exception as exc:  # msgpack raises several types; all mean "damaged"
        raise SnapshotError(f"{name}: undecodable snapshot body ({type(exc).__name__})") from None
    _check_body(name, header, body)
    return header, body, authenticated


def _unseal(name: str, header: Mapping[str, Any], sealed: bytes, enc: Encryption | None) -> bytes:
    if enc is None or header["sealed"] not in enc.keys:
        raise SnapshotError(
            f"{name}: the snapshot is encrypted with key {header['sealed']!r}: give that key "
            "(LANGGRAPH_PERSIST_KEY), or export it again with --decrypt"
        )
    try:
        return enc.open(sealed, _SEAL_AAD)
    except RecordError:
        raise SnapshotError(f"{name}: the snapshot's body fails authentication") from None


def _check_body(name: str, header: dict[str, Any], body: Any) -> None:
    """Structure of the body (a digest proves integrity, not that the writer was sane)."""

    def bad(why: str) -> SnapshotError:
        return SnapshotError(f"{name}: malformed snapshot body ({why})")

    if not isinstance(body, dict):
        raise bad("not a map")
    values, checkpoints = body.get("values"), body.get("checkpoints")
    if not isinstance(values, list) or not isinstance(checkpoints, list):
        raise bad("missing values or checkpoints")
    if not all(_is_typed(v) for v in values):
        raise bad("a value is not a [type, bytes] pair")
    writes = 0
    for c in checkpoints:
        if not (
            isinstance(c, dict)
            and isinstance(c.get("ns"), str)
            and isinstance(c.get("id"), str)
            and (c.get("parent") is None or isinstance(c.get("parent"), str))
            and _is_typed(c.get("checkpoint"))
            and _is_typed(c.get("metadata"))
            and isinstance(c.get("values"), dict)
            and all(isinstance(ch, str) for ch in c["values"])
            and all(type(i) is int and 0 <= i < len(values) for i in c["values"].values())
            and isinstance(c.get("writes"), list)
        ):
            raise bad("a checkpoint entry is incomplete")
        for w in c["writes"]:
            if not (
                isinstance(w, list)
                and len(w) == 6
                and isinstance(w[0], str)
                and isinstance(w[1], str)
                and type(w[2]) is int
                and isinstance(w[3], str)
                and _is_typed(w[4:])
            ):
                raise bad("a write entry is incomplete")
        writes += len(c["writes"])
    if len(checkpoints) != header["checkpoints"] or writes != header["writes"]:
        raise bad("counts differ from the header")
    _check_unique(checkpoints, bad)


def _check_unique(checkpoints: list[Any], bad: Callable[[str], SnapshotError]) -> None:
    """Each checkpoint once: ``snapshot`` writes every (namespace, id) once, and a file
    that repeats one would have restore store one copy over the other, whichever
    came last, and count it twice.

    Parents are not checked against the order: a saver stores whatever parent a
    ``put`` names, its own id included (a put into the config of the checkpoint
    it writes), and a snapshot copies that faithfully.
    """
    seen: set[tuple[str, str]] = set()
    for c in checkpoints:
        here = (c["ns"], c["id"])
        if here in seen:
            raise bad(f"checkpoint {c['id']!r} appears twice")
        seen.add(here)


def _is_typed(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], bytes)
    )


def verify_snapshot(
    path: str | os.PathLike[str],
    *,
    allowed_types: AllowedTypes = (),
    encryption: Encryption | None = None,
) -> SnapshotInfo:
    """Check the whole file: header, sizes, digests, structure, and every value's type.

    Raises ``SnapshotError`` (``SnapshotVersionError`` for a newer format) on
    anything damaged: truncation, a flipped bit anywhere, wrong magic, a
    malformed header or checkpoint. Values are decoded as ``restore`` decodes
    them (strictly, ``untrusted.py``) and ``BlockedTypeError`` names every type
    not allowed; ``allowed_types`` (``"module:Class"``) adds to the allowlist.
    Values encrypted by LangGraph's ``EncryptedSerializer`` need its cipher and
    are left to ``restore``. A sealed snapshot needs ``encryption`` (its key),
    which also checks its MAC: ``authenticated`` in the result says whether it
    was checked against a key or only for accidents.
    """
    found = _read(path)
    header, body, authenticated = _read_body(found, encryption)
    serde = untrusted_serde(allowed_types, on_blocked="record")
    _decode_items(found.name, header, body, serde, skip_encrypted=True)
    return _info(found.name, header, found.size, authenticated)


_TYPED_SKIP = object()
"""Stands in for an encrypted value ``verify_snapshot`` cannot decrypt."""


def _decode_items(
    name: str,
    header: Mapping[str, Any],
    body: dict[str, Any],
    serde: SerializerProtocol,
    *,
    skip_encrypted: bool = False,
) -> list[CheckpointCopy]:
    """Decode every value with ``serde`` (an ``untrusted_serde``) and check the shapes.

    Every value is decoded before anything is reported, so a ``BlockedTypeError``
    names all the blocked types at once. ``skip_encrypted`` (verification
    without a cipher) leaves values of LangGraph's encrypted types
    (``"msgpack+aes"``) undecoded, and checkpoints holding them unchecked.
    """
    values: dict[int, Any] = {}

    def loads(typed: list[Any]) -> Any:
        if skip_encrypted and "+" in typed[0]:
            return _TYPED_SKIP
        try:
            return serde.loads_typed((typed[0], typed[1]))
        except BlockedTypeError:
            raise
        except MemoryError:  # exhaustion is not damage: the limits exist so it never happens
            raise
        except Exception as exc:  # CorruptRecordError from the strict serde, a cipher's error
            raise SnapshotError(
                f"{name}: undecodable value (written by {header.get('serde')}): "
                f"{type(exc).__name__}: {exc}"
            ) from None

    def value(i: int) -> Any:
        if i not in values:
            values[i] = loads(body["values"][i])
        return values[i]

    items = []
    for c in body["checkpoints"]:
        checkpoint = loads(c["checkpoint"])
        metadata = loads(c["metadata"])
        channel_values = {ch: value(i) for ch, i in c["values"].items()}
        writes = tuple(
            WriteCopy(task, ch, loads([typ, data]), path, idx)
            for task, path, idx, ch, typ, data in c["writes"]
        )
        if checkpoint is _TYPED_SKIP or metadata is _TYPED_SKIP:
            continue  # only when skip_encrypted: nothing is restored from these items
        _check_checkpoint(name, c["id"], checkpoint, metadata)
        checkpoint["channel_values"] = channel_values
        items.append(
            CheckpointCopy(
                checkpoint_ns=c["ns"],
                checkpoint_id=c["id"],
                parent_id=c["parent"],
                checkpoint=cast(Checkpoint, checkpoint),
                metadata=cast(CheckpointMetadata, metadata),
                writes=writes,
            )
        )
    blocked = blocked_of(serde)
    if blocked:
        exc = blocked_error(blocked)
        raise BlockedTypeError(f"{name}: {exc}", types=exc.types)
    return items


def _check_checkpoint(name: str, checkpoint_id: str, checkpoint: Any, metadata: Any) -> None:
    """A decoded checkpoint has LangGraph's ``Checkpoint`` shape (what ``put`` relies on)."""

    def bad(why: str) -> SnapshotError:
        return SnapshotError(f"{name}: malformed checkpoint {checkpoint_id[:64]!r} ({why})")

    if not isinstance(checkpoint, dict):
        raise bad("not a map")
    if checkpoint.get("id") != checkpoint_id:
        raise bad("its id differs from the entry's")
    if not isinstance(checkpoint.get("ts"), str):
        raise bad("missing or invalid ts")
    versions = checkpoint.get("channel_versions")
    if not isinstance(versions, dict) or not all(
        isinstance(ch, str) and type(v) in (str, int, float) for ch, v in versions.items()
    ):
        raise bad("missing or invalid channel_versions")
    seen = checkpoint.get("versions_seen")
    if not isinstance(seen, dict) or not all(
        isinstance(node, str) and isinstance(v, dict) for node, v in seen.items()
    ):
        raise bad("missing or invalid versions_seen")
    if not isinstance(metadata, dict):
        raise bad("metadata is not a map")


def restore(
    path: str | os.PathLike[str],
    saver: AnySaver,
    thread_id: str | None = None,
    *,
    allowed_types: AllowedTypes = (),
    progress: Progress | None = None,
    encryption: Encryption | None = None,
) -> SnapshotInfo:
    """Verify a snapshot, then write its thread into ``saver`` (as ``thread_id`` if given).

    A sealed snapshot is opened with ``encryption``, else with the target
    saver's own key (a ``PersistSaver`` of the encrypted store it came from).

    The whole file is verified and every value decoded before anything is
    written; the target thread must not exist (``ThreadExistsError``); a
    restore that fails half way removes what it wrote. Returns the file's info
    (whose ``thread_id`` is the thread's id in the file).

    Values are decoded strictly (``untrusted.py``): LangGraph's strict-mode
    types plus ``allowed_types`` (``"module:Class"``, classes or ``(module, name)``),
    whatever ``saver.serde`` would accept. A value of any other type raises
    ``BlockedTypeError`` (nothing written, nothing run). The saver's
    serializer only encodes them again (and, if it is LangGraph's
    ``EncryptedSerializer``, lends its cipher to decrypt them).
    """
    found = _read(path)
    name = found.name
    key = encryption or getattr(saver, "encryption", None)
    header, body, authenticated = _read_body(found, key)
    serde = untrusted_serde(allowed_types, like=saver.serde, on_blocked="record")
    try:
        items = _decode_items(name, header, body, serde)
    except PersistError:
        raise
    except Exception as exc:  # pragma: no cover - _decode_items wraps what it calls
        raise SnapshotError(f"{name}: cannot decode this snapshot: {exc!r}") from exc
    write_thread(saver, thread_id or header["thread_id"], items, progress=progress)
    return _info(name, header, found.size, authenticated)
