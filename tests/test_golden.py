"""The committed version-1 store must read back exactly, with every future release."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from langgraph_persist import PersistSaver
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
