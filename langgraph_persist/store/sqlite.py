"""``SqliteStore``: the embedded default, every key of a store in one SQLite database.

Why SQLite: the file-per-record layout paid about eight fsyncs per graph
step and could not commit a batch atomically. Here a call (a put: its new
blobs, its record, the thread's bookkeeping) is one transaction, made durable
by one fsync of the write-ahead log, and a crash leaves the transaction
applied or absent: there is nothing for ``verify`` or ``gc`` to find.
SQLite ships with Python, needs no server, is the most tested storage engine
there is, and its WAL mode lets readers run beside a writer.

The directory holds::

    FORMAT            {"format": "langgraph-persist", "version": 2, "layout": "sqlite"}
    store.db          the database (store.db-wal and store.db-shm beside it while open)
    locks/            flock files (locks.py)
    audit.jsonl       the audit log (audit.py)

One table, ``entries(dir, name, value)``. A key ``(c1, ..., ck)`` is the row
``dir = "c1/.../c(k-1)"``, ``name = ck``; its value is a record (records.py),
framed, digested and sealed exactly as in every other tier. Directories are
rows too (``value`` NULL), written in the same transaction as the first key
below them (a writer skips those it knows exist: sqlite_dirs.py), so listing
one level (the store's threads, a thread's checkpoints) is a range scan of
the primary key, and "the latest checkpoint" is one index seek, whatever the
store's size. Components never contain ``/`` (keys.py), so the mapping is
unambiguous.

Concurrency:

* reads use one connection per thread (SQLite connections are not to be
  shared without a lock) and see the last committed state;
* writes are *group-committed*: callers queue their work, one of them
  (the leader) runs everything queued in one ``BEGIN IMMEDIATE`` transaction,
  each call in its own savepoint so one failing call does not fail the
  others, and commits once. 16 threads writing at once share fsyncs;
* other processes are excluded by SQLite's own locks (``busy_timeout``), and
  the thread and maintenance locks are the same ``flock`` files as before.

Durability (``docs/reliability.md``): ``"fsync"`` is ``synchronous=FULL``: the
WAL is fsynced at every commit, so a power cut loses nothing acknowledged.
``"none"`` is ``synchronous=NORMAL``: a killed process loses nothing; a power
cut may lose the last commits, never the database.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import threading
import weakref
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal

from langgraph_persist.errors import (
    ConfigurationError,
    CorruptStoreError,
    InvalidIdError,
    StoreError,
    UnsupportedFormatError,
)
from langgraph_persist.facets import Scalar, needles
from langgraph_persist.keys import Key
from langgraph_persist.store import marker, sqlite_wal
from langgraph_persist.store.base import Children, Listings, Names, Store
from langgraph_persist.store.group_commit import GroupCommit, Work
from langgraph_persist.store.locks import LOCKS, FileLocked, FileLocks
from langgraph_persist.store.marker import MARKER
from langgraph_persist.store.sqlite_dirs import KnownDirs
from langgraph_persist.store.sqlite_salvage import salvage_database

AUDIT_LOG = "audit.jsonl"

Durability = Literal["fsync", "none"]

LAYOUT = "sqlite"
STORE_FORMAT = 2
DATABASE = "store.db"
APPLICATION_ID = 0x4C475053  # "LGPS": identifies our databases to `file` and to us
_SCHEMA_VERSION = 2
"""1: ``entries(dir, name, value)``; 2 adds the ``facets`` column and its trigger."""
_BUSY_TIMEOUT_S = 60.0
_DIR_MODE = 0o700
_FILE_MODE = 0o600

_OPENING = threading.Lock()
"""Held while a connection is opened: the first one of a process checks the leftover log."""
_LIVE: weakref.WeakSet[_Conn] = weakref.WeakSet()
"""Every connection this process opened, of every store: whether one is open decides
if a new one may check the log (sqlite_wal.py: POSIX locks belong to the process)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    dir    TEXT NOT NULL,
    name   TEXT NOT NULL,
    value  BLOB,
    facets TEXT,
    PRIMARY KEY (dir, name)
);
"""

_FACETS_COLUMN = "ALTER TABLE entries ADD COLUMN facets TEXT"

_FACETS_TRIGGER = """
CREATE TRIGGER IF NOT EXISTS facets_follow_value AFTER UPDATE OF value ON entries
WHEN NEW.facets IS NOT NULL AND NEW.facets IS OLD.facets
BEGIN
    UPDATE entries SET facets = NULL WHERE rowid = NEW.rowid;
END;
"""
"""A value rewritten without new facets (a repair from the hot tier, a release
that predates them) keeps no stale facets: they would describe the old value.
A rewrite that sets the same facets again loses them too, which only makes that
row a candidate for every filter (facets.py: a store's answer is a superset)."""


def _mirrored(text: str) -> str:
    """Facets as stored: the JSON text twice, a tab between (JSON text holds no raw tab).

    Records carry digests; SQLite pages carry none, and a flipped byte in a
    row's facets must not hide its checkpoint from a filter. A filter looks for
    its value's text in the whole column (``_facets_match``), so a byte flipped
    in one copy leaves the other to find it. A digest would need a Python
    function called for every row a filter scans, which costs more than the scan.
    """
    return f"{text}\t{text}"


def _facets_match(facets: Mapping[str, Scalar]) -> tuple[str, list[Any]]:
    """SQL (and its arguments) true for rows whose facets may match every item:
    a text search of the column (facets.needles), no JSON parsing."""
    terms: list[str] = []
    args: list[Any] = []
    for key, value in facets.items():
        texts, absent = needles(key, value)
        alternatives = ["instr(facets, ?) > 0"] * len(texts)
        args.extend(texts)
        if absent:
            alternatives.append("instr(facets, ?) = 0")
            args.append(f'"{key}":')
        terms.append("(" + " OR ".join(alternatives) + ")")
    return "facets IS NULL OR (" + " AND ".join(terms) + ")", args


def marker_body() -> bytes:
    """The ``FORMAT`` marker of an SQLite store (store/marker.py)."""
    return marker.marker_body(STORE_FORMAT, LAYOUT)


def _split(key: Key) -> tuple[str, str]:
    if not key:
        raise InvalidIdError("the empty key names no record")
    for part in key:
        if not part or "/" in part:
            raise InvalidIdError(f"unsafe key component {part!r}")
    return "/".join(key[:-1]), key[-1]


def _dir_of(prefix: Key) -> str:
    _split((*prefix, "x"))  # validates the components
    return "/".join(prefix)


def _subtree_bounds(d: str) -> tuple[str, str]:
    """Every ``dir`` strictly below ``d`` lies in ``[d + "/", d + "0")`` ("0" follows "/")."""
    return (d + "/", d + "0") if d else ("", "\U0010ffff")


_UNREAD = object()
"""Not in the memo (``None`` is a read's answer for an absent key)."""
_MEMO_ENTRIES = 1024
_MEMO_VALUE_BYTES = 256 * 1024
"""What ``SqliteStore._unchanged`` keeps per connection: answers of at most this size."""

_BATCH = 256
"""Keys or prefixes per read statement (two bound parameters each, well under SQLite's
oldest limit of 999)."""


def _padded(chunk: list[Any]) -> list[Any]:
    """``chunk`` repeated at its end up to a power of two: batches of any size share
    nine statements, so they never push the hot ones out of the connection's
    statement cache (asking for a key twice returns it once)."""
    size = 1 << (len(chunk) - 1).bit_length()
    return chunk + [chunk[-1]] * (size - len(chunk))


@functools.lru_cache(maxsize=64)
def _seek_sql(count: int, values: bool) -> str:
    """Rows of ``count`` (dir, name) pairs: an index seek each, in one statement;
    with their values (``read_many``), or only the pairs that hold a record
    (``exists_many``)."""
    pairs = ",".join(["(?,?)"] * count)
    columns, where = (
        ("e.dir, e.name, e.value", "")
        if values
        else (
            "e.dir, e.name",
            " WHERE e.value IS NOT NULL",
        )
    )
    return (
        f"WITH k(d, n) AS (VALUES {pairs}) SELECT {columns} "
        f"FROM k CROSS JOIN entries AS e ON e.dir = k.d AND e.name = k.n{where}"
    )


def _seeks(pairs: Sequence[tuple[str, str]], values: bool) -> list[tuple[str, list[str]]]:
    """The statements (and arguments) that seek ``pairs``, ``_BATCH`` per statement."""
    statements = []
    for start in range(0, len(pairs), _BATCH):
        chunk = _padded(list(pairs[start : start + _BATCH]))
        statements.append((_seek_sql(len(chunk), values), [p for pair in chunk for p in pair]))
    return statements


@functools.lru_cache(maxsize=64)
def _children_sql(count: int) -> str:
    """Records directly under ``count`` dirs, in (dir, name) order: a range scan each."""
    marks = ",".join(["?"] * count)
    return (
        f"SELECT dir, name, value FROM entries WHERE dir IN ({marks}) "
        "AND value IS NOT NULL ORDER BY dir, name"
    )


def _parents(key: Key) -> list[tuple[str, str]]:
    """The directory rows a key needs: ``(dir, name)`` of each of its ancestors."""
    return [("/".join(key[:i]), key[i]) for i in range(len(key) - 1)]


_OS_LITTER = frozenset({"Thumbs.db", "desktop.ini", "Desktop.ini"})


def is_os_litter(name: str) -> bool:
    """Files operating systems and editors drop into folders (``.DS_Store``, ``x~``)."""
    return name.startswith(".") or name.endswith("~") or name in _OS_LITTER


_CORRUPT_CODES = frozenset({"SQLITE_CORRUPT", "SQLITE_NOTADB"})
_CORRUPT_WORDS = ("malformed", "not a database", "corrupt", "could not decode to utf-8")
"""The last: we only ever write valid UTF-8 text (Python ``str``), so a ``dir`` or
``name`` SQLite cannot decode was damaged on disk."""


def _is_corruption(exc: sqlite3.Error) -> bool:
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name.split("_SEQUENCE")[0] in _CORRUPT_CODES or name.startswith("SQLITE_CORRUPT"):
        return True
    return any(word in str(exc).lower() for word in _CORRUPT_WORDS)


class SqliteStore(FileLocked, Store):
    """A ``Store`` in one SQLite database in a directory (see module docstring)."""

    seeks_pages = True

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        durability: Durability = "fsync",
        read_only: bool = False,
    ) -> None:
        if durability not in ("fsync", "none"):
            raise ConfigurationError(f"durability must be 'fsync' or 'none', not {durability!r}")
        self.root = os.path.abspath(os.fspath(root))
        self.durability: Durability = durability
        self.read_only = read_only
        self.database = os.path.join(self.root, DATABASE)
        self._locks = FileLocks(self.root, read_only=read_only)
        self._dirs = KnownDirs()
        self._commits = GroupCommit(self._writer_for, self._error, self._dirs.forget)
        self._local = threading.local()
        self._all: weakref.WeakSet[_Conn] = weakref.WeakSet()
        self._write_conn: _Conn | None = None
        self._sync_level = ""
        self._facets_column: bool | None = None
        self._schema = _SCHEMA_VERSION
        self._pid = os.getpid()
        self._closed = False
        if read_only:
            self._check_marker(required=True)
            self._refuse_lost_database()
            # fail now if the database cannot be opened at all; a damaged one is opened to
            # be inspected: every read, and verify, report the damage
            with contextlib.suppress(CorruptStoreError):
                self._reader()
        else:
            self._create()

    # -- set-up -------------------------------------------------------------------------------

    def _check_marker(self, *, required: bool) -> bool:
        found = marker.read_marker(self.root, readable_up_to=STORE_FORMAT)
        if found is None:
            if required:
                raise ConfigurationError(f"{self.root} is not a langgraph-persist store")
            return False
        if found.layout != LAYOUT:
            raise ConfigurationError(
                f"{self.root} holds a store in the {found.layout!r} layout, not an SQLite one"
            )
        return True

    def _create(self) -> None:
        """Create or open the store; fail now, with a clear message, not at the first put."""
        if os.path.exists(self.root) and not os.path.isdir(self.root):
            raise ConfigurationError(
                f"checkpoint store path {self.root} exists and is not a directory"
            )
        fresh = not self._check_marker(required=False)
        if fresh:
            self._refuse_foreign_directory()
        else:
            self._refuse_lost_database()
        try:
            os.makedirs(os.path.join(self.root, LOCKS), mode=_DIR_MODE, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot create checkpoint store at {self.root}: {exc.strerror}"
            ) from exc
        try:
            with self._locks.maintenance_lock(exclusive=False):  # proves locks/ is writable
                self._create_schema(self._writer())
        except (UnsupportedFormatError, CorruptStoreError):
            raise
        except (StoreError, sqlite3.Error) as exc:
            raise ConfigurationError(
                f"checkpoint store {self.root} is not writable ({exc}); check permissions "
                "and that the file system is not read-only"
            ) from exc
        if fresh:
            # The marker last: a directory with a marker always holds a usable database.
            tmp = os.path.join(self.root, f".{MARKER}.{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, _FILE_MODE)
            try:
                os.write(fd, marker_body())
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, os.path.join(self.root, MARKER))
            dfd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)

    def _refuse_lost_database(self) -> None:
        """A marker with no database, or an empty one, is a store that lost its data.

        ``_create`` writes the marker last, after the schema committed, and the
        first connection has already written the database's first page (switching
        it to WAL) by then; ``upgrade`` and ``salvage`` move a whole database into
        place before the marker names it. So no store this code made has a
        marker beside a missing or empty ``store.db``: one truncated or deleted
        since. Opening it would create an empty schema and answer an empty store,
        silently; it is damage to report.
        """
        try:
            size: int | None = os.stat(self.database).st_size
        except FileNotFoundError:
            size = None
        except OSError:
            return  # unreadable: opening it reports why
        if not size:
            state = "missing" if size is None else "empty"
            raise CorruptStoreError(
                f"checkpoint store {self.root}: {DATABASE} is {state} but {MARKER} says it is "
                "an SQLite store; its checkpoints are gone: restore it from a backup "
                "(`langgraph-persist restore`)",
                store=self.describe(),
            )

    def _create_schema(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            app = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if app not in (0, APPLICATION_ID):
                raise ConfigurationError(f"{self.database} is not a langgraph-persist database")
            if version > _SCHEMA_VERSION:
                raise UnsupportedFormatError(
                    f"{self.database} has schema version {version}; this release reads up to "
                    f"{_SCHEMA_VERSION}: upgrade langgraph-persist"
                )
            if version == 0:  # a new database; opening an existing one never writes
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
                conn.execute(_SCHEMA)
                conn.execute(_FACETS_TRIGGER)
            self._schema = _SCHEMA_VERSION if version == 0 else version
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Schema 1 -> 2, as a write's first work (``_transact``), not at opening:
        reading a store never writes it. Checked inside the write transaction, so
        processes migrating at once do it once. Rows of schema 1 get no facets:
        they are candidates for every filter."""
        if conn.execute("PRAGMA user_version").fetchone()[0] == 1:
            conn.execute(_FACETS_COLUMN)
            conn.execute(_FACETS_TRIGGER)
            conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")

    def _refuse_foreign_directory(self) -> None:
        """A new store goes into a new or empty directory, never over someone's files.

        Files an OS or a user drops anywhere (``.DS_Store``, ``Thumbs.db``, other
        hidden files) do not count, nor do what a killed ``_create`` left.
        """
        try:
            entries = os.listdir(self.root)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise ConfigurationError(f"cannot read {self.root}: {exc.strerror}") from exc
        ours = {LOCKS, AUDIT_LOG, DATABASE, DATABASE + "-wal", DATABASE + "-shm"}
        foreign = [e for e in entries if e not in ours and not is_os_litter(e)]
        if foreign:
            raise ConfigurationError(
                f"refusing to use {self.root}: it is not empty and is not a langgraph-persist "
                f"store (no {MARKER} file); point the saver at a new or empty directory"
            )

    def describe(self) -> str:
        return f"sqlite:{self.root}"

    # -- connections ----------------------------------------------------------------------------

    def _connect(self, *, write: bool) -> _Conn:
        if self._closed:
            raise StoreError(f"checkpoint store {self.root} is closed")
        with _OPENING:
            if not any(c.database == self.database and c.live() for c in _LIVE):
                self._refuse_damaged_wal()  # before any connection of ours replays it
            raw = self._open_read_only() if self.read_only else self._open(f"file:{self.database}")
            conn = _Conn(raw, self.database)
            _LIVE.add(conn)
        if write:  # private like every file of the store; -wal and -shm inherit the mode
            with contextlib.suppress(OSError):
                os.chmod(self.database, _FILE_MODE)
        if not self.read_only:
            with self._translate("configure the connection"):
                raw.execute("PRAGMA journal_mode = WAL")
                sync = "FULL" if self.durability == "fsync" else "NORMAL"
                raw.execute(f"PRAGMA synchronous = {sync}")
                # Deleted and overwritten records are zeroed, not left in free pages:
                # reencrypt and delete_thread + gc must not leave old plaintext behind.
                raw.execute("PRAGMA secure_delete = ON")
        self._all.add(conn)
        return conn

    def _refuse_damaged_wal(self) -> None:
        """A log left by a dead process, damaged where SQLite would silently stop
        replaying it, is refused before it is replayed (sqlite_wal.py)."""
        damage = sqlite_wal.check(self.database)
        if damage is None:
            return
        wal = self.database + "-wal"
        if damage.frame < 0:
            where = "in its header: SQLite would ignore the whole log"
        else:
            where = (
                f"at frame {damage.frame} (byte {damage.offset}): SQLite would drop the "
                f"{damage.lost_commits} transaction(s) committed after it"
            )
        raise CorruptStoreError(
            f"checkpoint store {self.root}: the write-ahead log {wal}, left by a process "
            f"that stopped without closing the store, is damaged {where}. Nothing was "
            "opened or changed. Restore the store from a backup, or see "
            '"A damaged write-ahead log" in docs/reliability.md to keep what is readable',
            store=self.describe(),
        )

    def _open(self, uri: str) -> sqlite3.Connection:
        try:
            return sqlite3.connect(
                uri,
                uri=True,
                timeout=_BUSY_TIMEOUT_S,
                isolation_level=None,  # we issue BEGIN/COMMIT ourselves
                check_same_thread=False,  # close() runs on any thread
                cached_statements=64,
            )
        except sqlite3.Error as exc:
            raise self._error(exc, "open the database") from exc

    def _open_read_only(self) -> sqlite3.Connection:
        """Read-only, even where nothing may be written (a backup, a read-only mount).

        A WAL database is read through its shared-memory file, which a reader
        must be able to create; where it cannot, the database is opened as
        *immutable*: no locks, and changes a live writer makes meanwhile are not
        seen, which is what inspecting a copy needs.
        """
        raw = self._open(f"file:{self.database}?mode=ro")
        try:
            raw.execute("SELECT 1 FROM entries LIMIT 1").fetchall()
            return raw
        except sqlite3.Error as exc:
            raw.close()
            if _is_corruption(exc):
                raise self._error(exc, "open the database") from exc
        raw = self._open(f"file:{self.database}?mode=ro&immutable=1")
        with self._translate("open the database"):
            raw.execute("SELECT 1 FROM entries LIMIT 1").fetchall()
        return raw

    def _fork_check(self) -> None:
        """A connection must never cross ``fork()``: a child starts with none of them."""
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._local = threading.local()
            self._all = weakref.WeakSet()
            self._commits.reset()
            self._write_conn = None
            self._sync_level = ""

    def _reader(self) -> sqlite3.Connection:
        self._fork_check()
        conn: _Conn | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self._connect(write=False)
            self._local.conn = conn
        return conn.raw

    def _writer(self) -> sqlite3.Connection:
        """The connection the group-commit leader writes with (one per process)."""
        self._fork_check()
        conn = self._write_conn
        if conn is None or conn.closed:
            conn = self._connect(write=True)
            self._write_conn = conn
            self._sync_level = ""
        return conn.raw

    # -- errors ---------------------------------------------------------------------------------

    def _error(self, exc: sqlite3.Error, doing: str) -> StoreError:
        if _is_corruption(exc):
            return CorruptStoreError(
                f"checkpoint store {self.database} is damaged ({exc}) while trying to {doing}; "
                "restore it from a backup (`langgraph-persist restore`)",
                store=self.describe(),
            )
        text = str(exc).lower()
        if "full" in text:
            what = "the disk is full"
        elif "readonly" in text or "read-only" in text:
            what = "the store is read-only"
        elif "locked" in text or "busy" in text:
            what = f"the store stayed locked by another process for {_BUSY_TIMEOUT_S:.0f} s"
        else:
            what = str(exc)
        return StoreError(
            f"checkpoint store {self.database}: could not {doing}: {what}; nothing was "
            "written, earlier checkpoints are intact"
        )

    def _only_asked(self, answered: Iterable[str], asked: Container[str]) -> None:
        """Raise ``CorruptStoreError`` if a range scan answered a directory nobody asked for.

        SQLite reads ``dir`` from the primary-key index it scans and stops at the
        first entry past the range, so an entry whose ``dir`` was damaged to sort
        lower still comes back, under a directory that was not asked for: the
        index and the table disagree, which only damage to the file does. Keying
        the answer by it was a raw ``KeyError``; dropping it would hide a record.
        (``read_many`` seeks whole unique keys: SQLite returns at most the entry
        it sought there, and looks answers up with ``get``.)
        """
        for d in answered:
            if d not in asked:
                raise CorruptStoreError(
                    f"checkpoint store {self.database} is damaged (its index and its table "
                    f"disagree: a scan of other directories answered a row of {d!r}); "
                    "restore it from a backup (`langgraph-persist restore`)",
                    store=self.describe(),
                )

    @contextlib.contextmanager
    def _translate(self, doing: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise self._error(exc, doing) from exc

    # -- reads --------------------------------------------------------------------------------

    def _unchanged(self) -> tuple[sqlite3.Connection, dict[Any, Any]]:
        """The reader's connection, and what it read since the database last changed.

        ``PRAGMA data_version`` changes whenever any other connection (this
        process's writer, another process) commits, and a reader connection
        never writes; so while it is unchanged, a read answers exactly what the
        same read answered before, and is taken from here instead of SQLite's
        pages: a latest ``get_tuple`` costs three of these checks instead of
        three queries. The bytes answered are records the engine verifies at
        every read, as it does what a query returns. Kept per connection (per
        thread), dropped at the first change.
        """
        conn = self._reader()
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        memo = getattr(self._local, "memo", None)
        if memo is None or memo[0] is not conn or memo[1] != version:
            memo = (conn, version, {})
            self._local.memo = memo
        found: dict[Any, Any] = memo[2]
        return conn, found

    def _recalled(
        self, memo_key: Any, doing: str
    ) -> tuple[sqlite3.Connection, dict[Any, Any], Any]:
        """The reader's connection, its memo (``_unchanged``) and the answer kept for
        ``memo_key``: ``_UNREAD`` when there is none, or when ``memo_key`` is None
        (a read that is not remembered)."""
        try:
            conn, memo = self._unchanged()
        except sqlite3.Error as exc:
            raise self._error(exc, doing) from exc
        return conn, memo, _UNREAD if memo_key is None else memo.get(memo_key, _UNREAD)

    @staticmethod
    def _keep(memo: dict[Any, Any], key: Any, value: Any, size: int) -> None:
        """Remember a read's answer unless it is large (content, not records)."""
        if size > _MEMO_VALUE_BYTES:
            return
        if len(memo) >= _MEMO_ENTRIES:
            memo.clear()
        memo[key] = value

    def read(self, key: Key) -> bytes | None:
        memo_key = ("read", key)
        conn, memo, hit = self._recalled(memo_key, "read")
        if hit is not _UNREAD:  # a key in the memo was validated when it was read
            return hit  # type: ignore[no-any-return]
        d, name = _split(key)
        try:  # inline, not _translate: the hottest path of the store
            row = conn.execute(
                "SELECT value FROM entries WHERE dir = ? AND name = ?", (d, name)
            ).fetchone()
        except sqlite3.Error as exc:
            raise self._error(exc, "read") from exc
        value = None if row is None or row[0] is None else bytes(row[0])
        self._keep(memo, memo_key, value, 0 if value is None else len(value))
        return value

    def read_many(self, keys: Sequence[Key]) -> list[bytes | None]:
        """One statement per ``_BATCH`` keys, not one per key: a page of ``list`` or a
        cold conversation's blobs cost one round into SQLite each, and a batch
        still sees one state of the store (``_select``)."""
        if len(keys) <= 1:
            return [self.read(k) for k in keys]
        memo_key = ("read_many", tuple(keys))
        _conn, memo, hit = self._recalled(memo_key, "read")
        if hit is not _UNREAD:
            return list(hit)
        pairs = [_split(key) for key in keys]
        rows = self._select(_seeks(pairs, values=True))
        found = {(d, name): value for d, name, value in rows}
        out: list[bytes | None] = []
        for pair in pairs:
            value = found.get(pair)
            out.append(None if value is None else bytes(value))
        self._keep(memo, memo_key, tuple(out), sum(len(v) for v in out if v is not None))
        return out

    def _select(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Rows of read statements, in one read transaction when there are several (one
        statement always sees one state of the store). No context managers: this is
        the path of every batched read."""
        try:
            conn = self._reader()
            if len(statements) == 1:
                sql, args = statements[0]
                return conn.execute(sql, args).fetchall()
            conn.execute("BEGIN")
            try:
                return [row for sql, args in statements for row in conn.execute(sql, args)]
            finally:
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise self._error(exc, "read") from exc

    def exists_many(self, keys: Sequence[Key]) -> list[bool]:
        """One statement per ``_BATCH`` keys (every write asks which of its content
        exists): the same seek per key as ``read_many``, returning no value."""
        if not keys:
            return []
        pairs = [_split(key) for key in keys]
        present = {(d, name) for d, name in self._select(_seeks(pairs, values=False))}
        return [pair in present for pair in pairs]

    def list(self, prefix: Key) -> Names:
        with self._translate("list"):
            rows = (
                self._reader()
                .execute("SELECT name FROM entries WHERE dir = ? ORDER BY name", (_dir_of(prefix),))
                .fetchall()
            )
        return [r[0] for r in rows]

    def list_desc(
        self,
        prefix: Key,
        *,
        before: str | None = None,
        limit: int | None = None,
        facets: Mapping[str, Scalar] | None = None,
    ) -> Names:
        """One index seek: the cost depends on ``limit``, not on how many names there are.

        ``facets`` (facets.py) are evaluated by SQLite next to each row, so a
        filtered listing decodes no record that cannot match; rows with unknown
        facets are always returned (the answer is a superset)."""
        memo_key = None if facets else ("list_desc", prefix, before, limit)
        conn, memo, hit = self._recalled(memo_key, "list")
        if hit is not _UNREAD:  # listed before with these arguments (see _unchanged)
            return list(hit)
        sql = "SELECT name FROM entries WHERE dir = ?"
        args: list[Any] = [_dir_of(prefix)]
        if before is not None:
            sql += " AND name < ?"
            args.append(before)
        if facets and self._has_facets():
            match, match_args = _facets_match(facets)
            sql += f" AND ({match})"
            args.extend(match_args)
        sql += " ORDER BY name DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        try:  # inline, not _translate: every latest get_tuple lists
            rows = conn.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise self._error(exc, "list") from exc
        names = [r[0] for r in rows]
        if memo_key is not None:
            self._keep(memo, memo_key, tuple(names), 0)
        return names

    _stored_facets = staticmethod(_mirrored)
    """How facets are written to the column (``_mirrored``)."""

    def _has_facets(self) -> bool:
        """Whether the database has the ``facets`` column (a schema-1 store opened
        read-only has not: it is listed as if no row had facets)."""
        if self._facets_column is None:
            with self._translate("read the schema"):
                columns = self._reader().execute("PRAGMA table_info(entries)").fetchall()
            self._facets_column = any(c[1] == "facets" for c in columns)
        return self._facets_column

    def list_many(self, prefixes: Sequence[Key]) -> Listings:
        return [self.list(p) for p in prefixes]

    def count(self, prefix: Key) -> int:
        """A count over the primary key's range: no name leaves SQLite."""
        with self._translate("count"):
            row = (
                self._reader()
                .execute("SELECT count(*) FROM entries WHERE dir = ?", (_dir_of(prefix),))
                .fetchone()
            )
        return int(row[0])

    def read_children(self, prefixes: Sequence[Key]) -> Children:
        """One range scan per prefix, ``_BATCH`` prefixes per statement: a page of
        checkpoints' pending writes is one statement, so one state of the store."""
        if not prefixes:
            return []
        memo_key = ("read_children", tuple(prefixes))
        _conn, memo, hit = self._recalled(memo_key, "read")
        if hit is not _UNREAD:
            return [list(children) for children in hit]
        dirs = [_dir_of(p) for p in prefixes]
        rows: dict[str, list[tuple[str, bytes]]] = {d: [] for d in dirs}
        unique = list(rows)
        statements = []
        for start in range(0, len(unique), _BATCH):
            chunk = _padded(unique[start : start + _BATCH])
            statements.append((_children_sql(len(chunk)), chunk))
        found = self._select(statements)
        self._only_asked((d for d, _name, _value in found), rows)
        for d, name, value in found:
            rows[d].append((name, bytes(value)))
        out: Children = [
            [((*p, name), value) for name, value in rows[d]]
            for p, d in zip(prefixes, dirs, strict=True)
        ]
        size = sum(len(value) for children in out for _key, value in children)
        self._keep(memo, memo_key, tuple(tuple(children) for children in out), size)
        return out

    def walk(self, prefix: Key) -> Iterator[tuple[Key, int, float]]:
        """Every record under ``prefix`` with its size (SQLite keeps no mtime: 0.0)."""
        d = _dir_of(prefix)
        low, high = _subtree_bounds(d)
        with self._translate("walk"):
            rows = (
                self._reader()
                .execute(
                    "SELECT dir, name, length(value) FROM entries WHERE value IS NOT NULL AND "
                    "(dir = ? OR (dir >= ? AND dir < ?)) ORDER BY dir, name",
                    (d, low, high),
                )
                .fetchall()
            )
        for row_dir, name, size in rows:
            parts = tuple(row_dir.split("/")) if row_dir else ()
            yield (*parts, name), int(size), 0.0

    def local_root(self) -> str:
        return self.root

    def disk_bytes(self) -> int:
        """The database file and its write-ahead log (which holds committed pages until
        a checkpoint copies them back, so both count)."""
        total = 0
        for path in (self.database, self.database + "-wal"):
            with contextlib.suppress(FileNotFoundError):
                total += os.stat(path).st_size
        return total

    def size_of(self, prefix: Key) -> int:
        """One aggregate over the key range: no row leaves SQLite."""
        d = _dir_of(prefix)
        low, high = _subtree_bounds(d)
        with self._translate("measure"):
            row = (
                self._reader()
                .execute(
                    "SELECT coalesce(sum(length(value)), 0) FROM entries "
                    "WHERE dir = ? OR (dir >= ? AND dir < ?)",
                    (d, low, high),
                )
                .fetchone()
            )
        return int(row[0])

    # -- writes -------------------------------------------------------------------------------

    def commit(
        self,
        *,
        create: Sequence[tuple[Key, bytes]] = (),
        write: Sequence[tuple[Key, bytes]] = (),
        defer_sync: bool = False,
        facets: Mapping[Key, str] | None = None,
    ) -> None:
        """Content and record in one transaction (one fsync, shared with concurrent calls).

        ``defer_sync`` commits without the fsync (``synchronous=NORMAL``): the WAL
        frames reach the OS at once, so a killed process loses nothing, and the
        next FULL commit's fsync of the WAL makes them power-safe too, because the
        WAL is one append-only file synced in order.

        ``facets`` go into the same rows as their records (facets.py), so a
        record and the facets that describe it are never apart.
        """
        if not create and not write:
            return
        described = {k: self._stored_facets(text) for k, text in (facets or {}).items()}
        rows_create = [(*_split(k), v, described.get(k)) for k, v in create]
        rows_write = [(*_split(k), v, described.get(k)) for k, v in write]
        parents = {p for k, _ in (*create, *write) for p in _parents(k)}

        def work(conn: sqlite3.Connection) -> None:
            self._insert_dirs(conn, parents)
            if rows_create:
                conn.executemany(
                    "INSERT OR IGNORE INTO entries (dir, name, value, facets) VALUES (?, ?, ?, ?)",
                    rows_create,
                )
            if rows_write:
                conn.executemany(
                    "INSERT INTO entries (dir, name, value, facets) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (dir, name) DO UPDATE "
                    "SET value = excluded.value, facets = excluded.facets",
                    rows_write,
                )

        self._transact(work, "write", sync=not defer_sync)

    def write_many(self, items: Sequence[tuple[Key, bytes]]) -> None:
        self.commit(write=items)

    def create_many(self, items: Sequence[tuple[Key, bytes]]) -> None:
        self.commit(create=items)

    def link(self, items: Sequence[tuple[Key, Key]]) -> None:
        """Copy records (they are small: values are shared blobs) in one transaction."""
        if not items:
            return
        pairs = [(*_split(dst), *_split(src)) for src, dst in items]
        parents = {p for _, dst in items for p in _parents(dst)}

        def work(conn: sqlite3.Connection) -> None:
            self._insert_dirs(conn, parents)
            conn.executemany(
                "INSERT INTO entries (dir, name, value, facets) "
                "SELECT ?, ?, value, facets FROM entries "
                "WHERE dir = ? AND name = ? AND value IS NOT NULL "
                "ON CONFLICT (dir, name) DO UPDATE "
                "SET value = excluded.value, facets = excluded.facets",
                pairs,
            )

        self._transact(work, "link")

    def _insert_dirs(self, conn: sqlite3.Connection, parents: set[tuple[str, str]]) -> None:
        """The directory rows of a write's keys, but those known to exist (sqlite_dirs.py)."""
        missing = self._dirs.missing(conn, parents)
        if missing:
            conn.executemany(
                "INSERT OR IGNORE INTO entries (dir, name, value) VALUES (?, ?, NULL)", missing
            )

    def delete_many(self, keys: Sequence[Key]) -> None:
        if not keys:
            return
        rows = [_split(k) for k in keys]
        dirs = {tuple(k[:-1]) for k in keys}

        def work(conn: sqlite3.Connection) -> None:
            self._dirs.forget()  # directory rows may go with them (_prune_empty)
            conn.executemany(
                "DELETE FROM entries WHERE dir = ? AND name = ? AND value IS NOT NULL", rows
            )
            for d in dirs:
                _prune_empty(conn, d)

        self._transact(work, "delete")

    def delete_tree(self, prefix: Key) -> None:
        d, name = _split(prefix)
        low, high = _subtree_bounds(_dir_of(prefix))
        inner = _dir_of(prefix)

        def work(conn: sqlite3.Connection) -> None:
            self._dirs.forget()
            conn.execute(
                "DELETE FROM entries WHERE dir = ? OR (dir >= ? AND dir < ?)", (inner, low, high)
            )
            conn.execute("DELETE FROM entries WHERE dir = ? AND name = ?", (d, name))

        self._transact(work, "delete")

    @property
    def calls(self) -> int:
        """Write calls committed by this process (``commit``, deletes, links)."""
        return self._commits.calls

    @property
    def transactions(self) -> int:
        """Transactions that committed them: fewer than ``calls`` when calls were grouped."""
        return self._commits.transactions

    def _transact(self, work: Work, doing: str, *, sync: bool = True) -> None:
        """Run ``work`` in a group commit (group_commit.py); raise its own error."""
        if self.read_only:
            raise StoreError(f"checkpoint store {self.root} was opened read-only")
        self._fork_check()
        if self._schema < _SCHEMA_VERSION:
            self._commits.run(self._migrate, "upgrade the database schema")
            self._schema = _SCHEMA_VERSION
            self._facets_column = None
        self._commits.run(work, doing, sync=sync)

    def _writer_for(self, sync: bool) -> sqlite3.Connection:
        """The write connection, set to sync its next commit (``sync``) or not."""
        conn = self._writer()
        self._set_sync(conn, sync)
        return conn

    def _set_sync(self, conn: sqlite3.Connection, sync: bool) -> None:
        """FULL for a batch with a call that must be power-safe now, else NORMAL."""
        level = "FULL" if sync and self.durability == "fsync" else "NORMAL"
        if level != self._sync_level:
            conn.execute(f"PRAGMA synchronous = {level}")
            self._sync_level = level

    def recover(self, key: Key, good: Callable[[bytes], bool]) -> bool:
        """One database holds one copy: nothing to recover from."""
        return False

    # -- administration -------------------------------------------------------------------------

    def scrub(self) -> None:
        """Checkpoint the WAL into the database and truncate it to zero bytes.

        Deleted records are zeroed in the database (``secure_delete``), but the
        WAL still holds the frames that carried them until it is checkpointed
        and truncated: without this, ``delete_thread`` + ``gc`` would leave the
        thread's bytes in ``store.db-wal``.
        """
        with self._translate("checkpoint the write-ahead log"):
            busy, _log, _done = self._reader().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            raise StoreError(
                f"checkpoint store {self.database}: the write-ahead log could not be "
                "truncated while other connections read; run gc again when they are idle"
            )

    def integrity_check(self) -> Names:
        """SQLite's own check of the database file: empty when it is sound."""
        try:
            rows = self._reader().execute("PRAGMA integrity_check").fetchall()
        except sqlite3.Error as exc:
            return [str(self._error(exc, "check the database"))]
        except CorruptStoreError as exc:
            return [str(exc)]
        problems = [str(r[0]) for r in rows]
        return [] if problems == ["ok"] else problems

    def salvage(self) -> int:
        """Rebuild a damaged database from every row that can still be read
        (sqlite_salvage.py); returns the rows kept. Run it with the store's writers
        stopped: the database is replaced under this process's (closed) connections."""
        self.close()
        kept = salvage_database(self.database, self._create_schema)
        self._facets_column = None
        self._closed = False
        self._local = threading.local()
        self._write_conn = None
        return kept

    def disk_usage(self) -> int:
        """Bytes the store's files take on disk (database, WAL and shared memory)."""
        total = 0
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                total += os.stat(self.database + suffix).st_blocks * 512
        return total

    def backup(self, destination: str) -> None:
        """A consistent copy of the database while writers run (SQLite's online backup)."""
        target = sqlite3.connect(destination)
        try:
            with self._translate("back up"):
                self._reader().backup(target)
        finally:
            target.close()

    def close(self) -> None:
        """Close every connection; the last one checkpoints and removes the WAL."""
        self._closed = True
        for conn in list(self._all):
            conn.close()


class _Conn:
    """A connection, its database and the process that opened it (never used across fork)."""

    def __init__(self, raw: sqlite3.Connection, database: str) -> None:
        self.raw = raw
        self.database = database
        self.pid = os.getpid()
        self.closed = False

    def live(self) -> bool:
        """Open, in this process (a forked child inherits the object, not the connection)."""
        return not self.closed and self.pid == os.getpid()

    def close(self) -> None:
        if self.live():
            self.closed = True
            with contextlib.suppress(sqlite3.Error):
                self.raw.close()

    def __del__(self) -> None:
        # A reader's connection dies with its thread (LangGraph runs puts on short-lived
        # threads): close it now, not at the next garbage collection, so it holds no
        # WAL snapshot open and the last close can still checkpoint and remove the WAL.
        self.close()


def _prune_empty(conn: sqlite3.Connection, key: Key) -> None:
    """Remove directory rows left empty by a delete, bottom up (keeps listings exact)."""
    while len(key) > 1:
        d = "/".join(key)
        if conn.execute("SELECT 1 FROM entries WHERE dir = ? LIMIT 1", (d,)).fetchone():
            return
        conn.execute(
            "DELETE FROM entries WHERE dir = ? AND name = ? AND value IS NULL",
            ("/".join(key[:-1]), key[-1]),
        )
        key = key[:-1]
