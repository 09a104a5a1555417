"""Metadata filters pushed down to SQLite: never a different answer, far fewer records read.

The guarantee (facets.py): the store's answer is a superset of the matches, so
``list(filter=...)`` returns exactly what InMemorySaver returns whatever the
metadata holds, and on the default store a filter that matches few of many
checkpoints decodes few records. Each has a negative control below.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.base.id import uuid6
from langgraph.checkpoint.memory import InMemorySaver

from langgraph_persist import PersistSaver, keys
from langgraph_persist.crypto import Encryption
from langgraph_persist.facets import Scalar, facets_of, needles, pushable
from langgraph_persist.store.sqlite import SqliteStore

pytestmark = pytest.mark.timeout(120)

GOLDEN = Path(__file__).parent / "golden"

METADATA: list[dict[str, Any]] = [
    {"source": "loop", "step": 0},
    {"source": "input", "step": 1, "flag": True},
    {"source": "loop", "step": 2, "flag": 1},
    {"source": "loop", "step": 3, "flag": 1.0, "score": 0.5},
    {"source": "loop", "step": Decimal(4)},  # equals 4: these facets are unknown
    {"source": "update", "step": 5, "user": None, "nested": {"a": 1}, "tags": ["x"]},
    {"source": "loop", "step": 6, "weird key!": "v", "big": 2**60, "huge": 2.0**80},
    {"source": "1", "step": 7},
    {"step": 8},
    {"source": "loop", "step": 10, "flag": False, "text": 'a "quoted", {braced} text'},
    {"source": "loop", "step": 9.0, "ratio": float("inf"), "note": "n" * 300},
]

FILTERS: list[dict[str, Any]] = [
    {"source": "loop"},
    {"source": "input"},
    {"source": 1},
    {"source": "1"},
    {"flag": True},
    {"flag": 1},
    {"flag": 1.0},
    {"step": 4},
    {"step": 4.0},
    {"step": Decimal(4)},
    {"step": 9},
    {"step": True},
    {"user": None},
    {"source": None},
    {"nested": {"a": 1}},
    {"tags": ["x"]},
    {"weird key!": "v"},
    {"big": 2**60},
    {"huge": 2**80},
    {"score": 0.5},
    {"ratio": float("inf")},
    {"note": "n" * 300},
    {"source": "loop", "step": 3},
    {"flag": False},
    {"flag": 0},
    {"step": 0},
    {"step": False},
    {"text": 'a "quoted", {braced} text'},
    {"text": '"quoted"'},
    {"missing": None},
    {"missing": 0},
    {},
]


IDS = [str(uuid6(clock_seq=i)) for i in range(len(METADATA))]
"""The same checkpoint ids for every saver, so their answers compare directly."""


def _put_all(saver: Any, thread_id: str = "t") -> None:
    config: dict[str, Any] = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
    for checkpoint_id, metadata in zip(IDS, METADATA, strict=True):
        ckpt = empty_checkpoint()
        ckpt["id"] = checkpoint_id
        config = saver.put(config, ckpt, metadata, {})


def _ids(saver: Any, filter: dict[str, Any], thread_id: str = "t") -> list[str]:
    config = {"configurable": {"thread_id": thread_id}}
    return [t.checkpoint["id"] for t in saver.list(config, filter=filter)]


def check_filters_exact(saver: Any) -> None:
    """Every filter returns what InMemorySaver returns for the same puts."""
    reference = InMemorySaver()
    _put_all(reference)
    _put_all(saver)
    for f in FILTERS:
        assert _ids(saver, f) == _ids(reference, f), f"filter {f!r}"


# -- the rules, unit by unit --------------------------------------------------------------------


def test_facets_keep_only_what_sqlite_compares_like_python() -> None:
    assert facets_of({"source": "loop", "step": 3, "ok": True, "x": None}) == (
        '{"source":"loop","step":3,"ok":true,"x":null}'
    )
    assert facets_of({"step": 2.0, "score": 0.5, "nested": {"a": 1}, "l": [1]}) == '{"step":2}'
    assert facets_of({"big": 2**60, "bad key": "v", "s": "\ud800", "long": "x" * 257}) == "{}"
    assert facets_of({"step": Decimal(4)}) is None


def test_needles_spell_every_value_python_finds_equal() -> None:
    assert needles("flag", True) == (
        ['"flag":true,', '"flag":true}', '"flag":1,', '"flag":1}'],
        False,
    )
    assert needles("n", 0)[0] == ['"n":false,', '"n":false}', '"n":0,', '"n":0}']
    assert needles("u", None) == (['"u":null,', '"u":null}'], True)
    assert needles("s", 'say "hi"')[0][0] == '"s":"say \\"hi\\"",'


def test_only_scalars_with_safe_keys_are_pushed() -> None:
    assert pushable({"source": "loop", "step": 1, "ok": False, "u": None}) == {
        "source": "loop",
        "step": 1,
        "ok": False,
        "u": None,
    }
    assert pushable({"score": 0.5, "n": {"a": 1}, "bad key": 1, "big": 2**60, "s": "\udc00"}) == {}
    assert pushable({"long": "x" * 257}) == {}
    assert pushable(None) == {}


# -- exactness on every layout ------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["sqlite", "files"])
def test_filters_match_in_memory_saver(tmp_path: Path, layout: str) -> None:
    check_filters_exact(PersistSaver(tmp_path / "s", layout=layout))  # type: ignore[arg-type]


def test_filters_match_in_memory_saver_encrypted(tmp_path: Path) -> None:
    """Sealed stores get no facets (plaintext would leak the metadata) and stay exact."""
    saver = PersistSaver(
        tmp_path / "s", encryption=Encryption.from_keys({"k": Encryption.generate_key()})
    )
    check_filters_exact(saver)
    saver.close()
    with sqlite3.connect(tmp_path / "s" / "store.db") as db:
        assert db.execute("SELECT count(*) FROM entries WHERE facets IS NOT NULL").fetchone() == (
            0,
        )


class HidesUnknownFacets(SqliteStore):
    """Negative control: treats a row without facets as matching nothing."""

    def list_desc(
        self,
        prefix: keys.Key,
        *,
        before: str | None = None,
        limit: int | None = None,
        facets: Mapping[str, Scalar] | None = None,
    ) -> list[str]:
        names = super().list_desc(prefix, before=before, limit=limit, facets=facets)
        if not facets:
            return names
        db = self._reader()
        d = "/".join(prefix)
        return [
            n
            for n in names
            if db.execute(
                "SELECT facets IS NOT NULL FROM entries WHERE dir = ? AND name = ?", (d, n)
            ).fetchone()[0]
        ]


def test_negative_control_hiding_unknown_facets_is_caught(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="filter"):
        check_filters_exact(PersistSaver(store=HidesUnknownFacets(tmp_path / "s")))


# -- the cost -----------------------------------------------------------------------------------


class CountingSqliteStore(SqliteStore):
    """Counts the checkpoint records read."""

    checkpoints_read = 0

    def read_many(self, keys: Any) -> list[bytes | None]:
        self.checkpoints_read += sum(1 for k in keys if len(k) > 4 and k[4] == "c")
        return super().read_many(keys)


class IgnoresFacets(CountingSqliteStore):
    """Negative control: stores no facets, so every filter decodes every record."""

    def commit(self, **kwargs: Any) -> None:
        kwargs.pop("facets", None)
        super().commit(**kwargs)


def check_needle_reads_few(store: CountingSqliteStore) -> None:
    """One checkpoint in 300 matches: the filtered listing reads about one record."""
    saver = PersistSaver(store=store)
    config: dict[str, Any] = {"configurable": {"thread_id": "hay", "checkpoint_ns": ""}}
    for i in range(300):
        ckpt = empty_checkpoint()
        ckpt["id"] = str(uuid6(clock_seq=i))
        source = "needle" if i == 17 else "loop"
        config = saver.put(config, ckpt, {"source": source, "step": i}, {})
    store.checkpoints_read = 0
    found = list(saver.list({"configurable": {"thread_id": "hay"}}, filter={"source": "needle"}))
    assert [t.metadata["step"] for t in found] == [17]
    assert store.checkpoints_read <= 2, f"{store.checkpoints_read} checkpoint records read"


def test_a_selective_filter_decodes_few_records(tmp_path: Path) -> None:
    check_needle_reads_few(CountingSqliteStore(tmp_path / "s", durability="none"))


def test_negative_control_a_store_without_facets_reads_them_all(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="checkpoint records read"):
        check_needle_reads_few(IgnoresFacets(tmp_path / "s", durability="none"))


# -- schema 1 stores, rewrites and copies -------------------------------------------------------


def test_a_schema_1_store_is_migrated_at_its_first_write_and_stays_exact(tmp_path: Path) -> None:
    """Rows from before the facets column have none: they are candidates for every filter."""
    store = tmp_path / "store"
    shutil.copytree(GOLDEN / "store-v2", store)
    with sqlite3.connect(store / "store.db") as db:
        assert db.execute("PRAGMA user_version").fetchone() == (1,)
    saver = PersistSaver(store)
    check_filters_exact(saver)  # writes: migrates first
    saver.close()
    with sqlite3.connect(store / "store.db") as db:
        assert db.execute("PRAGMA user_version").fetchone() == (2,)
        unknown = db.execute(
            "SELECT count(*) FROM entries WHERE dir LIKE '%/c' AND facets IS NULL"
        ).fetchone()[0]
    assert unknown > 0  # the golden store's own checkpoints
    reopened = PersistSaver(store)
    golden_thread = next(t for t in reopened.threads() if t != "t")
    every = list(reopened.list({"configurable": {"thread_id": golden_thread}}))
    for t in every:  # a golden checkpoint's own metadata finds it
        f = {k: v for k, v in t.metadata.items() if pushable({k: v})}
        assert t.checkpoint["id"] in _ids(reopened, f, golden_thread)


def test_a_value_rewritten_without_facets_loses_them(tmp_path: Path) -> None:
    """What a repair or an older release writes: the trigger drops the stale facets."""
    store = SqliteStore(tmp_path / "s")
    key = ("threads", "t", "ns", "=", "c", "x")
    store.commit(write=[(key, b"one")], facets={key: '{"source":"loop"}'})
    store.write_many([(key, b"two")])
    store.close()
    with sqlite3.connect(tmp_path / "s" / "store.db") as db:
        assert db.execute("SELECT value, facets FROM entries WHERE name = 'x'").fetchone() == (
            b"two",
            None,
        )


def test_copied_checkpoints_keep_their_facets(tmp_path: Path) -> None:
    saver = PersistSaver(tmp_path / "s")
    _put_all(saver, "a")
    saver.copy_thread("a", "b")
    reference = InMemorySaver()
    _put_all(reference)
    for f in FILTERS:
        assert len(_ids(saver, f, "b")) == len(_ids(reference, f)), f
    saver.close()
    with sqlite3.connect(tmp_path / "s" / "store.db") as db:
        described = db.execute(
            "SELECT count(*) FROM entries WHERE dir LIKE 'threads/%/c' AND facets IS NOT NULL"
        ).fetchone()[0]
    assert described == 2 * (len(METADATA) - 1)  # all but the Decimal one, in both threads


# -- damage ---------------------------------------------------------------------------------------


def _one_copy(text: str) -> str:
    return text


class TrustsDamagedFacets(SqliteStore):
    """Negative control: stores one copy of the facets, so damage to it goes unseen."""

    _stored_facets = staticmethod(_one_copy)


def check_damaged_facets_hide_nothing(store: SqliteStore, path: Path) -> None:
    """A flipped byte turns a facet "loop" into "loxp": the checkpoint must still be listed."""
    saver = PersistSaver(store=store)
    _put_all(saver)
    want = _ids(saver, {"source": "loop"})
    saver.close()
    with sqlite3.connect(path / "store.db") as db:
        name, stored = db.execute(
            "SELECT name, facets FROM entries WHERE facets LIKE '%\"loop\"%' LIMIT 1"
        ).fetchone()
        damaged = stored.replace('"loop"', '"loxp"', 1)  # one byte, in the first copy
        db.execute("UPDATE entries SET facets = ? WHERE name = ?", (damaged, name))
    reopened = PersistSaver(store=type(store)(path))
    assert _ids(reopened, {"source": "loop"}) == want, "a damaged facet hid a checkpoint"
    reopened.close()


def test_damaged_facets_hide_no_checkpoint(tmp_path: Path) -> None:
    check_damaged_facets_hide_nothing(SqliteStore(tmp_path / "s"), tmp_path / "s")


def test_negative_control_trusting_damaged_facets_is_caught(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="damaged facet"):
        check_damaged_facets_hide_nothing(TrustsDamagedFacets(tmp_path / "s"), tmp_path / "s")
