"""The store contract (``langgraph_persist.testing``) on the local stores, and on broken ones.

``TestFileStoreContract`` and ``TestSqliteStoreContract`` run the contract as a
user with their own store would: subclass, provide ``store``. The negative
controls show that the lock tests fail on stores whose locks do not exclude
(as the house rules ask of every guarantee), and that ``try_lock`` neither
waits nor leaves anything held.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from langgraph_persist import keys
from langgraph_persist.keys import Key
from langgraph_persist.store.base import Store
from langgraph_persist.store.files import FileStore
from langgraph_persist.store.sqlite import SqliteStore
from langgraph_persist.testing import StoreContract, try_lock
from langgraph_persist.testing.store_contract import OTHER, T

ROOT = Path(__file__).resolve().parent.parent


class TestFileStoreContract(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[Store]:
        s = FileStore(tmp_path / "store", durability="none")
        yield s
        s.close()


class TestSqliteStoreContract(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[Store]:
        s = SqliteStore(tmp_path / "store", durability="none")
        yield s
        s.close()


# -- negative controls: stores whose locks are broken fail the lock tests ---------------------


class NoLocks(SqliteStore):
    """Every lock is granted at once: nothing excludes anything."""

    def lock(self, key: Key, exclusive: bool = True) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()


class SharedAlwaysExclusive(SqliteStore):
    """Shared holders exclude each other (writers of one thread would serialize)."""

    def lock(self, key: Key, exclusive: bool = True) -> contextlib.AbstractContextManager[None]:
        return super().lock(key, True)


class SharedNeverExcludes(SqliteStore):
    """A shared holder does not keep an exclusive one out (deletes race writers)."""

    def lock(self, key: Key, exclusive: bool = True) -> contextlib.AbstractContextManager[None]:
        if not exclusive:
            return contextlib.nullcontext()
        return super().lock(key, True)


@pytest.mark.parametrize(
    ("broken", "test"),
    [
        (NoLocks, "test_lock_is_exclusive"),
        (NoLocks, "test_shared_locks_share_and_exclude_exclusive"),
        (SharedAlwaysExclusive, "test_shared_locks_share_and_exclude_exclusive"),
        (SharedNeverExcludes, "test_shared_locks_share_and_exclude_exclusive"),
    ],
)
def test_lock_tests_fail_on_broken_locks(tmp_path: Path, broken: type[Store], test: str) -> None:
    store = broken(tmp_path / "store", durability="none")  # type: ignore[call-arg]
    try:
        with pytest.raises(AssertionError):
            getattr(TestSqliteStoreContract(), test)(store)
    finally:
        store.close()


@pytest.mark.parametrize("layout", [FileStore, SqliteStore])
def test_try_lock_never_waits_and_leaves_nothing_held(tmp_path: Path, layout: type[Store]) -> None:
    store = layout(tmp_path / "store", durability="none")  # type: ignore[call-arg]
    key = keys.thread_dir(T)
    with store.lock(key):
        assert not try_lock(store, key)
        assert not try_lock(store, key, exclusive=False)
        assert try_lock(store, keys.thread_dir(OTHER))
    assert try_lock(store, key)
    assert try_lock(store, key)  # the attempt released what it took
    with store.lock(key, exclusive=False):
        assert try_lock(store, key, exclusive=False)
        assert not try_lock(store, key)
    store.close()


def test_importing_the_package_does_not_import_pytest() -> None:
    """The contract needs pytest; ``import langgraph_persist`` (and the saver) must not."""
    code = (
        "import sys, langgraph_persist, langgraph_persist.saver\n"
        "assert 'pytest' not in sys.modules, 'pytest imported'\n"
        "assert 'langgraph_persist.testing' not in sys.modules, 'testing imported'\n"
        "import langgraph_persist.testing\n"
        "assert 'pytest' in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
