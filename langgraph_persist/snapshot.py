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
``agent_id``, ``serde`` (class of the serializer that wrote the values) and
``producer``.

The body map::

    {"values": [[type, bytes], ...],          # each distinct channel value once
     "checkpoints": [                          # oldest first, parents first
        {"ns": str, "id": str, "parent": str | None,
         "checkpoint": [type, bytes],          # the checkpoint without channel_values
         "values": {channel: index into "values"},
         "metadata": [type, bytes],
         "writes": [[task_id, task_path, idx, channel, type, bytes], ...]}]}

Values are ``[type, bytes]`` pairs exactly as the *source saver's* serializer
(``saver.serde``) produced them, and restore decodes them with the *target
saver's* serializer: LangGraph's allowlists apply, pickle is never used
unless a saver was configured with it, and a thread from an encrypted saver
stays encrypted inside the file. Channel values are stored once per distinct
content, so a long thread costs about what its changes cost, not one copy
of the whole state per checkpoint.

Why the header is a store record: it reuses one tested framing (magic,
version, length, digest) instead of a second one, and a flipped bit anywhere
in it is caught before any field is trusted. The body's digest lives in
that verified header, so the whole file is covered.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import struct
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from typing import Any, cast

import lz4.frame
from langgraph.checkpoint.base import Checkpoint, CheckpointMetadata
from langgraph.checkpoint.serde.base import SerializerProtocol

from langgraph_persist import records
from langgraph_persist.errors import RecordError, SnapshotError, SnapshotVersionError
from langgraph_persist.migrate import (
    AnySaver,
    CheckpointCopy,
    Progress,
    WriteCopy,
    read_thread,
    write_thread,
)
from langgraph_persist.records import Kind

MAGIC = b"LGPSNAP"
SNAPSHOT_FORMAT = 1
PREFIX = struct.Struct("<7sB")
DIGEST_PREFIX = "blake2b-256:"
SUFFIX = ".lgps"
"""Conventional file extension (not required)."""


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

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (the CLI's ``--json``)."""
        out = dict(self.__dict__)
        out["created"] = self.created.isoformat()
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
) -> SnapshotInfo:
    """Write one thread of any saver to a snapshot file (replacing ``path`` atomically).

    ``latest=True`` keeps only the newest checkpoint of each namespace plus
    the ancestors its delta channels need: enough to resume, not to replay
    history. The oldest kept checkpoint becomes a root (its parent is not in
    the file; see "Self-contained" in ``migrate.py``).
    """
    items = read_thread(saver, thread_id, latest=latest)
    raw = records.pack(_encode_body(items, saver.serde))
    compressed = lz4.frame.compress(raw, content_checksum=False, store_size=True)
    header = {
        "format": SNAPSHOT_FORMAT,
        "thread_id": thread_id,
        "created": time.time(),
        "checkpoints": len(items),
        "writes": sum(len(i.writes) for i in items),
        "namespaces": len({i.checkpoint_ns for i in items}),
        "latest": latest,
        "uncompressed_size": len(raw),
        "compressed_size": len(compressed),
        "digest": DIGEST_PREFIX + hashlib.blake2b(raw, digest_size=32).hexdigest(),
        # the stored bytes too: a flip in lz4's framing can leave the output intact,
        # and a verified file means every byte is as written
        "stored_digest": _stored_digest(compressed),
        "description": description,
        "agent_id": agent_id,
        "serde": _serde_name(saver.serde),
        "producer": _producer(),
    }
    framed = records.encode(Kind.SNAPSHOT_ENTRY, header)
    data = PREFIX.pack(MAGIC, SNAPSHOT_FORMAT) + framed + compressed
    target = os.fspath(path)
    _write_atomically(target, data)
    return _info(target, header, len(data))


# -- decoding ----------------------------------------------------------------------------------


def _info(path: str, header: dict[str, Any], file_size: int) -> SnapshotInfo:
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
    )


_HEADER_FIELDS: dict[str, type | tuple[type, ...]] = {
    "format": int,
    "thread_id": str,
    "created": (int, float),
    "checkpoints": int,
    "writes": int,
    "namespaces": int,
    "latest": bool,
    "uncompressed_size": int,
    "compressed_size": int,
    "digest": str,
    "stored_digest": str,
}


def _read_header(path: str, data: bytes) -> tuple[dict[str, Any], int]:
    """Verified header and the offset where the body starts."""
    if len(data) < PREFIX.size:
        raise SnapshotError(f"{path}: not a snapshot (file of {len(data)} bytes is too short)")
    magic, fmt = PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise SnapshotError(f"{path}: not a langgraph-persist snapshot (bad magic {magic!r})")
    start = PREFIX.size
    if len(data) < start + records.HEADER_SIZE:
        raise SnapshotError(f"{path}: truncated snapshot (header incomplete)")
    length = struct.unpack_from("<I", data, start + 8)[0]
    end = start + records.HEADER_SIZE + length
    try:
        header = records.decode(data[start:end], expect=Kind.SNAPSHOT_ENTRY, location=path)
    except RecordError as exc:
        if fmt > SNAPSHOT_FORMAT:
            raise SnapshotVersionError(
                f"{path}: snapshot format {fmt} is newer than this release reads "
                f"({SNAPSHOT_FORMAT}); upgrade langgraph-persist"
            ) from None
        if len(data) < end:
            raise SnapshotError(f"{path}: truncated snapshot (header incomplete)") from None
        raise SnapshotError(f"{path}: damaged snapshot header ({exc})") from None
    if not isinstance(header, dict) or any(
        not isinstance(header.get(k), t) for k, t in _HEADER_FIELDS.items()
    ):
        raise SnapshotError(f"{path}: malformed snapshot header")
    if header["format"] != fmt:
        raise SnapshotError(f"{path}: damaged snapshot (format {fmt} vs {header['format']})")
    if fmt > SNAPSHOT_FORMAT:
        raise SnapshotVersionError(
            f"{path}: snapshot format {fmt} is newer than this release reads "
            f"({SNAPSHOT_FORMAT}); upgrade langgraph-persist"
        )
    body_size = len(data) - end
    if body_size != header["compressed_size"]:
        state = "truncated" if body_size < header["compressed_size"] else "has trailing bytes"
        raise SnapshotError(
            f"{path}: snapshot {state} (body is {body_size} bytes, header says "
            f"{header['compressed_size']})"
        )
    return header, end


def _stored_digest(body: bytes) -> str:
    return DIGEST_PREFIX + hashlib.blake2b(body, digest_size=32).hexdigest()


def _read(path: str | os.PathLike[str]) -> tuple[str, bytes]:
    name = os.fspath(path)
    with open(name, "rb") as fh:
        return name, fh.read()


def get_metadata(path: str | os.PathLike[str]) -> SnapshotInfo:
    """The header, verified (digest, sizes); the body is not decompressed.

    Cheap enough to list a directory of snapshots. ``verify_snapshot`` also
    checks the body.
    """
    name, data = _read(path)
    header, _ = _read_header(name, data)
    return _info(name, header, len(data))


def _read_body(name: str, data: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    header, start = _read_header(name, data)
    if _stored_digest(data[start:]) != header["stored_digest"]:
        raise SnapshotError(f"{name}: damaged snapshot body (stored digest mismatch)")
    expected = header["uncompressed_size"]
    try:
        decompressor = lz4.frame.LZ4FrameDecompressor()
        raw = decompressor.decompress(data[start:], max_length=expected + 1)
        complete = decompressor.eof and not decompressor.unused_data
    except RuntimeError as exc:
        raise SnapshotError(f"{name}: damaged snapshot body ({exc})") from None
    if not complete or len(raw) != expected:
        raise SnapshotError(f"{name}: damaged snapshot body (size mismatch)")
    digest = DIGEST_PREFIX + hashlib.blake2b(raw, digest_size=32).hexdigest()
    if digest != header["digest"]:
        raise SnapshotError(f"{name}: damaged snapshot body (digest mismatch)")
    try:
        body = records.unpack(raw)
    except Exception as exc:  # msgpack raises several types; all mean "damaged"
        raise SnapshotError(f"{name}: undecodable snapshot body ({type(exc).__name__})") from None
    _check_body(name, header, body)
    return header, body


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
            and all(isinstance(i, int) and 0 <= i < len(values) for i in c["values"].values())
            and isinstance(c.get("writes"), list)
        ):
            raise bad("a checkpoint entry is incomplete")
        for w in c["writes"]:
            if not (
                isinstance(w, list)
                and len(w) == 6
                and isinstance(w[0], str)
                and isinstance(w[1], str)
                and isinstance(w[2], int)
                and isinstance(w[3], str)
                and _is_typed(w[4:])
            ):
                raise bad("a write entry is incomplete")
        writes += len(c["writes"])
    if len(checkpoints) != header["checkpoints"] or writes != header["writes"]:
        raise bad("counts differ from the header")


def _is_typed(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], bytes)
    )


def verify_snapshot(path: str | os.PathLike[str]) -> SnapshotInfo:
    """Check the whole file: header digest, sizes, body digest and body structure.

    Raises ``SnapshotError`` (``SnapshotVersionError`` for a newer format) on
    anything wrong: truncation, a flipped bit anywhere, wrong magic. Values are
    not decoded (that needs the target's serializer; ``restore`` does it).
    """
    name, data = _read(path)
    header, _ = _read_body(name, data)
    return _info(name, header, len(data))


def _decode_items(body: dict[str, Any], serde: SerializerProtocol) -> list[CheckpointCopy]:
    values: dict[int, Any] = {}

    def loads(typed: list[Any]) -> Any:
        return serde.loads_typed((typed[0], typed[1]))

    def value(i: int) -> Any:
        if i not in values:
            values[i] = loads(body["values"][i])
        return values[i]

    items = []
    for c in body["checkpoints"]:
        checkpoint = loads(c["checkpoint"])
        checkpoint["channel_values"] = {ch: value(i) for ch, i in c["values"].items()}
        items.append(
            CheckpointCopy(
                checkpoint_ns=c["ns"],
                checkpoint_id=c["id"],
                parent_id=c["parent"],
                checkpoint=cast(Checkpoint, checkpoint),
                metadata=cast(CheckpointMetadata, loads(c["metadata"])),
                writes=tuple(
                    WriteCopy(task, ch, loads([typ, data]), path, idx)
                    for task, path, idx, ch, typ, data in c["writes"]
                ),
            )
        )
    return items


def restore(
    path: str | os.PathLike[str],
    saver: AnySaver,
    thread_id: str | None = None,
    *,
    progress: Progress | None = None,
) -> SnapshotInfo:
    """Verify a snapshot, then write its thread into ``saver`` (as ``thread_id`` if given).

    The whole file is verified before anything is written; the target
    thread must not exist (``ThreadExistsError``); a restore that fails half
    way removes what it wrote. Returns the file's info (whose ``thread_id``
    is the thread's id in the file).
    """
    name, data = _read(path)
    header, body = _read_body(name, data)
    try:
        items = _decode_items(body, saver.serde)
    except SnapshotError:
        raise
    except Exception as exc:
        raise SnapshotError(
            f"{name}: the target saver's serializer cannot decode this snapshot "
            f"(written by {header.get('serde')}): {type(exc).__name__}: {exc}"
        ) from exc
    write_thread(saver, thread_id or header["thread_id"], items, progress=progress)
    return _info(name, header, len(data))
