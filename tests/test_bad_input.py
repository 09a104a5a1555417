"""Bad input gets a clear, typed error and loses nothing (ground rule 3)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.memory import InMemorySaver

from langgraph_persist import (
    ConfigurationError,
    CorruptRecordError,
    MissingThreadIdError,
    PersistSaver,
    UnsupportedFormatError,
)
from tests.damage import blob_keys, checkpoint_key, damage
from tests.graphs import chat_graph, human


def cfg(thread_id: str) -> dict:
    return {"configurable": {"thread_id": thread_id}}


# -- unusable directories ------------------------------------------------------------------------


def test_path_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "a-file"
    target.write_text("hello")
    with pytest.raises(ConfigurationError, match="not a directory"):
        PersistSaver(target)


def test_non_empty_foreign_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "project.txt").write_text("someone else's data")
    with pytest.raises(ConfigurationError, match="not a langgraph-persist store"):
        PersistSaver(tmp_path)
    assert (tmp_path / "project.txt").read_text() == "someone else's data"


def test_store_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    PersistSaver(tmp_path / "s")
    (tmp_path / "s" / "FORMAT").write_text('{"format": "langgraph-persist", "version": 99}')
    with pytest.raises(UnsupportedFormatError, match="upgrade"):
        PersistSaver(tmp_path / "s")


_AS_NOBODY = """
import os, sys
from langgraph_persist import PersistSaver, ConfigurationError  # import first: stdlib is root's
import langgraph_persist.store.files, asyncio, uuid, json, fcntl, shutil
os.setgid(65534); os.setuid(65534)
try:
    PersistSaver(sys.argv[1])
except ConfigurationError as exc:
    print("ConfigurationError:", exc)
"""


def _run_unprivileged(path: Path) -> str:
    """Root ignores permissions, so the check runs as 'nobody' (or as ourselves if not root)."""
    code = (
        _AS_NOBODY
        if os.geteuid() == 0
        else _AS_NOBODY.replace("os.setgid(65534); os.setuid(65534)", "")
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parent.parent,
    )
    return done.stdout + done.stderr


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory every user can traverse (pytest's own tmp base is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="lgp-perm-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_directory_without_permission(open_dir: Path) -> None:
    locked = open_dir / "locked"
    locked.mkdir(mode=0o700)
    if os.geteuid() != 0:
        os.chmod(locked, 0o500)
    out = _run_unprivileged(locked)
    assert "ConfigurationError:" in out, out
    assert "not writable" in out or "cannot" in out, out


def test_read_only_directory(open_dir: Path) -> None:
    """A store the process may read but not write fails at construction, not at first put."""
    PersistSaver(open_dir / "ro")
    for p in [open_dir / "ro", *(open_dir / "ro").rglob("*")]:
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    out = _run_unprivileged(open_dir / "ro")
    assert "ConfigurationError:" in out and "not writable" in out, out


# -- configs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config", [{}, {"configurable": {}}, {"configurable": {"checkpoint_ns": ""}}]
)
def test_config_without_thread_id_fails_like_langgraph(tmp_path: Path, config: dict) -> None:
    saver = PersistSaver(tmp_path / "s")
    with pytest.raises(KeyError):
        InMemorySaver().put(config, empty_checkpoint(), {}, {})  # the reference behaviour
    with pytest.raises(MissingThreadIdError) as info:
        saver.put(config, empty_checkpoint(), {}, {})
    assert isinstance(info.value, KeyError)
    with pytest.raises(KeyError):
        saver.get_tuple(config)


def test_graph_without_thread_id_fails_before_the_saver(tmp_path: Path) -> None:
    graph = chat_graph().compile(checkpointer=PersistSaver(tmp_path / "s"))
    with pytest.raises(ValueError, match="thread_id"):
        graph.invoke(human("hi"))


# -- damaged records -----------------------------------------------------------------------------


def _populate(tmp_path: Path, layout: str = "sqlite") -> PersistSaver:
    saver = PersistSaver(tmp_path / "s", layout=layout)  # type: ignore[arg-type]
    graph = chat_graph().compile(checkpointer=saver)
    for thread in ("victim", "bystander"):
        graph.invoke(human("hello " * 80), cfg(thread))
    return saver


def _latest_id(saver: PersistSaver, thread_id: str) -> str:
    tup = saver.get_tuple(cfg(thread_id))
    assert tup is not None
    return str(tup.config["configurable"]["checkpoint_id"])


@pytest.mark.parametrize("layout", ["sqlite", "files"])
@pytest.mark.parametrize("how", ["flip", "truncate", "empty"])
def test_damaged_checkpoint_names_thread_checkpoint_and_file(
    tmp_path: Path, how: str, layout: str
) -> None:
    saver = _populate(tmp_path, layout)
    cid = _latest_id(saver, "victim")
    damage(saver, checkpoint_key("victim", cid), how)
    fresh = PersistSaver(tmp_path / "s")  # no warm cache
    with pytest.raises(CorruptRecordError) as info:
        fresh.get_tuple(cfg("victim"))
    err = info.value
    assert err.thread_id == "victim"
    assert err.checkpoint_id == cid
    assert cid in str(err) and "victim" in str(err)
    # other threads are unaffected
    assert fresh.get_tuple(cfg("bystander")) is not None
    # verify names exactly the damaged record
    report = fresh.verify()
    assert [d.location.split("/")[-1] for d in report.damaged] == [cid]
    assert not report.ok


@pytest.mark.parametrize("layout", ["sqlite", "files"])
def test_damaged_blob_is_reported_with_its_thread(tmp_path: Path, layout: str) -> None:
    saver = _populate(tmp_path, layout)
    blobs = blob_keys(saver)
    assert blobs
    for key in blobs:
        damage(saver, key, lambda b: b[:-1] + bytes([b[-1] ^ 0xFF]))
    fresh = PersistSaver(tmp_path / "s")  # no warm cache
    with pytest.raises(CorruptRecordError) as info:
        fresh.get_tuple(cfg("victim"))
    assert info.value.thread_id == "victim" and "blobs/" in str(info.value)
    assert len(fresh.verify().damaged) == len(blobs)


_READ_ONLY_AS_NOBODY = """
import os, sys, json
from langgraph_persist import PersistSaver, StoreError
import langgraph_persist.store.files, asyncio, uuid, fcntl, shutil
from click.testing import CliRunner
from langgraph_persist.cli import cli
os.setgid(65534); os.setuid(65534)
saver = PersistSaver(sys.argv[1], read_only=True)
tup = saver.get_tuple({"configurable": {"thread_id": "t"}})
print("READ", tup.checkpoint["channel_values"]["turns"])
print("VERIFY", saver.verify().ok)
try:
    saver.delete_thread("t")
except StoreError as exc:
    print("REFUSED", exc)
args = ["--store", sys.argv[1], "threads", "--json"]
out = CliRunner().invoke(cli, args, prog_name="langgraph-persist")
print("CLI", out.exit_code, json.loads(out.output)[0]["thread_id"])
"""


def test_read_only_mode_inspects_a_store_it_cannot_write(open_dir: Path) -> None:
    store = open_dir / "store"
    chat_graph().compile(checkpointer=PersistSaver(store)).invoke(human("hi"), cfg("t"))
    for p in [store, *store.rglob("*")]:
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    code = _READ_ONLY_AS_NOBODY
    if os.geteuid() != 0:
        code = code.replace("os.setgid(65534); os.setuid(65534)", "")
        for p in store.rglob("*"):
            if p.is_dir():
                os.chmod(p, 0o555)
    done = subprocess.run(
        [sys.executable, "-c", code, str(store)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parent.parent,
    )
    out = done.stdout + done.stderr
    assert "READ 1" in out and "VERIFY True" in out, out
    assert "REFUSED" in out and "read-only" in out, out
    assert "CLI 0 t" in out, out
