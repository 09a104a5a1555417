"""The composition root: which stores a ``PersistSaver``'s arguments (or a store URL) name.

Kept apart from ``saver.py`` so the saver reads as LangGraph's interface plus
its admin API, and so the rules live in one place: which cold tier, which hot
tier over it, and which keyword combinations are refused because one of them
would be silently ignored. The Redis and S3 modules are imported only here and
only when asked for (``extras.needs_extra``), so a file-only saver never loads
them.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from langgraph_persist import urls
from langgraph_persist.crypto import Encryption
from langgraph_persist.errors import ConfigurationError
from langgraph_persist.extras import needs_extra
from langgraph_persist.store.base import Store
from langgraph_persist.store.local import Layout, open_local
from langgraph_persist.store.sqlite import Durability
from langgraph_persist.store.tiered_options import HotTierOptions

if TYPE_CHECKING:
    from redis import Redis
    from redis.asyncio import Redis as AsyncRedis

    from langgraph_persist.store.redis_cluster import ClusterTarget


def refuse_ignored(
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
    try:
        return dataclasses.replace(base, **given) if base else HotTierOptions(**given)
    except TypeError as exc:
        raise ConfigurationError(f"hot tier options: {exc}") from None


def saver_kwargs(spec: urls.StoreSpec, hot: HotTierOptions | None) -> dict[str, Any]:
    """The ``PersistSaver`` keywords that build the store ``spec`` names (an S3 store
    is opened here). ``hot`` adds hot-tier options the URL did not set."""
    if not isinstance(spec, urls.HotSpec):
        if hot is not None:
            raise ConfigurationError(
                f"hot= configures a Redis tier; {urls.describe(spec)!r} names none"
            )
        if isinstance(spec, urls.S3Spec):
            return {"s3": _open_s3(spec)}
        return {"path": spec.path, **_local_kwargs(spec)}
    cold = (
        {"s3": _open_s3(spec.cold)}
        if isinstance(spec.cold, urls.S3Spec)
        else {"path": spec.cold.path, **_local_kwargs(spec.cold)}
    )
    tier = "redis_cluster" if spec.cluster else "redis"
    return {**cold, tier: spec.redis_url, "hot": _hot_options(hot, spec.options)}


def make_store(
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
        s3 if s3 is not None else open_local(path, durability=durability or "fsync", layout=layout)
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
