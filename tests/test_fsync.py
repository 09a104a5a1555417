"""A durable put in the file layout really syncs, in the right order, seen by strace.

The SQLite layout's equivalent is ``tests/test_sqlite_store.py::
test_a_durable_put_syncs_and_at_most_once``. Here every put of the file layout
must follow the atomic-write recipe, syscall by syscall: the record's
temporary file is fsynced *before* it is renamed onto its key, and the
directory holding the key is fsynced *after* the rename. A build that drops
either fsync fails (``tests/test_negative_controls.py`` drops the directory
fsync), and ``durability="none"`` is the control showing the count drops to
nothing while the renames, hence atomicity, stay.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PUTS = 40
FILE_STORE = "langgraph_persist.store.files:FileStore"


@pytest.fixture(autouse=True)
def _strace_is_installed() -> None:
    """A missing tool fails these tests loudly: a skipped fsync test proves nothing."""
    if shutil.which("strace") is None:
        pytest.fail("strace is not installed: the fsync tests need it (.ci/run installs it)")


_WRITER = """
import importlib, sys
from langgraph.checkpoint.base import empty_checkpoint
from langgraph_persist import PersistSaver
root, durability, spec, puts = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
module, _, name = spec.partition(":")
store = getattr(importlib.import_module(module), name)(root, durability=durability)
saver = PersistSaver(store=store, audit_log=False)
config = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}
for step in range(puts):
    ckpt = empty_checkpoint()
    ckpt["channel_values"] = {"count": step}
    ckpt["channel_versions"] = {"count": saver.get_next_version(None, None)}
    config = saver.put(config, ckpt, {"step": step}, {"count": 1})
"""

_SYSCALL = re.compile(
    r"^\d+\s+(?P<call>fsync|fdatasync|rename|renameat2?)\((?P<args>.*)\)\s+=\s+0\s*$"
)
_FD_PATH = re.compile(r"^\d+<(?P<path>[^>]*)>$")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


@dataclass
class Syncs:
    fsyncs: int
    """fsync/fdatasync calls while the puts ran."""
    records_renamed: int
    """Checkpoint records renamed onto their keys (atomic visibility)."""
    durable_puts: int
    """Records whose temporary file was fsynced before the rename and whose
    directory was fsynced after it."""


def trace_puts(tmp_path: Path, durability: str, store: str = FILE_STORE) -> Syncs:
    """Run ``PUTS`` puts in a process under strace; what reached the disk, and in which order."""
    root = tmp_path / f"store-{durability}"
    subprocess.run(  # create the store first: opening it is not what we count
        [sys.executable, "-c", _WRITER, str(root), durability, store, "0"], check=True, cwd=ROOT
    )
    out = tmp_path / f"{durability}.strace"
    subprocess.run(
        ["strace", "-f", "-qq", "-y", "-o", str(out),
         "-e", "trace=fsync,fdatasync,rename,renameat,renameat2",
         sys.executable, "-c", _WRITER, str(root), durability, store, str(PUTS)],
        check=True,
        cwd=ROOT,
        timeout=180,
    )  # fmt: skip
    events: list[tuple[str, str]] = []  # ("sync", path) | ("rename", "src\0dst")
    for line in out.read_text().splitlines():
        m = _SYSCALL.match(line)
        if not m:
            continue
        if m["call"] in ("fsync", "fdatasync"):
            fd = _FD_PATH.match(m["args"].strip())
            events.append(("sync", fd["path"] if fd else ""))
        else:
            src, dst = _QUOTED.findall(m["args"])[:2]
            events.append(("rename", f"{src}\0{dst}"))
    fsyncs = sum(kind == "sync" for kind, _ in events)
    renamed = durable = 0
    for i, (kind, what) in enumerate(events):
        if kind != "rename":
            continue
        src, dst = what.split("\0")
        if "/c/" not in dst:
            continue  # content and bookkeeping: the record is what a reader trusts
        renamed += 1
        synced_before = ("sync", src) in events[:i]
        later = events[i + 1 :]
        next_rename = next((j for j, (k, _w) in enumerate(later) if k == "rename"), len(later))
        synced_after = ("sync", os.path.dirname(dst)) in later[:next_rename]
        durable += synced_before and synced_after
    return Syncs(fsyncs, renamed, durable)


def check_durable_puts(tmp_path: Path, store: str = FILE_STORE, durability: str = "fsync") -> Syncs:
    """Every put: record fsynced before its rename, directory fsynced after; about two
    fsyncs per put (a few more for the thread's first directories), not more."""
    syncs = trace_puts(tmp_path, durability, store)
    assert syncs.records_renamed == PUTS, syncs
    assert syncs.durable_puts == PUTS, f"puts whose rename was not made durable: {syncs}"
    assert 2 * PUTS <= syncs.fsyncs <= 2 * PUTS + 12, syncs
    return syncs


def test_a_durable_file_put_fsyncs_the_record_then_its_directory(tmp_path: Path) -> None:
    check_durable_puts(tmp_path)


def test_durability_none_is_the_control_where_the_fsyncs_vanish(tmp_path: Path) -> None:
    """The same check on the same puts without fsyncs fails: it measures fsyncs."""
    with pytest.raises(AssertionError, match="not made durable") as failed:
        check_durable_puts(tmp_path, durability="none")
    assert "fsyncs=0" in str(failed.value) and f"records_renamed={PUTS}" in str(failed.value)
