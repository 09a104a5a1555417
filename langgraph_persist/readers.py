"""How migration reads a saver beyond LangGraph's interface: readers registered per class.

LangGraph's ``BaseCheckpointSaver`` can list checkpoints but not threads, and
its ``pending_writes`` drop each write's task path and index. Migration
(``migrate.py``) and snapshots read *any* saver through that interface, and
ask a ``SaverReader`` for more where one is registered for the saver's class
(or a base class): cheap thread listings, writes with their task paths, the
latest checkpoints without decoding a whole history.

Readers are keyed by the class object, never by its name: a class that merely
shares a name with a known saver gets the generic path, not a reader that
assumes its internals. Users register readers for their own savers with
``register_reader``. LangGraph's SQLite and Postgres savers get one only when
their module is already imported (a saver of that class exists), so this
module imports neither.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple, writes_sort_key
from langgraph.checkpoint.memory import InMemorySaver

from langgraph_persist.saver import PersistSaver

AnySaver = BaseCheckpointSaver[Any]


@dataclass(frozen=True)
class WriteCopy:
    """One pending write, with everything ``put_writes`` and ordering need."""

    task_id: str
    channel: str
    value: Any
    task_path: str = ""
    idx: int = 0


@dataclass(frozen=True)
class SaverReader:
    """What a saver can tell beyond ``list``/``get_tuple``; ``None`` fields fall back
    to the generic path (``list(None)`` for threads, ``pending_writes`` for writes)."""

    thread_ids: Callable[[Any], list[str]] | None = None
    """Every thread id the saver holds (no checkpoint decoded)."""
    writes: Callable[[Any, CheckpointTuple], tuple[WriteCopy, ...]] | None = None
    """A checkpoint's pending writes with their task paths and indexes."""
    latest: Callable[[Any, str], list[CheckpointTuple]] | None = None
    """A thread's newest checkpoint per namespace plus what its delta channels need."""


_READERS: dict[type, SaverReader] = {}


def register_reader(cls: type, reader: SaverReader) -> None:
    """Use ``reader`` for savers of ``cls`` and its subclasses (a later call replaces)."""
    _READERS[cls] = reader


def reader_for(saver: AnySaver) -> SaverReader:
    """The reader registered for the nearest class of ``saver``, or an empty one."""
    _register_loaded_sql_savers()
    for cls in type(saver).__mro__:
        found = _READERS.get(cls)
        if found is not None:
            return found
    return SaverReader()


# -- built-in readers --------------------------------------------------------------------------


def _ids(t: CheckpointTuple) -> tuple[str, str, str]:
    conf = t.config["configurable"]
    return str(conf["thread_id"]), conf.get("checkpoint_ns", ""), conf["checkpoint_id"]


def _persist_writes(saver: PersistSaver, t: CheckpointTuple) -> tuple[WriteCopy, ...]:
    thread_id, ns, checkpoint_id = _ids(t)
    return tuple(
        WriteCopy(w.task, w.channel, w.value, w.path, w.idx)
        for w in saver.stored_writes(thread_id, checkpoint_id, checkpoint_ns=ns)
    )


def _persist_latest(saver: PersistSaver, thread_id: str) -> list[CheckpointTuple]:
    """The latest per namespace without decoding the rest: the saver knows the chain."""
    out: list[CheckpointTuple] = []
    for ns in saver.namespaces(thread_id):
        tip = next(saver.checkpoint_ids(thread_id, checkpoint_ns=ns), None)
        if tip is None:
            continue
        for checkpoint_id in sorted(saver.delta_safe_chain(thread_id, tip, checkpoint_ns=ns)):
            config = {
                "configurable": {
                    "thread_id": thread_id,
                    "checkpoint_ns": ns,
                    "checkpoint_id": checkpoint_id,
                }
            }
            t = saver.get_tuple(config)  # type: ignore[arg-type]
            if t is not None:
                out.append(t)
    return out


def _memory_thread_ids(saver: InMemorySaver) -> list[str]:
    return [str(t) for t, namespaces in saver.storage.items() if any(namespaces.values())]


def _memory_writes(saver: InMemorySaver, t: CheckpointTuple) -> tuple[WriteCopy, ...]:
    """``InMemorySaver.writes`` keeps every write's task path (its public attribute)."""
    thread_id, ns, checkpoint_id = _ids(t)
    stored = saver.writes.get((thread_id, ns, checkpoint_id), {})
    order = sorted(stored, key=lambda k: writes_sort_key(stored[k][3], *k))
    return tuple(
        WriteCopy(
            task,
            stored[(task, idx)][1],
            saver.serde.loads_typed(stored[(task, idx)][2]),
            stored[(task, idx)][3],
            idx,
        )
        for task, idx in order
    )


def _sql_thread_ids(cursor: Callable[[Any], Any]) -> Callable[[Any], list[str]]:
    """``SELECT DISTINCT thread_id`` on LangGraph's SQL savers (same table in both),
    through the saver's own cursor method (``cursor`` in SQLite, ``_cursor`` in Postgres)."""

    def thread_ids(saver: Any) -> list[str]:
        with cursor(saver) as cur:
            cur.execute("SELECT DISTINCT thread_id FROM checkpoints")
            rows = cur.fetchall()
        return [str(row["thread_id"] if isinstance(row, Mapping) else row[0]) for row in rows]

    return thread_ids


register_reader(
    PersistSaver,
    SaverReader(
        thread_ids=lambda s: list(s.threads()), writes=_persist_writes, latest=_persist_latest
    ),
)
register_reader(InMemorySaver, SaverReader(thread_ids=_memory_thread_ids, writes=_memory_writes))

_SQL_SAVERS: tuple[tuple[str, str, Callable[[Any], Any]], ...] = (
    ("langgraph.checkpoint.sqlite", "SqliteSaver", lambda s: s.cursor()),
    ("langgraph.checkpoint.postgres", "PostgresSaver", lambda s: s._cursor()),
)


def _register_loaded_sql_savers() -> None:
    """Register LangGraph's SQL savers whose module is loaded (by class, see module doc)."""
    for module_name, class_name, cursor in _SQL_SAVERS:
        module = sys.modules.get(module_name)
        cls = vars(module).get(class_name) if module is not None else None
        if isinstance(cls, type) and cls not in _READERS:
            register_reader(cls, SaverReader(thread_ids=_sql_thread_ids(cursor)))
