"""``PersistSaver``: LangGraph's checkpointer interface over the engine.

One logic, two faces. Every decision lives in ``Engine`` (synchronous,
thread-safe); the sync methods call it, and every async method runs *the
public sync method of the same name* (``aput`` runs ``put``...) on the saver's
own bounded thread pool (``async_workers`` threads, default 4). Why not a
separate async engine: file I/O has no asynchronous kernel interface in Python
(aiofiles also uses threads), and one path means auditing, checks and
subclass overrides never differ between the two faces. Why not the loop's
default executor (``asyncio.to_thread``): LangGraph runs sync nodes there, so
a slow disk would starve the user's graph, and a slow graph its checkpoints.
Consequences users rely on:

* constructing the saver touches no event loop (the pool starts no thread
  until the first async call);
* the sync API works from any thread, including while an event loop runs
  elsewhere (nothing is bound to a loop);
* async calls never block the loop, and at most ``async_workers`` of them run
  at once per saver (more wait their turn);
* cancelling an awaiting task does not stop a write already handed to a
  thread: it completes (or fails) on its own, atomically, and only the
  result is lost (docs/reliability.md, "Async calls and cancellation").
"""

from __future__ import annotations

import asyncio
import builtins
import contextvars
import functools
import heapq
import itertools
import os
import random
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from langgraph_persist import admin, build, maintenance, urls
from langgraph_persist.address import Address
from langgraph_persist.admin import HistoryEntry, StoreStats, ThreadInfo
from langgraph_persist.audit import AuditLog
from langgraph_persist.backup import BackupReport
from langgraph_persist.backup import backup as backup_store
from langgraph_persist.backup import restore as restore_store
from langgraph_persist.crypto import Encryption
from langgraph_persist.engine import Engine, ShareContent, StoredWrite
from langgraph_persist.errors import ConfigurationError, NotFoundError, RecordError, StoreError
from langgraph_persist.maintenance import GcReport
from langgraph_persist.store.base import Store
from langgraph_persist.store.files import AUDIT_LOG
from langgraph_persist.store.local import Layout, open_local
from langgraph_persist.store.sqlite import Durability
from langgraph_persist.storemeta import open_meta
from langgraph_persist.verify import Progress, VerifyReport, verify

if TYPE_CHECKING:
    from redis import Redis
    from redis.asyncio import Redis as AsyncRedis

    from langgraph_persist.store.redis_cluster import ClusterTarget
    from langgraph_persist.store.tiered_options import HotTierOptions

_LIST_BATCH = 32
"""``alist`` moves this many tuples per thread hop: fewer hops, bounded memory."""
ASYNC_WORKERS = 4
"""Default size of a saver's own pool for its async methods (``async_workers``)."""
R = TypeVar("R")


class PersistSaver(BaseCheckpointSaver[str]):
    """A durable, verified LangGraph checkpointer on the local file system.

    Example::

        from langgraph_persist import PersistSaver

        graph = builder.compile(checkpointer=PersistSaver("./checkpoints"))
        graph.invoke(inputs, {"configurable": {"thread_id": "user-42"}})

    To name the store by a URL (``s3://``, ``redis://...?cold=DIR``...) use
    ``PersistSaver.from_conn_string(url)``; the grammar is in ``urls.py``.

    Args:
        path: the store's directory (default ``./checkpoints``), created (mode
            0700) when missing; it must be empty or an existing langgraph-persist
            store. A URL here is refused (``ConfigurationError``), never made a
            directory. A ``Store`` here is the same as ``store=``.
        redis: a Redis URL (``redis://``, ``rediss://`` with TLS, user and password
            in the URL) or a ready client: adds the Redis hot tier over ``path``
            (see docs/tiers.md). Plain Redis >= 6, no modules.
        redis_cluster: a Redis Cluster (startup nodes, URL or ``RedisCluster``) as the
            hot tier instead of a single Redis (docs/scaling.md).
        s3: an ``S3Store`` as the cold tier instead of the directory at ``path``.
        hot: how the hot tier behaves (``HotTierOptions``: write mode, TTL, ...).
        durability: of the local store, so not with ``s3=`` or ``store=`` (those
            bring their own). ``"fsync"`` (default): a put returns once the checkpoint
            survives a power cut. ``"none"``: writes are still atomic (a killed
            process never leaves a torn record) but the OS decides when they
            reach the disk.
        serde: LangGraph serializer; defaults to LangGraph's ``JsonPlusSerializer``
            with its allowlists. Never pickle unless you configure it yourself.
        store: use this complete ``Store``; ``path``, ``durability``, ``layout`` and
            the tier keywords are then refused rather than ignored.
        layout: the layout of a *new* local store: ``"sqlite"`` (default: one
            transactional database) or ``"files"`` (one file per record, the 0.1
            layout). An existing store keeps the layout it has.
        encryption: encrypt every record at rest (AES-256-GCM, see ``crypto.py``),
            e.g. ``Encryption.from_env()``. Off by default.
        audit_log: where destructive operations are logged (JSON lines). Defaults
            to ``audit.jsonl`` in the store's directory; ``False`` turns it off.
        audit_ids: ``"hashed"`` logs thread, run and checkpoint ids as keyed digests,
            so the log can be kept after an erasure request (docs/security.md).
        fencing: refuse stale writers: a continuing put (source "loop" or "input")
            must extend the latest checkpoint of its namespace, else
            ``FencedWriterError``. Forks (time travel, ``update_state``) always work.
        read_only: inspect an existing store without writing anything (a backup, a
            read-only mount, another user's files): every write raises ``StoreError``.
        share_content: ``"store"`` (default): equal content is stored once for the
            whole store (forks, copies and repeated messages cost nothing). ``"thread"``:
            content is addressed per thread, so a writer cannot learn from the store's
            growth whether another thread holds a value it guesses; threads then share
            nothing. Choose it when mutually distrusting parties write one store.
        async_workers: threads of the saver's own pool that run its async methods
            (default 4): at most this many async calls of this saver run at once.
            LangGraph's sync nodes keep the loop's default executor to themselves.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | Store | None = None,
        *,
        redis: str | Redis | AsyncRedis | None = None,
        redis_cluster: ClusterTarget | None = None,
        s3: Store | None = None,
        hot: HotTierOptions | None = None,
        durability: Durability | None = None,
        layout: Layout | None = None,
        serde: SerializerProtocol | None = None,
        store: Store | None = None,
        encryption: Encryption | None = None,
        audit_log: str | os.PathLike[str] | bool | None = None,
        audit_ids: Literal["plain", "hashed"] = "plain",
        fencing: bool = False,
        read_only: bool = False,
        share_content: ShareContent = "store",
        async_workers: int = ASYNC_WORKERS,
    ) -> None:
        if getattr(serde, "pickle_fallback", False):
            raise ConfigurationError(
                "refusing a serializer with pickle_fallback=True: loading a checkpoint would "
                "unpickle stored bytes, which can execute code"
            )
        super().__init__(serde=serde)
        if path is not None and not isinstance(path, (str, os.PathLike)):
            # PersistSaver(store_or_path): a Store
            if store is not None:
                raise ConfigurationError("pass the store once: positionally or as store=")
            path, store = None, path
        build.refuse_ignored(
            path, durability, layout, redis, redis_cluster, s3, store, hot, read_only
        )
        where = "./checkpoints" if path is None else path
        self.store: Store = (
            open_local(where, read_only=True, layout=layout)
            if read_only
            else build.make_store(
                where, redis, redis_cluster, s3, hot, durability, store, layout, encryption
            )
        )
        self.encryption = encryption
        self.fencing = fencing
        self.read_only = read_only
        if share_content not in ("store", "thread"):
            raise ConfigurationError(
                f"share_content must be 'store' or 'thread', not {share_content!r}"
            )
        self.share_content: ShareContent = share_content
        if (
            not isinstance(async_workers, int)
            or isinstance(async_workers, bool)
            or async_workers < 1
        ):
            raise ConfigurationError(f"async_workers must be an int >= 1, not {async_workers!r}")
        self.engine = self._make_engine()
        self.audit = None if read_only else self._make_audit(audit_log, audit_ids)
        self.async_workers = async_workers
        self._async_pool = ThreadPoolExecutor(async_workers, thread_name_prefix="lgp-async")

    @classmethod
    def from_conn_string(
        cls,
        url: str | os.PathLike[str] | urls.StoreSpec,
        *,
        serde: SerializerProtocol | None = None,
        encryption: Encryption | None = None,
        hot: HotTierOptions | None = None,
        audit_log: str | os.PathLike[str] | bool | None = None,
        audit_ids: Literal["plain", "hashed"] = "plain",
        fencing: bool = False,
        read_only: bool = False,
        share_content: ShareContent = "store",
        async_workers: int = ASYNC_WORKERS,
    ) -> PersistSaver:
        """A saver over the store ``url`` names (the grammar is in ``urls.py``):

        ``./checkpoints``, ``file:///abs/dir``, ``s3://bucket/prefix``,
        ``redis://host:6379/0?cold=./checkpoints`` (a Redis hot tier over a
        directory), ``rediss+cluster://node:7000?cold=s3://bucket/prefix``...

        Usable as a context manager like LangGraph's savers (it closes the
        store)::

            with PersistSaver.from_conn_string("./checkpoints") as saver:
                graph = builder.compile(checkpointer=saver)

        ``hot`` sets hot-tier options beyond those the URL gives (``mode``,
        ``ttl``, ``key_prefix``, ``timeout``); the URL's win. The other keywords
        are the constructor's.
        """
        spec = url if isinstance(url, urls.SPEC_TYPES) else urls.parse(url)
        url = urls.describe(spec)
        common: dict[str, Any] = {
            "serde": serde,
            "encryption": encryption,
            "audit_log": audit_log,
            "audit_ids": audit_ids,
            "fencing": fencing,
            "read_only": read_only,
            "share_content": share_content,
            "async_workers": async_workers,
        }
        if read_only and not isinstance(spec, urls.LocalSpec):
            raise ConfigurationError(f"read_only opens a store directory, not {url!r}")
        return cls(**build.saver_kwargs(spec, hot), **common)

    from_url = from_conn_string
    """The same as ``from_conn_string`` (the name some tools look for)."""

    @property
    def encrypted(self) -> bool:
        """Whether the store's records are encrypted (its meta record says so; a saver
        opened read-only without the key can still tell)."""
        return bool(self.store_keys.encrypted)

    def flush(self, timeout: timedelta | None = None) -> None:
        """Wait until every acknowledged write is in the cold tier (write-behind mode)."""
        self.store.flush(timeout)

    def pin_thread(self, thread_id: str) -> None:
        """Keep a thread in the Redis hot tier regardless of its TTL (``ConfigurationError``
        without a hot tier: see ``Store.pins_threads``)."""
        self.store.pin_thread(self.engine.name(thread_id))

    def is_pinned(self, thread_id: str) -> bool:
        """Whether ``pin_thread`` keeps this thread in the hot tier."""
        return self.store.is_pinned(self.engine.name(thread_id))

    def unpin_thread(self, thread_id: str) -> None:
        """Let a pinned thread expire from the hot tier again."""
        self.store.unpin_thread(self.engine.name(thread_id))

    def _make_audit(
        self, audit_log: str | os.PathLike[str] | bool | None, audit_ids: str
    ) -> AuditLog | None:
        if audit_log is False:
            return None
        if audit_ids not in ("plain", "hashed"):
            raise ConfigurationError(f"audit_ids must be 'plain' or 'hashed', not {audit_ids!r}")
        # keyed like the store's names when it has a key: unguessable without it
        hash_ids = (self.store_keys.name_key or b"lgp-audit") if audit_ids == "hashed" else None
        if audit_log is None or audit_log is True:
            root = self.store.source_of_truth().local_root()
            return AuditLog(os.path.join(root, AUDIT_LOG), hash_ids=hash_ids) if root else None
        return AuditLog(audit_log, hash_ids=hash_ids)

    def _audit(self, op: str, **details: Any) -> None:
        if self.audit is not None:
            self.audit.record(op, **details)

    def _make_engine(self) -> Engine:
        if "store_keys" not in self.__dict__:
            # Refuses a keyless writer of an encrypted store, and a wrong key.
            self.store_keys = open_meta(self.store, self.encryption, read_only=self.read_only)
        return Engine(
            self.store,
            self.serde,
            sealer=self.encryption,
            hash_key=self.store_keys.hash_key,
            name_key=self.store_keys.name_key,
            fencing=self.fencing,
            check_addresses=self.store_keys.stable_addresses,
            share_content=self.share_content,
        )

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name == "serde" and "engine" in self.__dict__:
            # ``with_allowlist`` assigns a new serde to a shallow copy: give the
            # copy its own engine (same store), so the original keeps its allowlist.
            object.__setattr__(self, "engine", self._make_engine())

    # -- lifecycle --------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the store and let the async pool's threads end (calls already running
        finish first; this may itself run on one of them, from ``__aexit__``)."""
        self._async_pool.shutdown(wait=False)
        self.store.close()

    def __enter__(self) -> PersistSaver:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> PersistSaver:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._call(self.close)

    # -- sync API ---------------------------------------------------------------------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self.engine.get_tuple(config)

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        return self.engine.checkpoints(config, filter=filter, before=before, limit=limit)

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return self.engine.put(config, checkpoint, metadata, new_versions)

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self.engine.put_writes(config, writes, task_id, task_path)

    def delete_thread(self, thread_id: str) -> None:
        self.engine.delete_thread(thread_id)
        self._audit("delete_thread", thread_id=thread_id)

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self.engine.delete_for_runs(run_ids)
        self._audit("delete_for_runs", run_ids=list(run_ids))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        if self.share_content == "thread":
            from langgraph_persist.migrate import read_thread, write_thread  # migrate uses us

            # threads share nothing: the copy's content is stored under its own key
            try:
                items = read_thread(self, str(source_thread_id))
            except NotFoundError:
                return  # like copying an empty thread in the default mode
            write_thread(self, str(target_thread_id), items, all_channels=True)
            return
        self.engine.copy_thread(source_thread_id, target_thread_id)

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self.engine.prune(thread_ids, strategy)
        self._audit("prune", thread_ids=list(thread_ids), strategy=strategy)

    def get_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        return self.engine.get_delta_channel_history(config, channels)

    def get_next_version(self, current: str | None, channel: None) -> str:
        """Zero-padded counter plus a random fraction, as LangGraph's SQL savers do.

        Strings sort like the numbers they hold; the random part keeps two forks
        that reach the same step from producing the same version.
        """
        if current is None:
            current_v = 0
        elif isinstance(current, int):
            current_v = current
        else:
            current_v = int(current.split(".")[0])
        return f"{current_v + 1:032}.{random.random():016}"

    # -- administration (also what the CLI calls) -------------------------------------------------

    def verify(self, *, repair: bool = False, progress: Progress | None = None) -> VerifyReport:
        """Check every record's digest and reference; ``repair`` restores from another tier."""
        report = verify(self.engine, repair=repair, progress=progress)
        rebuilt = self.store.source_of_truth().describe()
        if repair and any(d.repaired and d.location == rebuilt for d in report.damaged):
            # the store was rebuilt (salvage): read its own record again
            del self.store_keys
            self.engine = self._make_engine()
        if repair:
            repaired = [d.location for d in report.damaged if d.repaired]
            self._audit("repair", repaired=repaired, unrepaired=len(report.damaged) - len(repaired))
        return report

    def gc(
        self,
        *,
        progress: Progress | None = None,
        tombstone_grace: timedelta = maintenance.TOMBSTONE_GRACE,
    ) -> GcReport:
        """Reclaim content no checkpoint references any more (after deletes and prunes),
        and erase deleted threads' bookkeeping (run index entries; tombstones older
        than ``tombstone_grace``)."""
        report = maintenance.gc(self.engine, progress=progress, tombstone_grace=tombstone_grace)
        self._audit("gc", blobs_deleted=report.blobs_deleted, bytes_freed=report.bytes_freed)
        return report

    def reencrypt(self, *, progress: Progress | None = None) -> int:
        """Rewrite every record under the current key (after adding a new key, or
        to encrypt a store written without encryption). Returns records rewritten."""
        return maintenance.reencrypt(self.engine, progress=progress)

    def history(
        self,
        thread_id: str,
        *,
        checkpoint_ns: str | None = None,
        limit: int | None = None,
    ) -> Iterator[HistoryEntry]:
        """A thread's checkpoints newest first, like ``list``, but damage stays local.

        ``list`` (and so ``graph.get_state_history``) raises at the first damaged
        checkpoint, as a reader must. This yields every checkpoint instead, each
        with its tuple or with the error that reading it raised, so tools can show
        and export what is good and mark what is not.
        """
        if limit is not None and limit <= 0:  # as ``list``: nothing, not a ValueError
            return
        addresses = [
            a
            for a in self.engine.namespaces(str(thread_id))
            if checkpoint_ns is None or a.checkpoint_ns == checkpoint_ns
        ]
        streams = [self.engine.newest_first(a) for a in addresses]
        merged = heapq.merge(*streams, key=lambda item: item[0], reverse=True)
        # islice refuses a stop past sys.maxsize; no thread holds that many checkpoints,
        # so such a limit (the CLI passes what was typed) is no limit
        stop = None if limit is None or limit > sys.maxsize else limit
        for cid, a in itertools.islice(merged, stop):
            config = a.config(cid)
            try:
                yield HistoryEntry(config, self.engine.get_tuple(config), None)
            except RecordError as exc:
                yield HistoryEntry(config, None, exc)

    def drop_checkpoint(
        self, thread_id: str, checkpoint_id: str, *, checkpoint_ns: str = ""
    ) -> Sequence[str]:
        """Delete one checkpoint and its pending writes (a damaged one, typically).

        Returns the ids of its children that no longer read (a ``DeltaChannel``
        child may need its parent); children that read on are not listed.
        """
        a = self.engine.address(thread_id, checkpoint_ns)
        children = [
            cid
            for cid, _a in self.engine.newest_first(a)
            if self._parent_of(a, cid) == checkpoint_id
        ]
        self.engine.delete_checkpoints(a, [checkpoint_id])
        self._audit("drop_checkpoint", thread_id=thread_id, checkpoint_id=checkpoint_id)
        return [cid for cid in children if not self._reads(a, cid)]

    def drop_checkpoints(
        self,
        thread_id: str,
        checkpoint_ids: Sequence[str],
        *,
        checkpoint_ns: str = "",
        strategy: str = "drop",
    ) -> None:
        """Delete several checkpoints of one namespace and their pending writes, in the
        engine's crash-safe order (records, then writes), audited as a ``prune`` with
        ``strategy``. Callers keep what must stay (``delta_safe_chain``); retention does."""
        a = self.engine.address(str(thread_id), checkpoint_ns)
        ids = list(checkpoint_ids)
        self.engine.delete_checkpoints(a, ids)
        self._audit(
            "prune",
            thread_id=a.thread_id,
            checkpoint_ns=checkpoint_ns,
            checkpoint_ids=ids,
            strategy=strategy,
        )

    def delta_safe_chain(
        self, thread_id: str, checkpoint_id: str, *, checkpoint_ns: str = ""
    ) -> set[str]:
        """The checkpoint plus every ancestor its ``DeltaChannel`` values are rebuilt
        from: what must be kept for it to read the same (see delta.py)."""
        a = self.engine.address(str(thread_id), checkpoint_ns)
        return self.engine.delta_safe_chain(a, checkpoint_id)

    def _reads(self, a: Address, checkpoint_id: str) -> bool:
        try:
            self.engine.get_tuple(a.config(checkpoint_id))
        except (RecordError, KeyError):
            return False
        return True

    def _parent_of(self, a: Address, checkpoint_id: str) -> str | None:
        try:
            rec = self.engine.checkpoint_record(a, checkpoint_id)
        except RecordError:
            return None
        return None if rec is None else rec.get("parent")

    # -- reading for tools (admin.py holds the types and the logic) -------------------------------

    def threads(self) -> Sequence[str]:
        """Every thread id in the store, sorted (names the store cannot map back are skipped)."""
        return admin.thread_ids(self.engine)

    def thread_info(self, thread_id: str) -> ThreadInfo:
        """Counts, size, namespaces and the latest checkpoint's time, step and metadata of
        one thread, decoding no channel value (see ``ThreadInfo``). A damaged latest
        checkpoint does not raise: what can be read is filled. ``NotFoundError`` for a
        thread the store does not hold."""
        return admin.thread_info(self.engine, thread_id)

    def thread_infos(self, *, prefix: str | None = None) -> builtins.list[ThreadInfo]:
        """``thread_info`` of every thread whose id starts with ``prefix`` (all when
        ``None``), newest activity (``latest_time``) first."""
        return admin.thread_infos(self.engine, prefix)

    def namespaces(self, thread_id: str) -> builtins.list[str]:
        """A thread's checkpoint namespaces, sorted: ``""`` (the root) and its subgraphs'."""
        return admin.namespaces(self.engine, thread_id)

    def checkpoint_ids(self, thread_id: str, *, checkpoint_ns: str = "") -> Iterator[str]:
        """One namespace's checkpoint ids, newest first, read lazily in pages (no decode)."""
        return admin.checkpoint_ids(self.engine, thread_id, checkpoint_ns)

    def stored_writes(
        self, thread_id: str, checkpoint_id: str, *, checkpoint_ns: str = ""
    ) -> builtins.list[StoredWrite]:
        """A checkpoint's pending writes with everything stored: task path and index
        too, which ``get_tuple``'s ``pending_writes`` drop (LangGraph's shape); copies
        (migration, snapshots) keep them so a copy replays in the same order."""
        return self.engine.stored_writes(
            self.engine.address(str(thread_id), checkpoint_ns), checkpoint_id
        )

    def record_sizes(self, thread_id: str) -> dict[tuple[str, str], int]:
        """(namespace, checkpoint id) -> bytes of its checkpoint record plus its write
        records (shared content is counted in ``stats``, not here)."""
        return admin.record_sizes(self.engine, thread_id)

    def chain(
        self, thread_id: str, checkpoint_id: str, *, checkpoint_ns: str = ""
    ) -> builtins.list[str]:
        """Ids from ``checkpoint_id`` back to the root of its namespace by parent links
        (stopping at a parent no longer stored). ``NotFoundError`` for an unknown one."""
        return admin.chain(self.engine, thread_id, checkpoint_id, checkpoint_ns)

    def fork(
        self,
        thread_id: str,
        checkpoint_id: str,
        new_thread_id: str,
        *,
        checkpoint_ns: str = "",
    ) -> None:
        """Copy a thread up to and including one checkpoint into a new thread.

        Like ``copy_thread`` from a checkpoint: the fork's latest checkpoint is
        ``checkpoint_id`` (with its pending writes, so an interrupt there can be
        resumed in the fork). The whole ancestor chain comes along, so
        ``DeltaChannel`` values read the same (see ``admin.fork_selection``).
        Raises ``ThreadExistsError`` when ``new_thread_id`` has checkpoints and
        ``NotFoundError`` for an unknown checkpoint; nothing is written then.
        """
        from langgraph_persist.migrate import read_checkpoints, write_thread  # migrate uses us

        picked = admin.fork_selection(self.engine, thread_id, checkpoint_id, checkpoint_ns)
        items = read_checkpoints(self, str(thread_id), picked)
        write_thread(self, str(new_thread_id), items, all_channels=True)
        self._audit(
            "fork",
            thread_id=thread_id,
            checkpoint_id=checkpoint_id,
            checkpoint_ns=checkpoint_ns,
            new_thread_id=new_thread_id,
        )

    def backup(
        self, dest: str | os.PathLike[str], *, progress: Progress | None = None
    ) -> BackupReport:
        """A consistent, verified copy of the whole store at ``dest``, while writers run
        (an SQLite store; incremental when ``dest`` holds an earlier backup). See backup.py."""
        report = backup_store(self, dest, progress=progress)
        self._audit("backup", dest=os.fspath(dest), records=report.records)
        return report

    def restore(
        self, source: str | os.PathLike[str], *, progress: Progress | None = None
    ) -> BackupReport:
        """Copy the backup at ``source`` into this (empty) store, after verifying it."""
        report = restore_store(source, self, progress=progress)
        # the backup's own meta/store came with it: names and addresses are keyed by its secret
        del self.store_keys
        self.engine = self._make_engine()
        self._audit("restore", source=os.fspath(source), records=report.records)
        return report

    def stats(self, *, dedup: bool = False) -> StoreStats:
        """Counts and sizes of what is stored, per tier; ``dedup=True`` also computes
        ``dedup_ratio``, which reads every checkpoint and writes record."""
        return maintenance.stats(self.engine, dedup=dedup)

    # -- async API: each runs the public sync method of its name on the saver's pool ----------

    async def _call(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> R:
        """``fn(*args, **kwargs)`` on the saver's own pool, in a copy of the caller's
        context (as ``asyncio.to_thread`` does: tracing and callbacks see their vars).

        Cancelling the awaiting task abandons the result, not the call: see the
        module docstring."""
        loop = asyncio.get_running_loop()
        ctx = contextvars.copy_context()
        call = functools.partial(ctx.run, fn, *args, **kwargs)
        try:
            future = loop.run_in_executor(self._async_pool, call)
        except RuntimeError:  # the pool was shut down: by close()
            raise StoreError("the saver is closed") from None
        return await future

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await self._call(self.get_tuple, config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        it = await self._call(self.list, config, filter=filter, before=before, limit=limit)

        def next_batch() -> builtins.list[CheckpointTuple]:
            batch = []
            for item in it:
                batch.append(item)
                if len(batch) >= _LIST_BATCH:
                    break
            return batch

        while batch := await self._call(next_batch):
            for item in batch:
                yield item
            if len(batch) < _LIST_BATCH:
                return

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return await self._call(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await self._call(self.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await self._call(self.delete_thread, thread_id)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await self._call(self.delete_for_runs, run_ids)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await self._call(self.copy_thread, source_thread_id, target_thread_id)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        await self._call(self.prune, thread_ids, strategy=strategy)

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        return await self._call(self.get_delta_channel_history, config=config, channels=channels)
