"""Every storage key is built and parsed here, and nowhere else.

A *key* is a tuple of path components. Each component is a "safe name":
non-empty, at most ``MAX_COMPONENT`` bytes, made only of ``[a-z0-9_-]`` and
``%XX`` escapes. Such a name is a valid file name on every common file system
(case-insensitive ones included, since upper-case letters are escaped), can
never be ``.`` or ``..``, never contains a separator, and is a valid piece of
a Redis key or an S3 object name. So an arbitrary thread id (unicode, ``/``,
``..``, ``\\0``, empty, 10,000 characters) can never escape the store's root;
ids over ``MAX_ID_BYTES`` (64 KiB of UTF-8) are refused.

Why not ``urllib.parse.quote``: it keeps ``.`` and upper case, so ``..`` and
``A``/``a`` collisions on case-insensitive file systems stay possible.

Names longer than ``MAX_COMPONENT`` are replaced by a digest (``~`` + hex);
the original id is then recovered from the thread's info record, which the
engine writes for every thread (see ``thread_info``).

Layout (``docs/format.md`` is the reference)::

    threads/<thread>/info                     thread info record (id, created)
    threads/<thread>/ns/<ns>/c/<checkpoint>    checkpoint records
    threads/<thread>/ns/<ns>/w/<checkpoint>/<seq>  pending-write records
    blobs/<hh>/<hash>                          content-addressed values
    runs/<run>/<thread>                        run -> thread index (delete_for_runs)
    tombstones/<thread>                        a deleted thread's boundary (no resurrection)
"""

from __future__ import annotations

import hashlib
import re
from typing import Literal, NamedTuple

from langgraph_persist.errors import InvalidIdError

Key = tuple[str, ...]

MAX_COMPONENT = 200
"""Longest encoded component kept verbatim; 255 is the usual file-name limit."""

MAX_ID_BYTES = 64 * 1024
"""Ids longer than this many UTF-8 bytes are refused outright (``InvalidIdError``).

Checked before any per-character work, so a hostile multi-megabyte id costs
one C-level length check, not a Python loop over every character. Ids longer
than ``MAX_COMPONENT`` bytes but within this limit are hashed (module doc).
"""

MAX_ID_CHARS = MAX_ID_BYTES
"""Kept for callers of earlier releases: no id of more characters can pass ``MAX_ID_BYTES``."""

_SAFE = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")
_EMPTY = "="
_HASHED = "~"
_CHECKPOINT_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]{0,199}$")
_NAME = re.compile(r"=|~[0-9a-f]{40}|(?:[a-z0-9_-]|%[0-9A-F]{2}){1,200}")
_PLAIN = re.compile(r"[a-z0-9_-]+")
_SEQ = re.compile(r"[0-9]{20}-[0-9]{7}-[0-9a-f]{12}")
_HEX_DIGEST = re.compile(r"[0-9a-f]{40}")


def encode_name(value: str, key: bytes = b"") -> str:
    """Map any string to a safe, reversible path component (see module doc).

    With a ``key`` (a store that hides ids, storemeta.py) every non-empty name
    is a keyed digest instead: nothing in a key reveals the id, which lives
    only inside encrypted records (the thread info, the checkpoints' ``ns``).

    Cost is bounded before anything proportional to the id runs: an id over
    ``MAX_ID_BYTES`` is refused from its length alone, and one whose UTF-8
    form is already longer than ``MAX_COMPONENT`` is hashed without the
    per-character escaping loop (escaping never shortens a name, so it would
    be hashed anyway: same result, no loop).
    """
    if not isinstance(value, str):
        raise InvalidIdError(f"ids must be strings, got {type(value).__name__}")
    if len(value) > MAX_ID_BYTES:  # every character is at least one byte
        raise InvalidIdError(f"id of {len(value)} characters exceeds {MAX_ID_BYTES} bytes")
    if value == "":
        return _EMPTY
    if not key and len(value) <= MAX_COMPONENT and _PLAIN.fullmatch(value):
        return value  # every character is safe: the loop below would copy it (hot path)
    try:
        raw = value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidIdError(
            f"id {value[:40]!r} is not valid Unicode text (it holds a lone surrogate); "
            "LangGraph's serializers cannot store it either"
        ) from None
    if len(raw) > MAX_ID_BYTES:
        raise InvalidIdError(f"id of {len(raw)} UTF-8 bytes exceeds {MAX_ID_BYTES} bytes")
    if key:
        return _HASHED + hashlib.blake2b(raw, digest_size=20, key=key).hexdigest()
    if len(raw) > MAX_COMPONENT:
        return _HASHED + hashlib.blake2b(raw, digest_size=20).hexdigest()
    out: list[str] = []
    for ch in value:
        if ch in _SAFE:
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8"))
    encoded = "".join(out)
    if len(encoded) > MAX_COMPONENT:
        return _HASHED + hashlib.blake2b(raw, digest_size=20).hexdigest()
    return encoded


def is_hashed(name: str) -> bool:
    """True when ``name`` is a digest standing for an id too long to keep."""
    return name.startswith(_HASHED)


def decode_name(name: str) -> str:
    """Invert :func:`encode_name` (hashed names cannot be inverted: see module doc)."""
    if name == _EMPTY:
        return ""
    if is_hashed(name):
        raise InvalidIdError(f"{name!r} is a hashed name; read the thread info record")
    if _PLAIN.fullmatch(name):
        return name  # nothing escaped: the name is the id (most ids), no loop
    raw = bytearray()
    i = 0
    while i < len(name):
        ch = name[i]
        if ch == "%":
            raw += bytes.fromhex(name[i + 1 : i + 3])
            i += 3
        elif ch in _SAFE:
            raw += ch.encode()
            i += 1
        else:
            raise InvalidIdError(f"{name!r} is not an encoded name")
    return raw.decode("utf-8")


def check_checkpoint_id(checkpoint_id: str) -> str:
    """Checkpoint ids are used verbatim as names: accept only LangGraph's shape.

    LangGraph makes them with ``uuid6`` (hex and dashes); we allow letters,
    digits, ``_`` and ``-`` (not leading), which sort the same on every store.
    No ``.``: then no file a person drops into a store (``notes.txt``,
    ``.DS_Store``) can ever look like a checkpoint. Upper case is allowed
    because ids are compared exactly, never case-folded; on case-insensitive
    file systems two ids differing only in case would collide, which uuid6
    ids never do.
    """
    if not isinstance(checkpoint_id, str) or not _CHECKPOINT_ID.match(checkpoint_id):
        raise InvalidIdError(f"unsupported checkpoint id {checkpoint_id!r}")
    return checkpoint_id


# -- key builders ---------------------------------------------------------------------------
# They take *encoded* names (``t`` for a thread, ``n`` for a namespace), so code
# that found a name by listing a directory can build keys without decoding it.

THREADS = "threads"
BLOBS = "blobs"
RUNS = "runs"
TOMBSTONES = "tombstones"
META = "meta"
INFO = "info"
HEAD = "head"


def threads_root() -> Key:
    return (THREADS,)


def thread_dir(t: str) -> Key:
    return (THREADS, t)


def thread_info(t: str) -> Key:
    return (THREADS, t, INFO)


def namespaces_dir(t: str) -> Key:
    return (THREADS, t, "ns")


def checkpoints_dir(t: str, n: str) -> Key:
    return (THREADS, t, "ns", n, "c")


def checkpoint(t: str, n: str, checkpoint_id: str) -> Key:
    return (THREADS, t, "ns", n, "c", check_checkpoint_id(checkpoint_id))


def head(t: str, n: str) -> Key:
    """A namespace's head: its newest checkpoint and how many write records it had."""
    return (THREADS, t, "ns", n, HEAD)


def writes_root(t: str, n: str) -> Key:
    return (THREADS, t, "ns", n, "w")


def writes_dir(t: str, n: str, checkpoint_id: str) -> Key:
    return (THREADS, t, "ns", n, "w", check_checkpoint_id(checkpoint_id))


def write(t: str, n: str, checkpoint_id: str, seq: str) -> Key:
    return (*writes_dir(t, n, checkpoint_id), seq)


def blobs_root() -> Key:
    return (BLOBS,)


def blob(digest: bytes) -> Key:
    """Blobs are sharded by their first byte so no directory grows huge."""
    hexed = digest.hex()
    return (BLOBS, hexed[:2], hexed)


def blob_shards() -> list[Key]:
    """Every blob shard directory (a store creates them up front: see FileStore)."""
    return [(BLOBS, f"{i:02x}") for i in range(256)]


def blob_digest(key: Key) -> bytes:
    """Invert :func:`blob`."""
    return bytes.fromhex(key[-1])


def runs_dir(r: str) -> Key:
    return (RUNS, r)


def run_index(r: str, t: str) -> Key:
    return (RUNS, r, t)


def meta(name: str) -> Key:
    """What a store records about itself (``storemeta.py``): ``meta/store``."""
    return (META, name)


def tombstone(t: str) -> Key:
    """Outside the thread's directory, so it survives the thread's deletion."""
    return (TOMBSTONES, t)


def hot_secret() -> Key:
    """The store secret that keys the Redis hot tier's MAC (``store/hot_auth.py``).

    Kept in the cold store, the trust anchor, and never in Redis (the tiered store
    serves the ``meta`` root from the cold tier alone). A ``STORE_META`` record like
    ``meta/store``: readable without a key, verified, backed up, not re-encrypted.
    """
    return meta("hot-secret")


def is_layout_prefix(key: Key) -> bool:
    """Whether ``key`` is a layout key or a directory on the way to one.

    What listings of the file layout keep: a name that fails is a file a user
    or an operating system dropped into the store, and no read path sees it.
    """
    if len(key) <= 1:
        return not key or key[0] in (THREADS, BLOBS, RUNS, TOMBSTONES, META)
    root, n = key[0], len(key)
    if root == THREADS:
        if not _NAME.fullmatch(key[1]) or n > 7:
            return False
        if n >= 3 and key[2] not in ((INFO,) if n == 3 else ()) + ("ns",):
            return False
        if n >= 4 and not _NAME.fullmatch(key[3]):
            return False
        if n >= 5 and key[4] not in ("c", "w", HEAD):
            return False
        if n >= 6 and key[4] == HEAD:
            return False
        if n >= 6 and _CHECKPOINT_ID.match(key[5]) is None:
            return False
        return n < 7 or (key[4] == "w" and _SEQ.fullmatch(key[6]) is not None)
    if root == BLOBS:
        return (n == 2 and re.fullmatch(r"[0-9a-f]{2}", key[1]) is not None) or is_layout_key(key)
    if root == RUNS:
        return n <= 3 and all(_NAME.fullmatch(part) for part in key[1:])
    if root == TOMBSTONES:
        return n == 2 and _NAME.fullmatch(key[1]) is not None
    if root == META:
        return n == 2 and _NAME.fullmatch(key[1]) is not None
    return False


Place = Literal[
    "thread_info", "head", "checkpoint", "write", "blob", "run_index", "tombstone", "meta"
]
"""What kind of record a layout key holds, from where it sits."""


class Parsed(NamedTuple):
    """A layout key taken apart: its place and the encoded names in it."""

    place: Place
    t: str | None = None
    """The thread's encoded name (thread records, run index entries, tombstones)."""
    n: str | None = None
    """The namespace's encoded name (head, checkpoint and write records)."""
    checkpoint_id: str | None = None


def parse(key: Key) -> Parsed | None:
    """Invert the builders above; ``None`` for a key this module does not build.

    A store directory is a place people and operating systems drop files into
    (``.DS_Store``, ``Thumbs.db``, ``notes.txt``, editor backups ``x~``). Every
    read path ignores what does not parse, and ``verify`` reports it as a
    warning, never as a damaged record.
    """

    def name(part: str) -> bool:
        return _NAME.fullmatch(part) is not None

    match key:
        case (root, t, leaf) if root == THREADS and leaf == INFO and name(t):
            return Parsed("thread_info", t)
        case (root, t, "ns", n, leaf) if root == THREADS and leaf == HEAD and name(t) and name(n):
            return Parsed("head", t, n)
        case (root, t, "ns", n, "c", cid) if (
            root == THREADS and name(t) and name(n) and _CHECKPOINT_ID.match(cid)
        ):
            return Parsed("checkpoint", t, n, cid)
        case (root, t, "ns", n, "w", cid, seq) if (
            root == THREADS
            and name(t)
            and name(n)
            and _CHECKPOINT_ID.match(cid)
            and _SEQ.fullmatch(seq)
        ):
            return Parsed("write", t, n, cid)
        case (root, shard, hexed) if (
            root == BLOBS and _HEX_DIGEST.fullmatch(hexed) and hexed[:2] == shard
        ):
            return Parsed("blob")
        case (root, r, t) if root == RUNS and name(r) and name(t):
            return Parsed("run_index", t)
        case (root, t) if root == TOMBSTONES and name(t):
            return Parsed("tombstone", t)
        case (root, what) if root == META and name(what):
            return Parsed("meta")
    return None


def is_layout_key(key: Key) -> bool:
    """Whether ``key`` is one this module builds: anything else in a store is foreign
    (see ``parse``)."""
    return parse(key) is not None


def in_blobs(key: Key) -> bool:
    """Whether ``key`` lies under the content store (``blobs/``), layout key or not."""
    return key[:1] == (BLOBS,)


def in_meta(key: Key) -> bool:
    """Whether ``key`` lies under what a store records about itself (``meta/``)."""
    return key[:1] == (META,)


def record_of(key: Key) -> tuple[str, str] | None:
    """(encoded namespace, checkpoint id) of a checkpoint or pending-write record key,
    ``None`` for any other key (info, head, blobs...). Code that walks a thread asks
    this instead of parsing keys by position."""
    parsed = parse(key)
    if parsed is None or parsed.place not in ("checkpoint", "write"):
        return None
    assert parsed.n is not None and parsed.checkpoint_id is not None
    return parsed.n, parsed.checkpoint_id
