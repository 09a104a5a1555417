"""A damaged write-ahead log left by a killed process is refused, not silently cut
short (store/sqlite_wal.py).

Every store here is made by a real process that puts checkpoints and is then
killed with SIGKILL, so its transactions are still in ``store.db-wal``; the
damage is one byte at an exact place of that log. The negative control shows
what the check prevents: SQLite alone opens the damaged store as an older one.
Sound logs must open as they are: intact, cut in the middle of their last
frame (a write interrupted by the kill), or restarted over older frames.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from langgraph_persist import PersistSaver
from langgraph_persist.errors import CorruptStoreError
from langgraph_persist.store import sqlite_wal

ROOT = Path(__file__).resolve().parent.parent

_WRITER = """
import os, signal, sqlite3, sys
from langgraph.checkpoint.base import empty_checkpoint
from langgraph_persist import PersistSaver

path, first, then = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
saver = PersistSaver(path)
config = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}

def put(step):
    global config
    ckpt = empty_checkpoint()
    ckpt["channel_values"] = {"count": step}
    ckpt["channel_versions"] = {"count": saver.get_next_version(None, None)}
    config = saver.put(config, ckpt, {"step": step, "source": "loop"}, {"count": 1})
    print(config["configurable"]["checkpoint_id"], flush=True)

for step in range(first):
    put(step)
if then:  # copy the log into the database; the next writer restarts it from frame 0
    raw = sqlite3.connect(os.path.join(path, "store.db"))
    assert raw.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()[0] == 0
    raw.close()
    for step in range(first, first + then):
        put(step)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _killed_writer(path: Path, first: int = 12, then: int = 0) -> list[str]:
    """Run a writer that puts ``first`` (+ ``then`` after a log restart) checkpoints
    and is killed: the ids it was acknowledged, oldest first."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_WRITER), str(path), str(first), str(then)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == -9, proc.stderr
    assert os.path.getsize(path / "store.db-wal") > 0  # the transactions are in the log
    return proc.stdout.split()


def _frames(path: Path) -> tuple[int, list[tuple[int, int, bool]]]:
    """(page size, [(offset, commit size, has the log's current salts)]) of the log."""
    data = (path / "store.db-wal").read_bytes()
    header = sqlite_wal.WAL_HEADER.unpack_from(data)
    page_size, salts = header[2], header[4:6]
    size = sqlite_wal.FRAME_HEADER.size + page_size
    out = []
    for offset in range(sqlite_wal.WAL_HEADER.size, len(data) - size + 1, size):
        fields = sqlite_wal.FRAME_HEADER.unpack_from(data, offset)
        out.append((offset, fields[1], fields[2:4] == salts))
    return page_size, out


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x5A
    path.write_bytes(bytes(data))


def _latest(path: Path) -> Any:
    saver = PersistSaver(path)
    try:
        tup = saver.get_tuple({"configurable": {"thread_id": "t", "checkpoint_ns": ""}})
        return None if tup is None else tup.config["configurable"]["checkpoint_id"]
    finally:
        saver.close()


def _damage_an_early_frame(path: Path) -> None:
    """One byte in the page of the log's second frame: commits follow it."""
    _page_size, frames = _frames(path)
    assert sum(commit > 0 for _o, commit, _c in frames[2:]) >= 5
    _flip(path / "store.db-wal", frames[1][0] + sqlite_wal.FRAME_HEADER.size + 100)


# -- damage is refused ------------------------------------------------------------------------


def test_a_damaged_frame_is_refused_and_nothing_is_changed(tmp_path: Path) -> None:
    path = tmp_path / "s"
    _killed_writer(path)
    _damage_an_early_frame(path)
    before = {name: (path / name).read_bytes() for name in ("store.db", "store.db-wal")}
    with pytest.raises(CorruptStoreError, match=r"write-ahead log .*store\.db-wal.* frame 1 "):
        PersistSaver(path)
    assert {name: (path / name).read_bytes() for name in before} == before


def test_negative_control_without_the_check_the_store_opens_older(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What SQLite alone does with the same log: an older store, and no error."""
    path = tmp_path / "s"
    acknowledged = _killed_writer(path)
    _damage_an_early_frame(path)
    monkeypatch.setattr(sqlite_wal, "check", lambda database: None)
    assert _latest(path) != acknowledged[-1]


def test_a_damaged_header_is_refused(tmp_path: Path) -> None:
    """SQLite ignores a log whose header does not check: every transaction in it."""
    path = tmp_path / "s"
    _killed_writer(path)
    _flip(path / "store.db-wal", 20)  # salt-2
    with pytest.raises(CorruptStoreError, match="damaged in its header"):
        PersistSaver(path)


# -- sound logs open as they are ------------------------------------------------------------


def test_a_sound_leftover_log_opens_with_everything(tmp_path: Path) -> None:
    path = tmp_path / "s"
    acknowledged = _killed_writer(path)
    assert _latest(path) == acknowledged[-1]


def test_a_log_cut_inside_its_last_frame_opens(tmp_path: Path) -> None:
    """What a kill in the middle of a write leaves: a partial last frame."""
    path = tmp_path / "s"
    acknowledged = _killed_writer(path)
    page_size, frames = _frames(path)
    os.truncate(
        path / "store.db-wal", frames[-1][0] + sqlite_wal.FRAME_HEADER.size + page_size // 2
    )
    assert _latest(path) in acknowledged


def test_a_restarted_log_over_older_frames_opens(tmp_path: Path) -> None:
    """After a restart, frames of the log's previous generation follow the current ones."""
    path = tmp_path / "s"
    acknowledged = _killed_writer(path, first=20, then=2)
    _page_size, frames = _frames(path)
    current = [c for _o, _commit, c in frames]
    assert current[0] and not all(current)  # new frames first, then stale ones
    assert _latest(path) == acknowledged[-1]


def test_a_log_another_process_has_open_is_not_checked(tmp_path: Path) -> None:
    """A live log changes under a scan: it is checked only when no process uses it."""
    path = tmp_path / "s"
    _killed_writer(path)
    _damage_an_early_frame(path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, sqlite3, sys\n"
            f"c = sqlite3.connect({str(path / 'store.db')!r})\n"
            "c.execute('SELECT count(*) FROM sqlite_master').fetchone()\n"
            "print('open', flush=True)\n"
            "sys.stdin.readline()\n"
            "os._exit(0)  # without closing: the log stays\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        assert sqlite_wal.check(str(path / "store.db")) is None
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=30)
    assert sqlite_wal.check(str(path / "store.db")) is not None


def test_the_checksum_is_sqlites(tmp_path: Path) -> None:
    """Every frame of a sound log checks: the scan computes what SQLite computes."""
    path = tmp_path / "s"
    _killed_writer(path)
    data = (path / "store.db-wal").read_bytes()
    magic, _v, page_size, _s, salt1, salt2, c1, c2 = sqlite_wal.WAL_HEADER.unpack_from(data)
    order = "<" if magic == 0x377F0682 else ">"
    s0, s1 = c1, c2
    size = sqlite_wal.FRAME_HEADER.size + page_size
    checked = 0
    for offset in range(sqlite_wal.WAL_HEADER.size, len(data) - size + 1, size):
        frame = data[offset : offset + size]
        fields = sqlite_wal.FRAME_HEADER.unpack_from(frame)
        if fields[2:4] != (salt1, salt2):
            break
        s0, s1 = sqlite_wal._checksum(frame[:8], order, s0, s1)
        s0, s1 = sqlite_wal._checksum(frame[sqlite_wal.FRAME_HEADER.size :], order, s0, s1)
        assert (s0, s1) == fields[4:6]
        checked += 1
    assert checked > 10
    assert struct.calcsize(">8I") == sqlite_wal.WAL_HEADER.size
