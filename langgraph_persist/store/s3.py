"""The S3 tier: the ``Store`` port over S3-compatible object storage (boto3).

Why boto3 and its *synchronous* client: the engine is synchronous and
thread-safe, and the saver's async API runs it in worker threads
(``asyncio.to_thread``), so an async client would only add an event loop
per call. boto3 is the reference S3 client, speaks every S3-compatible
server (MinIO, Ceph, R2, moto), retries throttling by itself, and one client
is safe to share between threads. Batched port calls (``read_many``,
``exists_many``, ``create_many``...) issue their requests concurrently from a
small thread pool: S3 has no multi-get, so parallel requests are how a batch
costs one round trip of latency.

Layout: store key ``(c0, c1, ...)`` is the object ``<prefix>/c0/c1/...``
(components are safe names, see ``keys.py``; re-checked here). Beside the
data live ``<prefix>/FORMAT`` (format marker, as in ``files.py``) and
``<prefix>/locks/`` (lease locks, below).

Atomicity and the port's contract:

* ``write_many``: one plain PUT per item. A PUT is atomic in S3 (readers see
  the old object or the new one) and durable when it returns 200.
* ``create_many``: PUT with ``If-None-Match: *``: the create is atomic and two
  writers can never overwrite each other. A 412 means the object exists,
  which for content-addressed keys means "same content": fine.
* ``list``: ListObjectsV2 with ``Delimiter="/"``: one request per 1000
  children. Finding a namespace's latest checkpoint lists its checkpoint
  prefix, so it costs one request per 1000 checkpoints of that namespace;
  no hot path ever lists the whole bucket.
* ``delete_tree``: list + DeleteObjects in batches of 1000. S3 has no rename,
  so a concurrent reader may see part of a subtree during the delete; the
  engine writes a tombstone before deleting a thread, so no late write
  brings it back (see below for the limit across hosts).
* ``link``: CopyObject (server-side copy, no bytes through the client).

Locks. S3 has no locks, so:

* ``lock(key, exclusive=True)`` is a *lease lock object*
  ``<prefix>/locks/<digest>`` created with ``If-None-Match`` (only one
  creator wins), holding its expiry time. A crashed holder's lock expires
  after ``lock_lease``; a waiter then takes it over with a conditional PUT
  (``If-Match`` the stale ETag, so two waiters cannot both take it), and a
  holder releases with a conditional DELETE (``If-Match`` its own ETag, so a
  holder that overran its lease never deletes its successor's lock).
  Limits: expiry compares wall clocks across hosts (keep them in NTP sync;
  the lease is minutes, skew is milliseconds), a holder must finish within
  the lease, and the server must honour ``If-Match`` (AWS S3 does; some
  S3-compatible servers do not).
* ``lock(key, exclusive=False)`` and ``maintenance_lock(exclusive=False)`` are
  *no-ops*: every put takes them, and a shared lock on S3 would cost at least
  two extra requests per put (register and unregister a holder), with no
  atomic counter to build it on. Consequences, stated in docs/scaling.md:
  exclusive holders exclude each other (fencing, which takes the thread
  lock exclusively on every continuing put, is sound), but ``delete_thread``
  does not wait for a put already in flight on the same thread, and
  ``gc`` (which takes the maintenance lock exclusively) does not exclude
  writers: run ``gc`` on an S3 store only while no writer runs.

Errors: botocore failures become ``StoreError`` (refused, missing bucket,
denied) or ``TierUnavailableError`` (endpoint unreachable, timeouts, 5xx
after retries), one line each, without the botocore traceback. A missing key
is ``None`` from ``read``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from langgraph_persist.errors import (
    ConfigurationError,
    InvalidIdError,
    StoreError,
    TierUnavailableError,
)
from langgraph_persist.keys import Key
from langgraph_persist.store.base import Listings, Store
from langgraph_persist.store.marker import MARKER, marker_body, parse_marker

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client
else:
    S3Client = Any

log = logging.getLogger("langgraph_persist.s3")

T = TypeVar("T")

STORE_FORMAT = 1
LOCK_LEASE = timedelta(minutes=2)
"""How long a lock outlives a holder that died holding it (holders keep it for one
put or one thread's delete: far less)."""

PAGE = 1000
"""Keys per ListObjectsV2 page and per DeleteObjects request (both S3 maxima)."""

_LOCKS = "locks"
_RESERVED = frozenset({MARKER, _LOCKS})
_COMPONENT = re.compile(r"^[A-Za-z0-9._%=~-]{1,255}$")
_PREFIX = re.compile(r"^[A-Za-z0-9._=~-]+(/[A-Za-z0-9._=~-]+)*$")
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})
_EXISTS = frozenset({"PreconditionFailed", "412"})
_CONFLICT = frozenset({"ConditionalRequestConflict", "409"})
_DENIED = frozenset(
    {"AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch", "Forbidden"}
)
_UNREACHABLE = (
    EndpointConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
    ConnectionClosedError,
    BotoConnectionError,
)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


class S3Store(Store):
    """A ``Store`` over an S3 bucket and key prefix (see module docstring).

    Args:
        bucket: the bucket; it must exist (checked now, not at the first put).
        prefix: key prefix inside the bucket (``"agents/prod"``); the store owns
            everything below it. An empty prefix uses the bucket's root.
        client: a ready boto3 S3 client (its own retries and pool apply);
            otherwise one is built from the arguments below.
        endpoint_url: an S3-compatible endpoint (MinIO, Ceph, R2, ...); path-style
            addressing is used with it. ``None`` means AWS.
        region, access_key_id, secret_access_key: as boto3 takes them; ``None``
            uses boto3's usual chain (environment, config files, instance role).
        timeout: connect and read timeout of a client built here.
        max_concurrency: parallel requests per batched call (and HTTP pool size).
        lock_lease: how long an exclusive lock survives a holder that crashed.
    """

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        client: S3Client | None = None,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        timeout: timedelta = timedelta(seconds=10),
        max_concurrency: int = 16,
        lock_lease: timedelta = LOCK_LEASE,
    ) -> None:
        if not isinstance(bucket, str) or not bucket:
            raise ConfigurationError(f"bucket must be a non-empty string, not {bucket!r}")
        prefix = prefix.strip("/") if isinstance(prefix, str) else prefix
        if (
            not isinstance(prefix, str)
            or (prefix and not _PREFIX.match(prefix))
            or any(part in (".", "..") for part in prefix.split("/"))
        ):
            raise ConfigurationError(
                f"invalid S3 key prefix {prefix!r}: use path segments of [A-Za-z0-9._=~-]"
            )
        if not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise ConfigurationError(f"max_concurrency must be >= 1, not {max_concurrency!r}")
        if not isinstance(lock_lease, timedelta) or lock_lease < timedelta(seconds=1):
            raise ConfigurationError(f"lock_lease must be a timedelta >= 1s, not {lock_lease!r}")
        self.bucket = bucket
        self.prefix = prefix
        self.lock_lease = lock_lease
        self._base = f"{prefix}/" if prefix else ""
        self._owns_client = client is None
        if client is None:
            seconds = timeout.total_seconds()
            config = Config(
                connect_timeout=seconds,
                read_timeout=seconds,
                max_pool_connections=max_concurrency,
                retries={"max_attempts": 3, "mode": "standard"},
                s3={"addressing_style": "path"} if endpoint_url else None,
            )
            try:
                client = boto3.client(
                    "s3",
                    endpoint_url=endpoint_url,
                    region_name=region,
                    aws_access_key_id=access_key_id,
                    aws_secret_access_key=secret_access_key,
                    config=config,
                )
            except (BotoCoreError, ValueError) as exc:
                raise ConfigurationError(f"cannot build an S3 client: {exc}") from None
        self.client: S3Client = client
        self.endpoint = str(getattr(client.meta, "endpoint_url", "") or "")
        self._pool = ThreadPoolExecutor(max_concurrency, thread_name_prefix="lgp-s3")
        self._holder = f"{socket.gethostname()}:{os.getpid()}"
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    # -- set-up -------------------------------------------------------------------------------

    def _open(self) -> None:
        """Check the bucket, the marker and conditional writes now, with clear messages.

        Costs two requests for an existing store (GET and a conditional PUT of the
        marker), four for a new one. Several processes may open a new store at once:
        objects next to a missing marker are re-checked against the marker before
        the prefix is refused as foreign. The conditional PUT doubles as the check that
        the server honours ``If-None-Match``: one that ignored it would make creates
        non-atomic and locks unsafe, so we refuse it rather than find out later.
        """
        marker = self._base + MARKER
        try:
            found = self.client.get_object(Bucket=self.bucket, Key=marker)
            body = found["Body"].read()
        except ClientError as exc:
            code = _code(exc)
            if code == "NoSuchBucket":
                raise ConfigurationError(
                    f"S3 bucket {self.bucket!r} does not exist at {self._where()}"
                ) from None
            if code in _DENIED:
                raise ConfigurationError(
                    f"access to S3 bucket {self.bucket!r} denied ({code}): check the credentials "
                    "and that the policy allows GetObject, PutObject, DeleteObject, ListBucket"
                ) from None
            if code not in _MISSING:
                raise ConfigurationError(
                    f"cannot open S3 store {self.describe()}: {code}: {exc}"
                ) from None
            body = b""
        except (BotoCoreError, ValueError) as exc:
            raise ConfigurationError(
                f"cannot reach S3 at {self._where()} for bucket {self.bucket!r}: {exc}"
            ) from None
        if body:
            self._check_marker(body)
        else:
            body = marker_body(STORE_FORMAT)
            with self._mapped("LIST", self._base):
                listed = self.client.list_objects_v2(
                    Bucket=self.bucket, Prefix=self._base, MaxKeys=1
                )
            if listed.get("KeyCount", 0) and not self._get(marker):
                # (a marker that appeared meanwhile: another process created the store)
                raise ConfigurationError(
                    f"refusing to use {self.describe()}: the prefix holds objects but no "
                    f"{MARKER} marker, so it is not a langgraph-persist store; "
                    "choose an empty prefix"
                )
            self._put_if_absent(marker, body)
        if self._put_if_absent(marker, body):
            raise ConfigurationError(
                f"S3 endpoint {self._where()} ignores If-None-Match (conditional writes): "
                "creates would not be atomic and locks would not exclude; use a server "
                "that supports conditional writes (AWS S3 does)"
            )

    def _check_marker(self, body: bytes) -> None:
        parse_marker(body, f"{self.describe()}/{MARKER}", readable_up_to=STORE_FORMAT)

    def _where(self) -> str:
        return self.endpoint or "AWS S3"

    def describe(self) -> str:
        where = f" at {self.endpoint}" if self.endpoint else ""
        return f"s3://{self.bucket}/{self.prefix}{where}"

    # -- names and errors ----------------------------------------------------------------------

    def name(self, key: Key) -> str:
        """The object name of ``key``; components re-checked (defence in depth)."""
        for part in key:
            if not isinstance(part, str) or not _COMPONENT.match(part) or part in (".", ".."):
                raise InvalidIdError(f"unsafe key component {part!r}")
        if key and key[0] in _RESERVED:
            raise InvalidIdError(f"key {key!r} is reserved")
        return self._base + "/".join(key)

    def _dir(self, prefix: Key) -> str:
        """The listing prefix of everything below ``prefix`` (ends with ``/`` unless root)."""
        return self.name(prefix) + "/" if prefix else self._base

    @contextlib.contextmanager
    def _mapped(self, op: str, name: str) -> Iterator[None]:
        """botocore failures inside become our typed errors, one line each.

        Callers that expect a code (a 404 on read, a 412 on create) catch
        ``ClientError`` inside the block and re-raise the rest to this.
        """
        try:
            yield
        except ClientError as exc:
            raise self._error(op, name, exc) from None
        except _UNREACHABLE as exc:
            raise TierUnavailableError(
                f"S3 endpoint {self._where()} unreachable during {op} {name!r}: {exc}"
            ) from None
        except BotoCoreError as exc:
            raise StoreError(f"S3 {op} {name!r} in {self.describe()} failed: {exc}") from None

    def _error(self, op: str, name: str, exc: ClientError) -> StoreError:
        code, status = _code(exc), _status(exc)
        message = exc.response.get("Error", {}).get("Message", "") or str(exc)
        where = f"S3 {op} {name!r} in {self.describe()}"
        if code == "NoSuchBucket":
            return StoreError(f"{where} failed: the bucket {self.bucket!r} no longer exists")
        if code in _DENIED:
            return StoreError(f"{where} failed: access denied ({code}); check the credentials")
        if status >= 500 or code in ("SlowDown", "ServiceUnavailable", "InternalError"):
            return TierUnavailableError(f"{where} failed after retries: {code}: {message}")
        return StoreError(f"{where} failed: {code}: {message}")

    def _each(self, fn: Callable[[T], Any], items: Sequence[T]) -> list[Any]:
        """``fn`` over ``items``, concurrently when there is more than one."""
        if len(items) <= 1:
            return [fn(item) for item in items]
        return list(self._pool.map(fn, items))

    # -- reads --------------------------------------------------------------------------------

    def read(self, key: Key) -> bytes | None:
        return self._get(self.name(key))

    def _get(self, name: str) -> bytes | None:
        with self._mapped("GET", name):
            try:
                found = self.client.get_object(Bucket=self.bucket, Key=name)
                return bytes(found["Body"].read())
            except ClientError as exc:
                if _code(exc) in _MISSING:
                    return None
                raise
        raise AssertionError("unreachable")

    def read_many(self, keys: Sequence[Key]) -> list[bytes | None]:
        return self._each(self._get, [self.name(k) for k in keys])

    def exists_many(self, keys: Sequence[Key]) -> list[bool]:
        return self._each(self._exists, [self.name(k) for k in keys])

    def _exists(self, name: str) -> bool:
        with self._mapped("HEAD", name):
            try:
                self.client.head_object(Bucket=self.bucket, Key=name)
                return True
            except ClientError as exc:
                if _code(exc) in _MISSING:
                    return False
                raise
        raise AssertionError("unreachable")

    def _pages(self, prefix: str, delimiter: str | None) -> Iterator[dict[str, Any]]:
        """ListObjectsV2 pages under ``prefix`` (1000 keys each)."""
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix, "MaxKeys": PAGE}
            if delimiter:
                kwargs["Delimiter"] = delimiter
            if token:
                kwargs["ContinuationToken"] = token
            with self._mapped("LIST", prefix):
                page: dict[str, Any] = dict(self.client.list_objects_v2(**kwargs))
            yield page
            if not page.get("IsTruncated"):
                return
            token = page.get("NextContinuationToken")
            if not token:
                return

    def list(self, prefix: Key) -> list[str]:
        """Child names, one level deep: common prefixes (directories) and objects."""
        base = self._dir(prefix)
        names: set[str] = set()
        for page in self._pages(base, "/"):
            for entry in page.get("CommonPrefixes", []):
                names.add(entry["Prefix"][len(base) :].rstrip("/"))
            for entry in page.get("Contents", []):
                names.add(entry["Key"][len(base) :])
        names.discard("")
        if not prefix:
            names -= _RESERVED
        return sorted(names)

    def list_many(self, prefixes: Sequence[Key]) -> Listings:
        return self._each(self.list, list(prefixes))

    def walk(self, prefix: Key) -> Iterator[tuple[Key, int, float]]:
        """Every object under ``prefix`` with size and LastModified; admin only."""
        base = self._dir(prefix)
        skip = len(self._base)
        for page in self._pages(base, None):
            for entry in page.get("Contents", []):
                rel = entry["Key"][skip:]
                parts = tuple(rel.split("/"))
                if not rel or parts[0] in _RESERVED:
                    continue
                yield parts, int(entry.get("Size", 0)), entry["LastModified"].timestamp()

    # -- writes -------------------------------------------------------------------------------

    def write_many(self, items: Sequence[tuple[Key, bytes]]) -> None:
        """One PUT per item, concurrently; each is atomic and durable on 200."""
        named = [(self.name(k), v) for k, v in items]
        self._each(lambda item: self._put(*item), named)

    def _put(self, name: str, data: bytes) -> None:
        with self._mapped("PUT", name):
            self.client.put_object(Bucket=self.bucket, Key=name, Body=data)

    def create_many(self, items: Sequence[tuple[Key, bytes]]) -> None:
        """Conditional PUTs: an existing object is left as it is (see module docstring)."""
        named = [(self.name(k), v) for k, v in items]
        self._each(lambda item: self._put_if_absent(*item), named)

    def _put_if_absent(self, name: str, data: bytes) -> bool:
        """PUT with ``If-None-Match: *``; False when the object already existed.

        409 (a concurrent conditional write of the same key in flight) is retried:
        the other writer's outcome decides, and the retry then sees 412.
        """
        with self._mapped("PUT", name):
            for attempt in range(5):
                try:
                    self.client.put_object(Bucket=self.bucket, Key=name, Body=data, IfNoneMatch="*")
                    return True
                except ClientError as exc:
                    code = _code(exc)
                    if code in _EXISTS:
                        return False
                    if code not in _CONFLICT or attempt == 4:
                        raise
                time.sleep(0.01 * 2**attempt)
        raise AssertionError("unreachable")

    def link(self, items: Sequence[tuple[Key, Key]]) -> None:
        """Server-side CopyObject per item; a missing source is skipped (as in files.py)."""
        named = [(self.name(s), self.name(d)) for s, d in items]
        self._each(lambda pair: self._copy(*pair), named)

    def _copy(self, src: str, dst: str) -> None:
        with self._mapped("COPY", dst):
            try:
                self.client.copy_object(
                    Bucket=self.bucket, Key=dst, CopySource={"Bucket": self.bucket, "Key": src}
                )
            except ClientError as exc:
                if _code(exc) not in _MISSING:
                    raise

    # -- deletes ------------------------------------------------------------------------------

    def delete_many(self, keys: Sequence[Key]) -> None:
        self._delete_names([self.name(k) for k in keys])

    def _delete_names(self, names: Sequence[str]) -> None:
        """DeleteObjects, 1000 keys per request; absent keys are not errors in S3."""
        batches = [names[i : i + PAGE] for i in range(0, len(names), PAGE)]
        for batch in batches:
            with self._mapped("DELETE", batch[0]):
                reply = self.client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": n} for n in batch], "Quiet": True},
                )
            errors = reply.get("Errors") or []
            if errors:
                first = errors[0]
                raise StoreError(
                    f"S3 DELETE in {self.describe()} failed for {len(errors)} object(s), "
                    f"e.g. {first.get('Key')!r}: {first.get('Code')}: {first.get('Message')}"
                )

    def delete_tree(self, prefix: Key) -> None:
        """List and delete page by page (listing order: a thread's info, records, writes)."""
        base = self._dir(prefix)
        exact = self.name(prefix) if prefix else None
        for page in self._pages(base, None):
            names = [e["Key"] for e in page.get("Contents", [])]
            if not prefix:
                skip = len(self._base)
                names = [n for n in names if n[skip:].split("/")[0] not in _RESERVED]
            self._delete_names(names)
        if exact is not None:
            self._delete_names([exact])  # the prefix itself may be an object (as a file)

    def recover(self, key: Key, good: Callable[[bytes], bool]) -> bool:
        """A single bucket holds one copy: nothing to recover from."""
        return False

    # -- locks --------------------------------------------------------------------------------

    def lock(self, key: Key, exclusive: bool = True) -> contextlib.AbstractContextManager[None]:
        """Exclusive: a lease lock object. Shared: a no-op (see module docstring)."""
        if not exclusive:
            return contextlib.nullcontext()
        digest = hashlib.blake2b("/".join(key).encode(), digest_size=16).hexdigest()
        return self._lease(f"{self._base}{_LOCKS}/{digest}")

    def maintenance_lock(self, exclusive: bool) -> contextlib.AbstractContextManager[None]:
        """Exclusive (gc): a lease lock object, so two collectors never overlap.

        Shared (every put): a no-op, so gc does NOT exclude writers on S3: run it
        only while no writer runs (module docstring, docs/scaling.md).
        """
        if not exclusive:
            return contextlib.nullcontext()
        return self._lease(f"{self._base}{_LOCKS}/gc")

    @contextlib.contextmanager
    def _lease(self, name: str) -> Iterator[None]:
        etag = self._acquire(name)
        try:
            yield
        finally:
            self._release(name, etag)

    def _lease_body(self) -> bytes:
        expires = time.time() + self.lock_lease.total_seconds()
        token = secrets.token_hex(16)
        return json.dumps({"holder": self._holder, "expires": expires, "token": token}).encode()

    def _acquire(self, name: str) -> str:
        """Create the lock object, or take over an expired one; wait otherwise.

        Each attempt is one request (two when the lock is held): waiters back off
        up to 0.25 s, since on S3 every poll is billed.
        """
        pause = 0.005
        while True:
            with self._mapped("LOCK", name):
                try:
                    reply = self.client.put_object(
                        Bucket=self.bucket, Key=name, Body=self._lease_body(), IfNoneMatch="*"
                    )
                    return str(reply["ETag"])
                except ClientError as exc:
                    if _code(exc) not in _EXISTS | _CONFLICT:
                        raise
                taken = self._take_over_if_expired(name)
            if taken is not None:
                return taken
            time.sleep(pause)
            pause = min(pause * 2, 0.25)

    def _take_over_if_expired(self, name: str) -> str | None:
        """The new ETag if the current lock had expired and we replaced it, else None."""
        try:
            found = self.client.get_object(Bucket=self.bucket, Key=name)
            body, etag = found["Body"].read(), str(found["ETag"])
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None  # released meanwhile: try to create it again
            raise
        try:
            expires = float(json.loads(body)["expires"])
        except (ValueError, KeyError, TypeError):
            expires = 0.0  # unreadable lock object: treat as expired
        if expires > time.time():
            return None
        try:
            reply = self.client.put_object(
                Bucket=self.bucket, Key=name, Body=self._lease_body(), IfMatch=etag
            )
        except ClientError as exc:
            if _code(exc) in _EXISTS | _CONFLICT | _MISSING:
                return None  # another waiter took it over first
            raise
        log.warning("took over the expired S3 lock %s (its holder died or overran its lease)", name)
        return str(reply["ETag"])

    def _release(self, name: str, etag: str) -> None:
        """Delete our lock object only if it is still ours (``If-Match`` our ETag)."""
        with self._mapped("UNLOCK", name):
            try:
                self.client.delete_object(Bucket=self.bucket, Key=name, IfMatch=etag)
            except ClientError as exc:
                code = _code(exc)
                if code in _EXISTS:
                    log.warning(
                        "S3 lock %s was taken over while held (its holder overran the %s lease)",
                        name,
                        self.lock_lease,
                    )
                elif code not in _MISSING:
                    raise

    def close(self) -> None:
        """Stop the request pool; close the HTTP connections if the client is ours."""
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=True)
        if self._owns_client and hasattr(self, "client"):
            with contextlib.suppress(Exception):
                self.client.close()


def _implements_the_port(store: S3Store) -> Listings:
    """Never called: makes mypy check ``S3Store`` against the ``Store`` port."""

    checked: Store = store
    return [checked.list(())]
