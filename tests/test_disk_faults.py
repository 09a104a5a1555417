"""Full disk, read-only file system, lost permissions: typed errors, nothing torn, recovery.

Uses a real size-limited tmpfs that the test mounts (as root, as CI runs), and
a file-size limit (RLIMIT_FSIZE) in a subprocess: both make the kernel refuse
writes for real. Without root the tmpfs tests fail loudly rather than pass on
a weaker fault.

The read-only remount and lost-permission faults exist only for the file
layout: an SQLite store keeps its database open, so the kernel refuses to
remount its file system read-only ("busy"), and descriptors opened before a
``chmod`` keep working.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from langgraph_persist import PersistSaver, StoreError
from tests.graphs import chat_graph, human

ROOT = Path(__file__).resolve().parent.parent


def _try_mount(path: Path, size: str) -> bool:
    if os.geteuid() != 0:
        return False
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
        capture_output=True,
    )
    return done.returncode == 0


@pytest.fixture
def small_fs() -> Iterator[Path | None]:
    """A 3 MiB tmpfs, or None where mounting is not allowed."""
    path = Path(tempfile.mkdtemp(prefix="lgp-fs-"))
    mounted = _try_mount(path, "3m")
    yield path if mounted else None
    if mounted:
        subprocess.run(["umount", "-l", str(path)], check=False)
    with contextlib.suppress(OSError):
        path.rmdir()


def incompressible(n: int) -> str:
    return os.urandom(n // 2).hex()


_NEEDS_ROOT = "needs root to mount a size-limited tmpfs (CI runs as root)"


@pytest.mark.parametrize("layout", ["sqlite", "files"])
def test_disk_full_is_a_typed_error_and_loses_nothing(small_fs: Path | None, layout: str) -> None:
    if small_fs is None:
        pytest.fail(_NEEDS_ROOT)  # pragma: no cover
    store = small_fs / "store"
    ballast = small_fs / "ballast"
    ballast.write_bytes(os.urandom(1024 * 1024))
    saver = PersistSaver(store, layout=layout)  # type: ignore[arg-type]
    graph = chat_graph().compile(checkpointer=saver)
    acknowledged = []
    with pytest.raises(StoreError, match="disk is full") as info:
        for turn in range(200):
            graph.invoke(
                human(f"{turn} " + incompressible(20_000)), {"configurable": {"thread_id": "t"}}
            )
            acknowledged.append(graph.get_state({"configurable": {"thread_id": "t"}}))
    assert "nothing was written" in str(info.value)
    assert acknowledged, "the disk filled before the first turn"
    if layout == "files":
        assert not list((store / "tmp").iterdir()), "temporary files were left behind"
    else:
        leftovers = {p.name for p in store.iterdir()} - {"FORMAT", "locks", "store.db"}
        assert leftovers <= {"store.db-wal", "store.db-shm"}, leftovers
    # everything acknowledged is intact, verified, and holds exactly what was acknowledged
    reader = PersistSaver(store)
    assert reader.verify().ok
    for snap in acknowledged:
        tup = reader.get_tuple(snap.config)
        assert tup is not None
        assert tup.checkpoint["channel_values"]["messages"] == snap.values["messages"]
    # space comes back: the same saver works again without a restart
    ballast.unlink()
    out = graph.invoke(human("after cleanup"), {"configurable": {"thread_id": "t2"}})
    assert out["messages"][-1].content == "echo: after cleanup"


def test_read_only_remount_mid_run(small_fs: Path | None) -> None:
    if small_fs is None:
        pytest.fail(_NEEDS_ROOT)  # pragma: no cover
    store = small_fs / "store"
    saver = PersistSaver(store, layout="files")
    graph = chat_graph().compile(checkpointer=saver)
    config = {"configurable": {"thread_id": "t"}}
    graph.invoke(human("before"), config)
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    try:
        with pytest.raises(StoreError, match="read-only"):
            graph.invoke(human("during"), config)
        # reads keep working on a read-only store
        assert graph.get_state(config).values["messages"][-1].content == "echo: before"
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_fs)], check=True)
    out = graph.invoke(human("after"), config)
    assert [m.content for m in out["messages"]][-2:] == ["after", "echo: after"]
    assert PersistSaver(store, layout="files").verify().ok


_RLIMIT_WRITER = """
import os, resource, signal, sys
from langgraph_persist import PersistSaver, StoreError
from tests.graphs import chat_graph, human
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # get EFBIG instead of being killed
graph = chat_graph().compile(checkpointer=PersistSaver(sys.argv[1], layout=sys.argv[2]))
graph.invoke(human("small"), {"configurable": {"thread_id": "t"}})
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
    graph.invoke(human(os.urandom(100_000).hex()), {"configurable": {"thread_id": "t"}})
except StoreError as exc:
    print("StoreError:", exc)
"""


@pytest.mark.parametrize("layout", ["sqlite", "files"])
def test_file_size_limit_is_a_typed_error(tmp_path: Path, layout: str) -> None:
    """The kernel refusing a write by size (EFBIG): works without root."""
    store = tmp_path / "store"
    done = subprocess.run(
        [sys.executable, "-c", _RLIMIT_WRITER, str(store), layout],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert "StoreError:" in done.stdout, done.stdout + done.stderr
    reader = PersistSaver(store)
    assert reader.verify().ok
    state = (
        chat_graph().compile(checkpointer=reader).get_state({"configurable": {"thread_id": "t"}})
    )
    assert state.values["messages"][-1].content == "echo: small"


_LOSE_PERMISSION = """
import os, sys
from langgraph_persist import PersistSaver, StoreError
from tests.graphs import chat_graph, human
import asyncio, uuid, json, fcntl, shutil
store = sys.argv[1]
if os.geteuid() == 0:
    os.setgid(65534); os.setuid(65534)
graph = chat_graph().compile(checkpointer=PersistSaver(store, layout="files"))
config = {"configurable": {"thread_id": "t"}}
graph.invoke(human("before"), config)
os.chmod(os.path.join(store, "tmp"), 0o500)     # permission lost mid-run
try:
    graph.invoke(human("during"), config)
except StoreError as exc:
    print("StoreError:", exc)
os.chmod(os.path.join(store, "tmp"), 0o700)     # and given back
out = graph.invoke(human("after"), config)
print("RESUMED:", out["messages"][-1].content)
"""


def test_permission_lost_mid_run(tmp_path: Path) -> None:
    base = Path(tempfile.mkdtemp(prefix="lgp-perm-"))
    os.chmod(base, 0o777)
    try:
        done = subprocess.run(
            [sys.executable, "-c", _LOSE_PERMISSION, str(base / "store")],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
        )
        assert "StoreError:" in done.stdout and "permission denied" in done.stdout, (
            done.stdout + done.stderr
        )
        assert "RESUMED: echo: after" in done.stdout
        assert PersistSaver(base / "store").verify().ok
    finally:
        subprocess.run(["rm", "-rf", str(base)], check=False)
