"""``verify``: is every record intact, and is everything a record reaches there and intact?

What it reports, and why:

* **Damage** is what a reader can meet: a record (checkpoint, writes, thread
  info, run index, tombstone) whose framing, digest or decryption fails, and
  content (a value blob, a list segment, an element) that a record reaches,
  directly or through a segment, and that is missing or damaged. Each damage
  names every thread, namespace and checkpoint that reaches it, so an
  operator knows what is affected; ``repair`` restores it from another copy
  (the other tier) where one verifies, and never deletes anything.
* **Garbage is not damage.** References are followed from records only.
  Content no record reaches (left by a process killed between writing
  content and its record in the file layout, by an interrupted ``gc``, or
  by deletes awaiting ``gc``) is counted as garbage, damaged or not: no
  reader can meet it, and ``gc`` removes it.
* **Foreign files are warnings.** A ``.DS_Store``, ``Thumbs.db`` or
  ``notes.txt`` dropped into a store directory is not a record of ours; every
  read path ignores it, and ``verify`` names it without calling it damage.
* **The medium's own check.** A database that SQLite finds damaged is
  reported as damage of the store itself (``Store.integrity_check``).

It verifies the source of truth: through a tiered store, a good hot copy
would hide damage in the cold tier; repair still goes through the tiered
store, which knows where the other copy is.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from langgraph_persist import keys, records
from langgraph_persist.engine import Engine
from langgraph_persist.errors import CorruptRecordError, PersistError, RecordError, StoreError
from langgraph_persist.records import Kind
from langgraph_persist.values import ValueCodec

Progress = Callable[[int, int], None]
"""``progress(done, total)``; total is 0 while unknown."""

Owner = tuple[str | None, str | None, str | None]
"""(thread id, namespace, checkpoint id) of a record, as far as it can be told."""

_BATCH = 256


@dataclass(frozen=True)
class Damage:
    """One damaged record or piece of content, and who reaches it."""

    location: str
    reason: str
    thread_id: str | None = None
    checkpoint_ns: str | None = None
    checkpoint_id: str | None = None
    repaired: bool = False
    reached_by: tuple[Owner, ...] = ()


@dataclass
class VerifyReport:
    """What ``verify`` looked at and what it found."""

    records_checked: int = 0
    blobs_checked: int = 0
    garbage_blobs: int = 0
    damaged: list[Damage] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is damaged, or everything damaged was repaired."""
        return all(d.repaired for d in self.damaged)


_KINDS: dict[keys.Place, Kind | None] = {
    "blob": None,  # BLOB or SEGMENT
    "run_index": Kind.RUN_INDEX,
    "tombstone": Kind.TOMBSTONE,
    "meta": Kind.STORE_META,
    "thread_info": Kind.THREAD_INFO,
    "head": Kind.HEAD,
    "checkpoint": Kind.CHECKPOINT,
    "write": Kind.WRITES,
}


_THREAD_RECORDS = frozenset({"thread_info", "head", "checkpoint", "write"})


def expected_kind(key: keys.Key) -> Kind | None:
    """The kind of record a layout key must hold, from where it sits in the layout
    (``None`` for content, which is a BLOB or a SEGMENT, and for foreign keys)."""
    parsed = keys.parse(key)
    return None if parsed is None else _KINDS[parsed.place]


def verify(
    engine: Engine, *, repair: bool = False, progress: Progress | None = None
) -> VerifyReport:
    """Check every record and everything records reach (see module docstring)."""
    return _Verifier(engine, repair, progress).run()


class _Verifier:
    def __init__(self, engine: Engine, repair: bool, progress: Progress | None) -> None:
        self.engine = engine
        self.repair = repair
        self.progress = progress
        self.report = VerifyReport()
        self.store = engine.store.source_of_truth()
        self.done = 0
        self.total = 0
        self._thread_ids: dict[str, str | None] = {}
        self._heads: dict[keys.Key, dict[str, object]] = {}

    def run(self) -> VerifyReport:
        self.engine.store.flush()  # write-behind: acknowledged records reach the cold tier first
        problems = self.store.integrity_check()
        if problems and self.repair and self.engine.store.salvage() is not None:
            # rebuilt from its readable rows (and the hot tier): now check every record
            self.report.damaged.append(
                Damage(self.store.describe(), f"store damaged: {problems[0]}", repaired=True)
            )
            problems = self.store.integrity_check()
        for problem in problems:
            self.report.damaged.append(Damage(self.store.describe(), f"store damaged: {problem}"))
        try:
            walked = [k for k, _size, _mtime in self.store.walk(())]
        except StoreError as exc:
            self.report.damaged.append(Damage(self.store.describe(), str(exc)))
            return self.report
        record_keys: list[keys.Key] = []
        blob_count = 0
        for key in walked:
            if not keys.is_layout_key(key):
                self.report.warnings.append(
                    f"{'/'.join(key)}: not written by langgraph-persist (ignored)"
                )
            elif keys.in_blobs(key):
                blob_count += 1
            else:
                record_keys.append(key)
        self.total = len(record_keys) + blob_count
        owners = self._check_records(record_keys)
        self._check_heads(record_keys)
        reached = self._check_content(owners)
        self.report.garbage_blobs = max(0, blob_count - reached)
        return self.report

    def _tick(self, n: int) -> None:
        self.done += n
        if self.progress is not None:
            self.progress(min(self.done, self.total), self.total)

    def _check_records(self, record_keys: Sequence[keys.Key]) -> dict[bytes, set[Owner]]:
        """Decode every record; return the content each reaches directly, with its owners."""
        owners: dict[bytes, set[Owner]] = defaultdict(set)
        for start in range(0, len(record_keys), _BATCH):
            chunk = record_keys[start : start + _BATCH]
            for key, data in zip(chunk, self.store.read_many(chunk), strict=True):
                if data is None:
                    continue  # deleted while we walked
                self.report.records_checked += 1
                location = "/".join(key)
                expect = expected_kind(key)
                try:
                    obj = records.decode(
                        data,
                        expect=expect,
                        location=location,
                        sealer=None if expect is Kind.STORE_META else self.engine.sealer,
                        aad=location.encode(),
                    )
                except RecordError as exc:
                    self._damaged(key, str(exc), expect, [self._owner(key)])
                    continue
                if expect is Kind.HEAD:
                    self._heads[key] = obj
                for ref in ValueCodec.record_refs(expect, obj):
                    for digest in ValueCodec.direct_digests(ref):
                        owners[digest].add(self._owner(key))
            self._tick(len(chunk))
        return owners

    def _check_heads(self, record_keys: Sequence[keys.Key]) -> None:
        """A namespace's newest checkpoint and its pending writes are referenced by
        nothing; the head records them (engine.py, ``_head``). Its checkpoint must
        exist, with at least as many write records: else the thread was rolled back."""
        checkpoints: set[keys.Key] = set()
        writes: dict[keys.Key, int] = defaultdict(int)
        for key in record_keys:
            parsed = keys.parse(key)
            if parsed is None or parsed.t is None or parsed.n is None:
                continue
            if parsed.place == "checkpoint":
                checkpoints.add(key)
            elif parsed.place == "write" and parsed.checkpoint_id is not None:
                writes[keys.writes_dir(parsed.t, parsed.n, parsed.checkpoint_id)] += 1
        for key, head in self._heads.items():
            latest = str(head.get("latest"))
            expected = int(head.get("writes", 0))  # type: ignore[call-overload]
            at = keys.parse(key)
            if at is None or at.t is None or at.n is None:
                continue
            checkpoint = keys.checkpoint(at.t, at.n, latest)
            write_dir = keys.writes_dir(at.t, at.n, latest)
            reason = None
            if checkpoint not in checkpoints:
                reason = f"the newest checkpoint {latest} is missing: the thread was rolled back"
            elif writes[write_dir] < expected:
                reason = (
                    f"pending writes of checkpoint {latest} were removed "
                    f"({writes[write_dir]} of {expected} write records left)"
                )
            if reason is not None:
                owner = self._owner(key)
                self._damaged(key, reason, Kind.HEAD, [(owner[0], owner[1], latest)])

    def _check_content(self, owners: dict[bytes, set[Owner]]) -> int:
        """Follow references breadth first; return how many pieces of content were reached."""
        seen: set[bytes] = set()
        frontier = list(owners)
        while frontier:
            batch = [d for d in dict.fromkeys(frontier) if d not in seen]
            seen.update(batch)
            frontier = []
            for start in range(0, len(batch), _BATCH):
                chunk = batch[start : start + _BATCH]
                blob_keys = [keys.blob(d) for d in chunk]
                for digest, key, data in zip(
                    chunk, blob_keys, self.store.read_many(blob_keys), strict=True
                ):
                    who = sorted(owners[digest], key=_owner_order)
                    if data is None:
                        self._damaged(key, "referenced content is missing", None, who)
                        continue
                    self.report.blobs_checked += 1
                    try:
                        obj, kind = records.decode_with_kind(
                            data,
                            location="/".join(key),
                            sealer=self.engine.sealer,
                            aad="/".join(key).encode(),
                        )
                        if kind not in (Kind.BLOB, Kind.SEGMENT):
                            raise CorruptRecordError(
                                f"{kind.name} record in the blob store", location="/".join(key)
                            )
                        address_key = self._address_key(who)
                        if address_key is not None and digest != records.content_digest(
                            kind, records.pack(obj), address_key
                        ):
                            raise CorruptRecordError(
                                "content does not match its address", location="/".join(key)
                            )
                    except RecordError as exc:
                        self._damaged(key, str(exc), None, who)
                        continue
                    if kind is Kind.SEGMENT:
                        for element in ValueCodec.segment_digests(obj):
                            owners[element].update(who)
                            frontier.append(element)
                self._tick(len(chunk))
        return len(seen)

    def _address_key(self, who: Sequence[Owner]) -> bytes | None:
        """The key this content's address was made with, or None when it cannot be told."""
        if not self.engine.check_addresses:
            return None
        if self.engine.share_content == "store":
            return self.engine.codec.hash_key
        thread_id = who[0][0] if who else None
        return None if thread_id is None else self.engine.hash_key_for(self.engine.name(thread_id))

    def _damaged(
        self, key: keys.Key, reason: str, expect: Kind | None, who: Iterable[Owner]
    ) -> None:
        reached_by = tuple(who)
        first: Owner = reached_by[0] if reached_by else (None, None, None)
        repaired = self.repair and _recover(self.engine, key, expect)
        self.report.damaged.append(
            Damage("/".join(key), reason, *first, repaired=repaired, reached_by=reached_by)
        )

    def _owner(self, key: keys.Key) -> Owner:
        """(thread, namespace, checkpoint) a record key belongs to, as far as it can be told."""
        parsed = keys.parse(key)
        if parsed is None or parsed.place not in _THREAD_RECORDS or parsed.t is None:
            return None, None, None
        t = parsed.t
        if t not in self._thread_ids:
            try:
                self._thread_ids[t] = self.engine.thread_id_of(t)
            except PersistError:
                self._thread_ids[t] = None
        ns = None
        if parsed.n is not None and parsed.checkpoint_id is not None:
            ns = None if keys.is_hashed(parsed.n) else keys.decode_name(parsed.n)
        return self._thread_ids[t], ns, parsed.checkpoint_id


def _owner_order(owner: Owner) -> tuple[str, str, str]:
    return tuple(x or "" for x in owner)  # type: ignore[return-value]


def _recover(engine: Engine, key: keys.Key, expect: Kind | None) -> bool:
    def good(data: bytes) -> bool:
        try:
            records.decode_with_kind(
                data, expect=expect, sealer=engine.sealer, aad="/".join(key).encode()
            )
        except RecordError:
            return False
        return True

    return engine.store.recover(key, good)
