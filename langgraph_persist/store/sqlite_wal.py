"""A leftover write-ahead log whose damage SQLite would hide.

When a process dies with transactions in ``store.db-wal`` (not yet copied
into ``store.db``), the next connection replays the log frame by frame and
stops at the first frame whose salt or checksum is wrong: SQLite takes that
frame for the torn end of an interrupted write. One flipped byte in an early
frame therefore drops every transaction committed after it, and what is left
is a consistent, older store that nothing can tell from the real one (the
namespace heads roll back with the records).

``find_damage`` tells the two apart. A write interrupted by a crash can only
leave a *partial* frame at the end of the log, or frames that belong to the
transaction being written. Damage leaves *complete* frames after the break
that carry the log's current salts and end a transaction (a commit frame):
transactions SQLite would drop. Frames with other salts are left over from
before the log was last restarted, and are ignored, as SQLite ignores them.

It must run before any connection replays the log, and while no other
process uses it (else the log changes under the scan): ``check`` holds the
byte of ``store.db-shm`` that SQLite's own connections lock for as long as
they are open (the "dead man switch", ``UNIX_SHM_DMS`` in SQLite's
``os_unix.c``), and scans only when it can take that byte exclusively. A
process whose own connections are open must not call it at all: POSIX locks
belong to the process, so closing our descriptor would drop theirs.

Limit: after a power cut the pages of the last, unacknowledged transaction
may reach the disk out of order; if its commit frame did and an earlier frame
did not, that transaction is reported as damage (docs/reliability.md says
what to do).
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
from dataclasses import dataclass

WAL_HEADER = struct.Struct(">8I")
"""magic, version, page size, checkpoint sequence, salt-1, salt-2, checksum-1, checksum-2."""
FRAME_HEADER = struct.Struct(">6I")
"""page number, database size after commit (0 if not a commit frame), salt-1, salt-2,
checksum-1, checksum-2."""
_BYTE_ORDER = {0x377F0682: "<", 0x377F0683: ">"}
"""The magic number says in which byte order the checksums read their words."""
_VERSION = 3007000
_SHM_DMS = 128
"""The dead-man-switch byte of the ``-shm`` file: ``(22 + 8) * 4 + 8`` in os_unix.c."""
_MASK = 0xFFFFFFFF


@dataclass(frozen=True)
class WalDamage:
    """Where the log breaks, and what SQLite would drop after it."""

    frame: int
    """Index of the first frame SQLite would not replay (0-based; -1: the header)."""
    offset: int
    """Byte offset of that frame in the file."""
    lost_commits: int
    """Complete commit frames with the log's salts after it: transactions dropped
    (0 for a damaged header, whose salts cannot be trusted to tell)."""


def _checksum(data: bytes, order: str, s0: int, s1: int) -> tuple[int, int]:
    """SQLite's WAL checksum (fileformat2: "Checksum Algorithm"), continued from (s0, s1)."""
    words = struct.unpack(f"{order}{len(data) // 4}I", data)
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) & _MASK
        s1 = (s1 + words[i + 1] + s0) & _MASK
    return s0, s1


def find_damage(wal_path: str) -> WalDamage | None:
    """The damage in the log at ``wal_path`` that SQLite would hide, or None."""
    with open(wal_path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        head = fh.read(WAL_HEADER.size)
        if len(head) < WAL_HEADER.size:
            return None  # no header: nothing was ever committed to it
        magic, version, page_size, _seq, salt1, salt2, c1, c2 = WAL_HEADER.unpack(head)
        frame_size = FRAME_HEADER.size + page_size
        order = _BYTE_ORDER.get(magic)
        sane = version == _VERSION and 512 <= page_size <= 65536
        if order is None or not sane or _checksum(head[:24], order, 0, 0) != (c1, c2):
            # SQLite ignores a log whose header is bad, and with it every frame
            frames_follow = size > WAL_HEADER.size + FRAME_HEADER.size
            return WalDamage(-1, 0, 0) if frames_follow else None
        s0, s1 = c1, c2
        broken: int | None = None  # the first frame SQLite would not replay
        lost = 0
        for index in range((size - WAL_HEADER.size) // frame_size):
            raw = fh.read(frame_size)
            page_no, commit, f1, f2, k1, k2 = FRAME_HEADER.unpack_from(raw)
            current = (f1, f2) == (salt1, salt2)
            if broken is None:
                if current and page_no:
                    s0, s1 = _checksum(raw[:8], order, s0, s1)
                    s0, s1 = _checksum(raw[FRAME_HEADER.size :], order, s0, s1)
                    if (s0, s1) == (k1, k2):
                        continue
                broken = index
            elif current and commit:
                lost += 1
    if broken is None or not lost:
        return None
    return WalDamage(broken, WAL_HEADER.size + broken * frame_size, lost)


def check(database: str) -> WalDamage | None:
    """``find_damage`` of ``database``'s leftover log, if no other process uses it.

    Call only while this process has no connection open to ``database`` (see
    the module docstring). Returns None when there is no log, when another
    process holds it open (it is live, not left over), or when it is sound.
    """
    wal = database + "-wal"
    try:
        if os.path.getsize(wal) <= WAL_HEADER.size:
            return None
    except FileNotFoundError:
        return None
    try:
        fd = os.open(database + "-shm", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        return None  # read-only files: SQLite cannot replay the log either (opens immutable)
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, _SHM_DMS)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EAGAIN):
                return None  # another process has the database open: its log is live
            raise
        try:
            return find_damage(wal)
        finally:
            fcntl.lockf(fd, fcntl.LOCK_UN, 1, _SHM_DMS)
    finally:
        os.close(fd)
