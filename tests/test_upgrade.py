"""``upgrade`` converts a version-1 store in place: verified, interruptible, resumable.

Interruptions are injected at exact points (the function that would run
next raises), which leaves on disk exactly what a process killed there
leaves: every step writes through renames and transactions, never through
buffers a kill could lose.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from langgraph_persist import CorruptRecordError, PersistSaver
from langgraph_persist import upgrade as upgrade_module
from langgraph_persist.upgrade import upgrade
from tests.golden.describe import describe

GOLDEN = Path(__file__).parent / "golden"
EXPECTED = json.loads((GOLDEN / "expected-v1.json").read_text())


class Killed(Exception):
    """Stands for a kill -9 at the injection point."""


@pytest.fixture
def v1(tmp_path: Path) -> Path:
    store = tmp_path / "store"
    shutil.copytree(GOLDEN / "store-v1", store)
    return store


def _reads_back(store: Path, layout: str) -> None:
    saver = PersistSaver(store)
    assert saver.store.describe().startswith(layout)
    assert describe(saver) == EXPECTED
    assert saver.verify().ok
    saver.close()


def test_killed_while_staging_then_resumed(v1: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upgrade_module, "_BATCH", 3)
    real = upgrade_module.SqliteStore.commit
    calls = 0

    def commit_then_die(self: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 4:
            raise Killed
        real(self, **kwargs)

    monkeypatch.setattr(upgrade_module.SqliteStore, "commit", commit_then_die)
    with pytest.raises(Killed):
        upgrade(v1)
    monkeypatch.setattr(upgrade_module.SqliteStore, "commit", real)
    _reads_back(v1, "file:")  # still a version-1 store, untouched
    report = upgrade(v1)
    assert report.records_already_staged == 9  # three batches of three survived the kill
    assert report.records_copied + report.records_already_staged == report.records_verified
    _reads_back(v1, "sqlite:")


def test_killed_between_moving_the_database_and_switching(
    v1: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_switch = upgrade_module._switch

    def move_then_die(root: str, staging: str) -> None:
        Path(staging, "store.db").replace(Path(root, "store.db"))
        raise Killed

    monkeypatch.setattr(upgrade_module, "_switch", move_then_die)
    with pytest.raises(Killed):
        upgrade(v1)
    _reads_back(v1, "file:")  # the marker still says version 1
    monkeypatch.setattr(upgrade_module, "_switch", real_switch)
    upgrade(v1)
    _reads_back(v1, "sqlite:")


def test_killed_while_removing_the_old_files(v1: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def die(root: str) -> None:
        shutil.rmtree(Path(root, "threads"))  # part of the old layout is gone
        raise Killed

    monkeypatch.setattr(upgrade_module, "_remove_old_trees", die)
    with pytest.raises(Killed):
        upgrade(v1)
    assert (v1 / "blobs").exists()
    _reads_back(v1, "sqlite:")  # past the commit point: the new layout, complete
    monkeypatch.undo()
    assert upgrade(v1).already_upgraded
    assert not (v1 / "blobs").exists()


def test_a_damaged_record_stops_the_upgrade_before_the_switch(v1: Path) -> None:
    victim = next(p for p in sorted((v1 / "threads").rglob("*")) if p.parent.name == "c")
    data = bytearray(victim.read_bytes())
    data[-1] ^= 0x01
    victim.write_bytes(bytes(data))
    with pytest.raises(CorruptRecordError, match=victim.name):
        upgrade(v1)
    assert json.loads((v1 / "FORMAT").read_text())["version"] == 1
    assert victim.read_bytes() == bytes(data)  # nothing removed


def test_os_litter_is_left_behind(v1: Path) -> None:
    shard = next(p for p in (v1 / "blobs").iterdir() if p.is_dir())
    (shard / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (v1 / "threads" / "Thumbs.db").write_bytes(b"junk")
    upgrade(v1)
    _reads_back(v1, "sqlite:")
