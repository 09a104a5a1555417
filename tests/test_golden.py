"""The committed version-1 store must read back exactly, with every future release."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from langgraph_persist import PersistSaver
from langgraph_persist.upgrade import upgrade
from tests.golden.describe import describe

GOLDEN = Path(__file__).parent / "golden"


def test_golden_store_v1_reads_back_exactly(tmp_path: Path) -> None:
    store = tmp_path / "store"
    shutil.copytree(GOLDEN / "store-v1", store)
    saver = PersistSaver(store)
    expected = json.loads((GOLDEN / "expected-v1.json").read_text())
    assert describe(saver) == expected
    assert saver.verify().ok


def test_golden_store_is_never_rewritten(tmp_path: Path) -> None:
    """Reading must not modify records: byte-identical before and after."""
    store = tmp_path / "store"
    shutil.copytree(GOLDEN / "store-v1", store)
    before = {p: p.read_bytes() for p in store.rglob("*") if p.is_file()}
    describe(PersistSaver(store))
    after = {
        p: p.read_bytes() for p in store.rglob("*") if p.is_file() and p.parent.name != "locks"
    }
    assert {p: b for p, b in before.items() if p.parent.name != "locks"} == after


def test_golden_store_v2_reads_back_exactly(tmp_path: Path) -> None:
    """The SQLite layout: store-v1 after ``upgrade``, so the same description holds."""
    store = tmp_path / "store"
    shutil.copytree(GOLDEN / "store-v2", store)
    saver = PersistSaver(store)
    assert saver.store.describe().startswith("sqlite:")
    assert describe(saver) == json.loads((GOLDEN / "expected-v1.json").read_text())
    assert saver.verify().ok
    saver.close()


def test_golden_store_v2_is_never_rewritten(tmp_path: Path) -> None:
    store = tmp_path / "store"
    shutil.copytree(GOLDEN / "store-v2", store)
    before = (store / "store.db").read_bytes()
    saver = PersistSaver(store)
    describe(saver)
    saver.close()
    assert (store / "store.db").read_bytes() == before


def test_upgrade_of_the_golden_v1_store(tmp_path: Path) -> None:
    """``upgrade`` converts store-v1 in place: same content, new layout, old files gone."""
    store = tmp_path / "store"
    shutil.copytree(GOLDEN / "store-v1", store)
    report = upgrade(store)
    assert report.records_copied == report.records_verified > 0
    assert sorted(p.name for p in store.iterdir()) == ["FORMAT", "locks", "store.db"]
    saver = PersistSaver(store)
    assert saver.store.describe().startswith("sqlite:")
    assert describe(saver) == json.loads((GOLDEN / "expected-v1.json").read_text())
    assert saver.verify().ok
    assert upgrade(store).already_upgraded


def test_golden_store_v2_schema_2_reads_back_exactly(tmp_path: Path) -> None:
    """SQLite schema 2: checkpoint rows carry facets, and filters on them stay exact."""
    store = tmp_path / "store"
    shutil.copytree(GOLDEN / "store-v2s2", store)
    before = (store / "store.db").read_bytes()
    saver = PersistSaver(store)
    assert describe(saver) == json.loads((GOLDEN / "expected-v2s2.json").read_text())
    assert saver.verify().ok
    for thread_id in saver.threads():
        history = list(saver.list({"configurable": {"thread_id": thread_id}}))
        for t in history:
            wanted = [h.config for h in history if h.metadata == t.metadata]
            found = saver.list({"configurable": {"thread_id": thread_id}}, filter=t.metadata)
            assert [f.config for f in found] == wanted
    saver.close()
    assert (store / "store.db").read_bytes() == before
