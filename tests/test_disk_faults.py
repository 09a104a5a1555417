"""Full disk, read-only file system, lost permissions: typed errors, nothing torn, recovery.

Uses a real size-limited tmpfs that the test mounts (as root), else a file-size
limit (RLIMIT_FSIZE) in a subprocess: both make the kernel refuse writes for real.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import uuid
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
    return uuid.uuid4().hex * (n // 32)


def test_disk_full_is_a_typed_error_and_loses_nothing(
    small_fs: Path | None, tmp_path: Path
) -> None:
    if small_fs is None:
        _disk_full_with_rlimit(tmp_path)
        return
    store = small_fs / "store"
    ballast = small_fs / "ballast"
    ballast.write_bytes(os.urandom(1024 * 1024))
    saver = PersistSaver(store)
    graph = chat_graph().compile(checkpointer=saver)
    acknowledged = []
    with pytest.raises(StoreError, match="disk is full") as info:
        for turn in range(200):
            out = graph.invoke(
                human(f"{turn} " + incompressible(20_000)), {"configurable": {"thread_id": "t"}}
            )
            acknowledged.append(graph.get_state({"configurable": {"thread_id": "t"}}))
    assert "nothing was written" in str(info.value)
    assert acknowledged, "the disk filled before the first turn"
    assert not list((store / "tmp").iterdir()), "temporary files were left behind"
    # everything acknowledged is intact and verified
    reader = PersistSaver(store)
    assert reader.verify().ok
    for snap in acknowledged:
        assert reader.get_tuple(snap.config) is not None
    # space comes back: the same saver works again without a restart
    ballast.unlink()
    out = graph.invoke(human("after cleanup"), {"configurable": {"thread_id": "t2"}})
    assert out["messages"][-1].content == "echo: after cleanup"


def test_read_only_remount_mid_run(small_fs: Path | None) -> None:
    if small_fs is None:
        pytest.fail("needs a mountable tmpfs; run as root (CI does)")  # pragma: no cover
    store = small_fs / "store"
    saver = PersistSaver(store)
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
    assert PersistSaver(store).verify().ok


_RLIMIT_WRITER = """
import os, resource, signal, sys
from langgraph_persist import PersistSaver, StoreError
from tests.graphs import chat_graph, human
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # get EFBIG instead of being killed
graph = chat_graph().compile(checkpointer=PersistSaver(sys.argv[1]))
graph.invoke(human("small"), {"configurable": {"thread_id": "t"}})
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
    graph.invoke(human(os.urandom(100_000).hex()), {"configurable": {"thread_id": "t"}})
except StoreError as exc:
    print("StoreError:", exc)
"""


def _disk_full_with_rlimit(tmp_path: Path) -> None:
    store = tmp_path / "store"
    done = subprocess.run(
        [sys.executable, "-c", _RLIMIT_WRITER, str(store)],
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


def test_file_size_limit_is_a_typed_error(tmp_path: Path) -> None:
    """The same guarantees with the kernel refusing a write by size (works without root)."""
    _disk_full_with_rlimit(tmp_path)


_LOSE_PERMISSION = """
import os, sys
from langgraph_persist import PersistSaver, StoreError
from tests.graphs import chat_graph, human
import asyncio, uuid, json, fcntl, shutil
store = sys.argv[1]
if os.geteuid() == 0:
    os.setgid(65534); os.setuid(65534)
graph = chat_graph().compile(checkpointer=PersistSaver(store))
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
