"""One grammar for naming a store: ``PersistSaver.from_conn_string``, the CLI's
``--store`` and ``migrate`` all parse it here.

::

    ./checkpoints  /abs/dir  ~/dir           a local store directory
    file:./checkpoints  file:///abs/dir      the same, spelled as a URL
    s3://BUCKET[/PREFIX]                     an S3 store (extra [s3])
    redis://[USER:PASS@]HOST[:PORT][/DB]?cold=COLD
    rediss://...?cold=COLD                   a Redis hot tier (TLS) over COLD (extra [redis])
    redis+cluster://[USER:PASS@]HOST:PORT?cold=COLD
    rediss+cluster://...?cold=COLD           a Redis Cluster hot tier over COLD; one node
                                             is enough, the others are discovered

``COLD`` is a local path or ``file:`` URL or an ``s3://`` URL; percent-encode
it when it holds ``&`` or ``#`` (``cold=s3%3A%2F%2Fbucket%2Fprefix`` and
``cold=s3://bucket/prefix`` both work). A hot tier always names its cold tier:
no URL silently creates a directory.

Query parameters, each allowed only where it means something (anything else
is refused, never ignored):

* local: ``layout=sqlite|files`` (a new store's layout), ``durability=fsync|none``;
* s3: ``endpoint_url=``, ``region=``;
* redis: ``mode=write-through|write-behind``, ``ttl=SECONDS``, ``key_prefix=``,
  ``timeout=SECONDS`` (``HotTierOptions``), plus the cold tier's own parameters;
  every other parameter is passed to the Redis client (``redis.from_url``).

Why here and not in ``PersistSaver``: the CLI and migration need the grammar
without building a saver (to say "no store at ..." before creating one), and
a URL where a path is expected must be recognized in one way everywhere
(``is_url``).
"""

from __future__ import annotations

import os
import re
import urllib.parse
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from langgraph_persist.errors import ConfigurationError

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_LOCAL_PARAMS = frozenset({"layout", "durability"})
_S3_PARAMS = frozenset({"endpoint_url", "region"})
_HOT_PARAMS = frozenset({"cold", "mode", "ttl", "key_prefix", "timeout"})
_REDIS_SCHEMES = {
    "redis": ("redis", False),
    "rediss": ("rediss", False),
    "redis+cluster": ("redis", True),
    "rediss+cluster": ("rediss", True),
}


def is_url(value: str | os.PathLike[str]) -> bool:
    """Whether ``value`` is spelled as a URL (``scheme://`` or ``file:``), not a path."""
    text = os.fspath(value)
    return bool(_SCHEME.match(text)) or text.startswith("file:")


@dataclass(frozen=True)
class LocalSpec:
    """A store directory."""

    path: str
    layout: str | None = None
    durability: str | None = None


@dataclass(frozen=True)
class S3Spec:
    """An S3 bucket and key prefix (credentials come from boto3's usual chain)."""

    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class HotSpec:
    """A Redis (or Redis Cluster) hot tier over a cold store."""

    redis_url: str
    """For ``redis.from_url`` / the cluster client: our parameters removed."""
    cluster: bool
    cold: LocalSpec | S3Spec
    options: dict[str, Any] = field(default_factory=dict)
    """``HotTierOptions`` keywords given in the URL."""


StoreSpec = LocalSpec | S3Spec | HotSpec
SPEC_TYPES = (LocalSpec, S3Spec, HotSpec)
"""For ``isinstance``: a value that is already parsed."""


def describe(spec: StoreSpec) -> str:
    """A spec as a URL of this grammar, fit to print (passwords redacted)."""
    if isinstance(spec, LocalSpec):
        return spec.path
    if isinstance(spec, S3Spec):
        return f"s3://{spec.bucket}/{spec.prefix}".rstrip("/")
    scheme = spec.redis_url.split("://", 1)[0] + ("+cluster" if spec.cluster else "")
    rest = spec.redis_url.split("://", 1)[1]
    return redact(f"{scheme}://{rest}") + f" (cold: {describe(spec.cold)})"


def with_hot_tier(spec: StoreSpec, redis_url: str, **options: Any) -> HotSpec:
    """``spec`` (a local or S3 store) with a Redis hot tier at ``redis_url`` in front:
    what the CLI's ``--redis`` adds to ``--store``. ``options`` the URL did not set."""
    if isinstance(spec, HotSpec):
        raise ConfigurationError(
            f"{describe(spec)} has a hot tier already: do not give another one (--redis)"
        )
    if not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigurationError(
            f"a Redis URL starts with redis://, rediss:// or unix://, not "
            f"{redact(redis_url)[:20]!r}"
        )
    return HotSpec(redis_url, False, spec, dict(options))


def parse(value: str | os.PathLike[str]) -> StoreSpec:
    """The store ``value`` names (see module doc); ``ConfigurationError`` when it is not
    one we can open, naming what is wrong."""
    text = os.fspath(value)
    if not text:
        raise ConfigurationError("an empty store location: give a directory or a URL")
    if not is_url(text):
        return LocalSpec(os.path.expanduser(text))
    scheme = text.split(":", 1)[0].lower()
    if scheme == "file":
        return _local(text)
    if scheme == "s3":
        return _s3(text)
    if scheme in _REDIS_SCHEMES:
        return _hot(text, scheme)
    raise ConfigurationError(
        f"unsupported store URL scheme {scheme!r} in {redact(text)!r}: use a directory, "
        "file:, s3://, redis://, rediss://, redis+cluster:// or rediss+cluster://"
    )


def _query(parts: urllib.parse.SplitResult, allowed: frozenset[str], what: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True):
        if name in params:
            raise ConfigurationError(f"{what}: parameter {name!r} given twice")
        params[name] = value
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ConfigurationError(
            f"{what}: unknown parameter(s) {', '.join(unknown)} "
            f"(allowed: {', '.join(sorted(allowed)) or 'none'})"
        )
    return params


def _local(text: str, params: dict[str, str] | None = None) -> LocalSpec:
    """A ``file:`` URL."""
    parts = urllib.parse.urlsplit(text)
    if parts.netloc not in ("", "localhost"):
        raise ConfigurationError(
            f"file URL {text!r} names host {parts.netloc!r}: only local paths "
            "(file:///abs/dir or file:./dir)"
        )
    path = urllib.parse.unquote(parts.path)
    if not path:
        raise ConfigurationError(f"file URL {text!r} names no directory")
    given = _query(parts, _LOCAL_PARAMS, "a local store URL") if params is None else params
    return _local_spec(path, given)


def _local_spec(path: str, params: dict[str, str]) -> LocalSpec:
    layout, durability = params.get("layout"), params.get("durability")
    if layout is not None and layout not in ("sqlite", "files"):
        raise ConfigurationError(f"layout must be 'sqlite' or 'files', not {layout!r}")
    if durability is not None and durability not in ("fsync", "none"):
        raise ConfigurationError(f"durability must be 'fsync' or 'none', not {durability!r}")
    return LocalSpec(os.path.expanduser(path), layout, durability)


def _s3(text: str, params: dict[str, str] | None = None) -> S3Spec:
    parts = urllib.parse.urlsplit(text)
    if not parts.netloc:
        raise ConfigurationError(f"S3 URL {text!r} names no bucket: s3://BUCKET[/PREFIX]")
    given = _query(parts, _S3_PARAMS, "an S3 URL") if params is None else params
    return S3Spec(
        bucket=parts.netloc,
        prefix=urllib.parse.unquote(parts.path).strip("/"),
        endpoint_url=given.get("endpoint_url") or None,
        region=given.get("region") or None,
    )


def _hot(text: str, scheme: str) -> HotSpec:
    parts = urllib.parse.urlsplit(text)
    what = f"the Redis URL {redact(text)!r}"
    if not parts.hostname:
        raise ConfigurationError(f"{what} names no host")
    ours: dict[str, str] = {}
    client: list[tuple[str, str]] = []
    for name, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True):
        if name in _HOT_PARAMS or name in _LOCAL_PARAMS or name in _S3_PARAMS:
            if name in ours:
                raise ConfigurationError(f"{what}: parameter {name!r} given twice")
            ours[name] = value
        else:
            client.append((name, value))
    cold_url = ours.pop("cold", "")
    if not cold_url:
        raise ConfigurationError(
            f"{what} names no cold tier: add ?cold=DIR or ?cold=s3://BUCKET/PREFIX "
            "(e.g. redis://localhost:6379/0?cold=./checkpoints)"
        )
    cold_params = {k: ours.pop(k) for k in list(ours) if k in _LOCAL_PARAMS | _S3_PARAMS}
    cold = _cold(cold_url, cold_params)
    base_scheme, cluster = _REDIS_SCHEMES[scheme]
    redis_url = urllib.parse.urlunsplit(
        (base_scheme, parts.netloc, parts.path, urllib.parse.urlencode(client), "")
    )
    return HotSpec(redis_url, cluster, cold, _hot_options(ours, what))


def _cold(url: str, params: dict[str, str]) -> LocalSpec | S3Spec:
    if url.startswith("s3://"):
        if set(params) - _S3_PARAMS:
            raise ConfigurationError(
                f"{', '.join(sorted(set(params) - _S3_PARAMS))} do(es) not apply to an S3 cold tier"
            )
        return _s3(url, params) if params else _s3(url)
    if is_url(url) and not url.startswith("file:"):
        raise ConfigurationError(
            f"a cold tier is a directory, file: or s3:// URL, not {redact(url)!r}"
        )
    if set(params) - _LOCAL_PARAMS:
        raise ConfigurationError(
            f"{', '.join(sorted(set(params) - _LOCAL_PARAMS))} do(es) not apply to a local "
            "cold tier"
        )
    if url.startswith("file:"):
        return _local(url, params) if params else _local(url)
    return _local_spec(url, params)


def _hot_options(given: dict[str, str], what: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in given.items():
        if name in ("ttl", "timeout"):
            try:
                seconds = float(value)
            except ValueError:
                raise ConfigurationError(f"{what}: {name} is in seconds, not {value!r}") from None
            out[name] = timedelta(seconds=seconds)
        else:
            out[name] = value
    return out


def redact(url: str) -> str:
    """``url`` fit to print: a password (``user:password@``, ``?password=``) becomes ``***``.

    Anything that does not parse as a URL (a store directory) is returned as is.
    """
    if "://" not in url:
        return url
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:  # unparseable: say nothing of it beyond its scheme
        return url.split("://", 1)[0] + "://***"
    netloc, query = parts.netloc, parts.query
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, sep, _password = userinfo.partition(":")
        netloc = f"{user}{':***' if sep else ''}@{hostport}"
    if query:
        query = "&".join(
            f"{k}=***" if k.lower() in _SECRET_PARAMS else f"{k}{sep_v}{v}"
            for k, sep_v, v in (p.partition("=") for p in query.split("&"))
        )
    if (netloc, query) == (parts.netloc, parts.query):
        return url  # nothing to hide: keep it byte for byte (sqlite:////abs/path)
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


_SECRET_PARAMS = frozenset({"password", "pass", "passwd", "sslpassword", "secret", "token"})
