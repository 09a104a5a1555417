"""An append-only audit log of destructive operations, as JSON lines.

Who deleted a conversation, and when? Each ``delete_thread``,
``delete_for_runs``, ``prune``, ``repair``, ``import`` and ``gc`` appends one
line::

    {"ts": "2026-11-22T09:30:00+00:00", "op": "delete_thread", "thread_id": "user-42",
     "pid": 4242, "user": "svc-agent", "host": "worker-3"}

Lines are written with O_APPEND in a single ``write`` and fsynced, so
concurrent processes never interleave partial lines and an acknowledged
deletion is on record. The log is never read by the library: it is for
operators (``jq``, log shippers).
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import socket
import threading
from datetime import datetime, timezone
from typing import Any

from langgraph_persist.errors import StoreError

_IDS = frozenset({"thread_id", "thread_ids", "run_ids", "checkpoint_id", "source", "dest"})
"""Details that name a thread, run or checkpoint, or a path that may contain one."""


class AuditLog:
    """Appends one JSON object per destructive operation to ``path``."""

    def __init__(
        self, path: str | os.PathLike[str], *, fsync: bool = True, hash_ids: bytes | None = None
    ) -> None:
        """``hash_ids``: log ids as keyed digests (this key) instead of as given, so the
        log can be kept after an erasure request without keeping the erased ids."""
        self.path = os.fspath(path)
        self._fsync = fsync
        self._hash_ids = hash_ids
        self._lock = threading.Lock()
        try:
            self._user = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry (containers): fall back to the uid
            self._user = str(os.getuid())
        self._host = socket.gethostname()

    def _id(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self._id(v) for v in value]
        digest = hashlib.blake2b(str(value).encode(), digest_size=16, key=self._hash_ids or b"")
        return "h:" + digest.hexdigest()

    def record(self, op: str, **details: Any) -> None:
        if self._hash_ids is not None:
            details = {k: self._id(v) if k in _IDS else v for k, v in details.items()}
        entry = {
            "ts": datetime.now(timezone.utc).isoformat(),
            "op": op,
            **details,
            "pid": os.getpid(),
            "user": self._user,
            "host": self._host,
        }
        line = (json.dumps(entry, ensure_ascii=False, default=str) + "\n").encode()
        with self._lock:
            try:
                # O_NOFOLLOW: a symlink planted as the log must not make us append elsewhere
                flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW
                fd = os.open(self.path, flags, 0o600)
                try:
                    os.write(fd, line)
                    if self._fsync:
                        os.fsync(fd)
                finally:
                    os.close(fd)
            except OSError as exc:
                raise StoreError(f"cannot append to audit log {self.path}: {exc.strerror}") from exc

    def read(self) -> list[dict[str, Any]]:
        """All entries (for tests and the CLI); a torn last line is skipped."""
        try:
            with open(self.path, encoding="utf-8") as fh:
                lines = fh.read().splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out
