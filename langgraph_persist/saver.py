"""``PersistSaver``: LangGraph's checkpointer interface over the engine.

One logic, two faces. Every decision lives in ``Engine`` (synchronous,
thread-safe); the sync methods call it directly and the async ones run it
with ``asyncio.to_thread``. Why not a separate async engine: file I/O has no
asynchronous kernel interface in Python (aiofiles also uses threads), and one
engine means sync and async can never disagree. Consequences users rely on:

* constructing the saver touches no event loop;
* the sync API works from any thread, including while an event loop runs
  elsewhere (nothing is bound to a loop);
* async calls never block the loop.
"""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import heapq
import itertools
import os
import random
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

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

from langgraph_persist import admin, maintenance, urls
from langgraph_persist.address import Address
from langgraph_persist.admin import HistoryEntry, StoreStats, ThreadInfo
from langgraph_persist.audit import AuditLog
from langgraph_persist.backup import BackupReport
from langgraph_persist.backup import backup as backup_store
from langgraph_persist.backup import restore as restore_store
from langgraph_persist.crypto import Encryption
from langgraph_persist.engine import Engine, ShareContent, StoredWrite
from langgraph_persist.errors import ConfigurationError, NotFoundError, RecordError
from langgraph_persist.extras import needs_extra
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
    from langgraph_persist.store.tiered import HotTierOptions

_LIST_BATCH = 32
"""``alist`` moves this many tuples per thread hop: fewer hops, bounded memory."""


def _refuse_ignored(
    path: str | os.PathLike[str] | None,
    durability: Durability | None,
    layout: Layout | None,
    redis: object,
    redis_cluster: object,
    s3: Store | None,
    store: Store | None,
    hot: HotTierOptions | None,
    read_only: bool,
) -> None:
    """Refuse keyword combinations where one would be silently ignored, and a URL
    given where a directory is expected (it would become a directory named ``redis:``)."""
    if path is not None and urls.is_url(path):
        raise ConfigurationError(
            f"{urls.redact(os.fspath(path))!r} is a URL, not a directory: use "
            "PersistSaver.from_conn_string(url) (or redis=/s3= for a hot or S3 tier)"
        )
    local = {"path": path, "durability": durability, "layout": layout}
    given_local = [name for name, value in local.items() if value is not None]
    if store is not None:
        extra = [
            name
            for name, value in {
                **local,
                "redis": redis,
                "redis_cluster": redis_cluster,
                "s3": s3,
                "hot": hot,
            }.items()
            if value is not None
        ]
        if extra or read_only:
            raise ConfigurationError(
                f"store= is a complete store: {', '.join(extra) or 'read_only'} would be ignored"
            )
    if s3 is not None and given_local:
        raise ConfigurationError(
            f"s3= replaces the local store: {', '.join(given_local)} would be ignored "
            "(an S3 store's durability is S3's)"
        )
    if read_only and any(x is not None for x in (redis, redis_cluster, s3)):
        raise ConfigurationError("read_only opens a store directory on its own")
    if read_only and durability is not None:
        raise ConfigurationError("read_only writes nothing: durability= would be ignored")
    if hot is not None and redis is None and redis_cluster is None:
        raise ConfigurationError("hot= configures a Redis tier: pass redis= or redis_cluster=")


def _local_kwargs(spec: urls.LocalSpec) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if spec.layout is not None:
        out["layout"] = spec.layout
    if spec.durability is not None:
        out["durability"] = spec.durability
    return out


def _open_s3(spec: urls.S3Spec) -> Store:
    with needs_extra("s3", "an S3 store"):
        from langgraph_persist.store.s3 import S3Store

    return S3Store(
        spec.bucket, prefix=spec.prefix, endpoint_url=spec.endpoint_url, region=spec.region
    )


def _hot_options(base: HotTierOptions | None, given: Mapping[str, Any]) -> HotTierOptions | None:
    if base is None and not given:
        return None
    with needs_extra("redis", "a Redis hot tier"):
        from langgraph_persist.store import tiered

    try:
        return dataclasses.replace(base, **given) if base else tiered.HotTierOptions(**given)
    except TypeError as exc:
        raise ConfigurationError(f"hot tier options: {exc}") from None


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
        _refuse_ignored(path, durability, layout, redis, redis_cluster, s3, store, hot, read_only)
        where = "./checkpoints" if path is None else path
        self.store: Store = (
            open_local(where, read_only=True, layout=layout)
            if read_only
            else self._make_store(
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
        self.engine = self._make_engine()
        self.audit = None if read_only else self._make_audit(audit_log, audit_ids)

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
        }
        if isinstance(spec, urls.LocalSpec):
            if hot is not None:
                raise ConfigurationError(f"hot= configures a Redis tier; {url!r} names none")
            return cls(spec.path, **common, **_local_kwargs(spec))
        if read_only:
            raise ConfigurationError(f"read_only opens a store directory, not {url!r}")
        cold: dict[str, Any] = (
            {"s3": _open_s3(spec.cold)}
            if isinstance(spec, urls.HotSpec) and isinstance(spec.cold, urls.S3Spec)
            else {}
        )
        if isinstance(spec, urls.S3Spec):
            if hot is not None:
                raise ConfigurationError(f"hot= configures a Redis tier; {url!r} names none")
            return cls(s3=_open_s3(spec), **common)
        if isinstance(spec.cold, urls.LocalSpec):
            cold = {"path": spec.cold.path, **_local_kwargs(spec.cold)}
        options = _hot_options(hot, spec.options)
        tier: dict[str, Any] = {"redis_cluster" if spec.cluster else "redis": spec.redis_url}
        return cls(**cold, **tier, hot=options, **common)

    from_url = from_conn_string
    """The same as ``from_conn_string`` (the name some tools look for)."""

    @staticmethod
    def _make_store(
        path: str | os.PathLike[str],
        redis: str | Redis | AsyncRedis | None,
        redis_cluster: ClusterTarget | None,
        s3: Store | None,
        hot: HotTierOptions | None,
        durability: Durability | None,
        store: Store | None,
        layout: Layout | None,
        encryption: Encryption | None = None,
    ) -> Store:
        """The composition root: which cold tier, and which hot tier over it.

        A hot tier's MAC is keyed from ``encryption`` too, when there is one
        (``store/hot_auth.py``)."""
        if store is not None:
            return store
        if redis is not None and redis_cluster is not None:
            raise ConfigurationError("pass redis= or redis_cluster=, not both")
        cold = (
            s3
            if s3 is not None
            else open_local(path, durability=durability or "fsync", layout=layout)
        )
        if redis is not None:
            with needs_extra("redis", "a Redis hot tier"):
                from langgraph_persist.store.tiered import build_tiered

            return build_tiered(cold, redis, hot, encryption=encryption)
        if redis_cluster is not None:
            with needs_extra("redis", "a Redis Cluster hot tier"):
                from langgraph_persist.store.redis_cluster import build_cluster_tiered

            return build_cluster_tiered(cold, redis_cluster, hot, encryption=encryption)
        return cold

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
        await asyncio.to_thread(self.close)

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
        addresses = [
            a
            for a in self.engine.namespaces(str(thread_id))
            if checkpoint_ns is None or a.checkpoint_ns == checkpoint_ns
        ]
        streams = [self.engine.newest_first(a) for a in addresses]
        merged = heapq.merge(*streams, key=lambda item: item[0], reverse=True)
        for cid, a in itertools.islice(merged, limit):
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

    def stats(self) -> StoreStats:
        """Counts and sizes of what is stored, per tier."""
        return maintenance.stats(self.engine)

    # -- async API --------------------------------------------------------------------------------

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await asyncio.to_thread(self.engine.get_tuple, config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        it = self.engine.checkpoints(config, filter=filter, before=before, limit=limit)

        def next_batch() -> list[CheckpointTuple]:
            batch = []
            for item in it:
                batch.append(item)
                if len(batch) >= _LIST_BATCH:
                    break
            return batch

        while batch := await asyncio.to_thread(next_batch):
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
        return await asyncio.to_thread(self.engine.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await asyncio.to_thread(self.engine.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await asyncio.to_thread(self.delete_thread, thread_id)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await asyncio.to_thread(self.delete_for_runs, run_ids)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await asyncio.to_thread(self.copy_thread, source_thread_id, target_thread_id)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        await asyncio.to_thread(self.prune, thread_ids, strategy=strategy)

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        return await asyncio.to_thread(self.engine.get_delta_channel_history, config, channels)
