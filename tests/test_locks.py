"""The local stores' locks exclude and share as documented, across threads and processes.

Event-based, never timed. "B is waiting for the lock" is read from the kernel:
``/proc/locks`` lists a blocked ``flock`` waiter (``->``) on the lock file's
inode. So a test waits for one of two facts, whichever comes first: B got in,
or B is blocked in the kernel. No sleep decides the outcome, and a slow
machine only makes a test take longer, never pass or fail differently.

* the thread lock (``Store.lock``): exclusive excludes, shared shares, an
  exclusive waits for a shared holder;
* the maintenance lock (``Store.maintenance_lock``): ``gc`` waits for a put in
  flight, forced at the worst moment: the put has decided that a garbage blob
  already exists and has not yet committed the record that references it.
  Were gc not excluded, it would delete that blob and the put would commit a
  dangling reference; ``tests/test_negative_controls.py`` runs the same check
  with a no-op lock and shows that it then fails exactly so.

Redis locks have their own tests (``tests/test_redis_store.py``).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.base import empty_checkpoint

from langgraph_persist import PersistSaver, keys
from langgraph_persist.store.base import Store
from langgraph_persist.store.local import open_local
from langgraph_persist.store.locks import LOCKS

ROOT = Path(__file__).resolve().parent.parent
LAYOUTS = ["sqlite", "files"]
DEADLINE = 60.0
"""How long a fact may take to become true on a loaded machine; never a window."""

THREAD_KEY = ("threads", "t")


@pytest.fixture(autouse=True)
def _proc_locks() -> None:
    """A missing /proc/locks fails these tests loudly: skipped, they would prove nothing."""
    if not os.path.exists("/proc/locks"):
        pytest.fail("these tests read lock waiters from Linux's /proc/locks, absent here")


# -- facts from the kernel --------------------------------------------------------------------


def blocked_waiters(root: Path) -> int:
    """flock waiters blocked on any lock file of the store at ``root``."""
    ids = set()
    for entry in os.scandir(root / LOCKS):
        st = entry.stat()
        ids.add(f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}")
    count = 0
    with open("/proc/locks") as fh:
        for line in fh:
            fields = line.split()
            if len(fields) > 6 and fields[1] == "->" and fields[2] == "FLOCK":
                count += fields[6] in ids
    return count


def first_of(entered: Callable[[], bool], root: Path, what: str) -> str:
    """Wait for whichever comes first: ``"entered"``, or ``"blocked"`` in the kernel."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if entered():
            return "entered"
        if blocked_waiters(root):
            return "blocked"
        time.sleep(0.002)  # polling a fact, not waiting for one to happen in time
    raise AssertionError(f"{what}: neither got the lock nor blocked on it in {DEADLINE:.0f} s")


# -- contenders: a thread or a process that takes a lock and holds it until told ---------------


def _lock(store: Store, kind: str, exclusive: bool) -> contextlib.AbstractContextManager[None]:
    return store.maintenance_lock(exclusive) if kind == "gc" else store.lock(THREAD_KEY, exclusive)


class ThreadContender:
    """Another thread with its own store object (own lock descriptors): opened now,
    contending for the lock from ``go()``."""

    def __init__(self, root: Path, kind: str, exclusive: bool) -> None:
        store = open_local(root)  # opening an SQLite store takes the maintenance lock shared
        self._go = threading.Event()
        self._entered = threading.Event()
        self._release = threading.Event()
        self.errors: list[BaseException] = []

        def hold() -> None:
            try:
                self._go.wait(DEADLINE)
                with _lock(store, kind, exclusive):
                    self._entered.set()
                    self._release.wait(DEADLINE)
            except BaseException as exc:
                self.errors.append(exc)

        self._thread = threading.Thread(target=hold, daemon=True)
        self._thread.start()

    def go(self) -> None:
        self._go.set()

    def entered(self) -> bool:
        return self._entered.is_set()

    def wait_entered(self) -> None:
        assert self._entered.wait(DEADLINE), "never got the lock"

    def finish(self) -> None:
        self._release.set()
        self._thread.join(DEADLINE)
        assert not self._thread.is_alive() and not self.errors, self.errors


_LOCKER = """
import sys
from langgraph_persist.store.local import open_local
store = open_local(sys.argv[1])
exclusive = sys.argv[3] == "exclusive"
if sys.argv[2] == "gc":
    lock = store.maintenance_lock(exclusive)
else:
    lock = store.lock(("threads", "t"), exclusive)
print("ready", flush=True)
sys.stdin.readline()
with lock:
    print("entered", flush=True)
    sys.stdin.readline()
"""


class ProcessContender:
    """Another process: opened now (it says "ready"), contending from ``go()``."""

    def __init__(self, root: Path, kind: str, exclusive: bool) -> None:
        mode = "exclusive" if exclusive else "shared"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _LOCKER, str(root), kind, mode],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        ready = self.proc.stdout.readline().strip()
        assert ready == "ready", self.proc.communicate()[1]
        self._entered = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() == "entered":
            self._entered.set()

    def _say(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def go(self) -> None:
        self._say("go")

    def entered(self) -> bool:
        if self.proc.poll() is not None and not self._entered.is_set():
            raise AssertionError(f"locker process died: {self.proc.communicate()[1]}")
        return self._entered.is_set()

    def wait_entered(self) -> None:
        assert self._entered.wait(DEADLINE), "never got the lock"

    def finish(self) -> None:
        _out, err = self.proc.communicate("release\n", timeout=DEADLINE)
        assert self.proc.returncode == 0, err


Contender = ThreadContender | ProcessContender


def contender(where: str, root: Path, kind: str, exclusive: bool) -> Contender:
    if where == "thread":
        return ThreadContender(root, kind, exclusive)
    return ProcessContender(root, kind, exclusive)


@pytest.fixture(params=LAYOUTS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    store = open_local(tmp_path / "s", layout=request.param)
    yield store
    store.close()


def _root(store: Store) -> Path:
    return Path(store.root)  # type: ignore[attr-defined]


# -- exclusion and sharing --------------------------------------------------------------------


def check_exclusive_excludes(store: Store, where: str, kind: str) -> None:
    """While we hold the lock exclusively, a contender blocks; it enters once we let go."""
    other = contender(where, _root(store), kind, exclusive=True)
    with _lock(store, kind, exclusive=True):
        other.go()
        outcome = first_of(other.entered, _root(store), f"exclusive {kind} lock")
    other.wait_entered()
    other.finish()
    assert outcome == "blocked", f"a {where} took the {kind} lock while we held it exclusively"


@pytest.mark.parametrize("kind", ["thread", "gc"])
@pytest.mark.parametrize("where", ["thread", "process"])
def test_an_exclusive_lock_excludes(store: Store, where: str, kind: str) -> None:
    check_exclusive_excludes(store, where, kind)


@pytest.mark.parametrize("kind", ["thread", "gc"])
@pytest.mark.parametrize("where", ["thread", "process"])
def test_shared_locks_share(store: Store, where: str, kind: str) -> None:
    other = contender(where, _root(store), kind, exclusive=False)
    with _lock(store, kind, exclusive=False):
        other.go()
        outcome = first_of(other.entered, _root(store), f"shared {kind} lock")
    other.wait_entered()
    other.finish()
    assert outcome == "entered", f"a shared {kind} lock blocked a {where}"


@pytest.mark.parametrize("where", ["thread", "process"])
def test_an_exclusive_lock_waits_for_shared_holders(store: Store, where: str) -> None:
    """gc (exclusive) waits while writers hold the maintenance lock shared."""
    gc_lock = contender(where, _root(store), "gc", exclusive=True)
    with _lock(store, "gc", exclusive=False):
        gc_lock.go()
        outcome = first_of(gc_lock.entered, _root(store), "gc behind a writer")
        assert outcome == "blocked", "gc took the maintenance lock while a writer held it"
    gc_lock.wait_entered()
    gc_lock.finish()


# -- gc and a put in flight -------------------------------------------------------------------

BIG = "a value stored as its own blob, garbage once its thread is deleted " * 8


def _checkpoint(step: int) -> Any:
    ckpt = empty_checkpoint()
    ckpt["channel_values"] = {"doc": BIG, "step": step}
    ckpt["channel_versions"] = {"doc": f"{step + 1:032}.0", "step": f"{step + 1:032}.0"}
    return ckpt


def _config(thread: str) -> Any:
    return {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}


_GC = """
import sys
from langgraph_persist import PersistSaver
print(PersistSaver(sys.argv[1]).gc().blobs_deleted, flush=True)
"""


class Gc:
    """A gc of the store at ``root``, run by another thread or another process."""

    def __init__(self, root: Path, where: str) -> None:
        self.done = threading.Event()
        self.errors: list[BaseException] = []
        if where == "thread":
            saver = PersistSaver(root)

            def run() -> None:
                try:
                    saver.gc()
                except BaseException as exc:
                    self.errors.append(exc)
                finally:
                    self.done.set()

            self._runner: Any = threading.Thread(target=run, daemon=True)
            self._runner.start()
        else:
            self._runner = subprocess.Popen(
                [sys.executable, "-c", _GC, str(root)],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )

    def finished(self) -> bool:
        if isinstance(self._runner, subprocess.Popen):
            return self._runner.poll() is not None
        return self.done.is_set()

    def join(self) -> None:
        if isinstance(self._runner, subprocess.Popen):
            _out, err = self._runner.communicate(timeout=DEADLINE)
            assert self._runner.returncode == 0, err
        else:
            self._runner.join(DEADLINE)
            assert self.done.is_set() and not self.errors, self.errors


def check_gc_waits_for_a_put_in_flight(root: Path, put_store: Store, where: str) -> None:
    """A put that decided "blob X exists" is paused before its commit; gc starts.

    Correct: gc blocks on the maintenance lock until the put commits, then keeps X
    (now referenced). Broken: gc deletes X meanwhile, and the put commits a record
    that points at nothing. Raises AssertionError naming which happened.
    """
    saver = PersistSaver(store=put_store)
    saver.put(_config("old"), _checkpoint(0), {"source": "loop", "step": 0}, {})
    saver.delete_thread("old")  # BIG's blob is garbage now, and still there
    decided: list[bool] = []
    paused, resume = threading.Event(), threading.Event()
    real_commit = put_store.commit

    def commit_after_pause(**kwargs: Any) -> None:
        created = [k for k, _v in kwargs.get("create", ())]
        decided.append(not any(k[0] == keys.BLOBS for k in created))
        paused.set()
        resume.wait(DEADLINE)
        real_commit(**kwargs)

    put_store.commit = commit_after_pause  # type: ignore[method-assign]
    put_errors: list[BaseException] = []

    def put() -> None:
        try:
            saver.put(_config("new"), _checkpoint(1), {"source": "loop", "step": 0}, {})
        except BaseException as exc:
            put_errors.append(exc)

    putter = threading.Thread(target=put, daemon=True)
    putter.start()
    try:
        assert paused.wait(DEADLINE), "the put never reached its commit"
        assert decided == [True], "the put did not reuse the existing blob: nothing to test"
        gc = Gc(root, where)
        outcome = first_of(gc.finished, root, "gc during a put in flight")
    finally:
        resume.set()
        putter.join(DEADLINE)
        put_store.commit = real_commit  # type: ignore[method-assign]
    gc.join()
    assert not put_errors, put_errors
    report = PersistSaver(root).verify()
    dangling = [d.location for d in report.damaged]
    assert report.ok, f"gc deleted content a put in flight had decided exists: {dangling}"
    tup = PersistSaver(root).get_tuple(_config("new"))
    assert tup is not None and tup.checkpoint["channel_values"]["doc"] == BIG
    assert outcome == "blocked", "gc ran to completion while a put held the maintenance lock"


@pytest.mark.parametrize("where", ["thread", "process"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_gc_waits_for_a_put_in_flight(tmp_path: Path, layout: str, where: str) -> None:
    root = tmp_path / "s"
    check_gc_waits_for_a_put_in_flight(root, open_local(root, layout=layout), where)
