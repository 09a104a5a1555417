"""Whether ``TieredStore`` trusts its hot tier right now, and its counters.

Any ``TierUnavailableError`` from the hot tier (the only failure an adapter
raises, ``hot/port.py``) switches the store to *degraded*: every call is
served by the cold tier, one warning is logged per outage, and a background
probe tries Redis again. Not only connection errors count: an OOM, a
``READONLY`` replica or a damaged key under our prefix all mean "do not trust
the hot tier for now". On resume, the journal (``tiered_journal.py``) is
replayed first, so Redis forgets what changed in the cold tier meanwhile.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from langgraph_persist.errors import TierUnavailableError
from langgraph_persist.store.base import Store
from langgraph_persist.store.hot.port import HotTier
from langgraph_persist.store.tiered_journal import Journal

log = logging.getLogger("langgraph_persist.tiered")

T = TypeVar("T")

WARN_EVERY = 60.0
"""Seconds between two "Redis unavailable" warnings when Redis flaps."""

COUNTERS = (
    "hits",
    "misses",
    "corrupt",
    "backfills",
    "fenced",
    "errors",
    "outages",
    "flushed",
    "recovered",
    "compensated",
    "rejected",
)
"""What ``TieredStore.stats()`` counts."""


class HotDown(Exception):
    """Internal: Redis is unavailable for this call; the caller uses the cold tier."""


@dataclass
class Counters:
    """The counters of ``COUNTERS``, safe to bump from any thread."""

    hits: int = 0
    misses: int = 0
    corrupt: int = 0
    backfills: int = 0
    fenced: int = 0
    errors: int = 0
    outages: int = 0
    flushed: int = 0
    recovered: int = 0
    compensated: int = 0
    rejected: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **deltas: int) -> None:
        with self.lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return {name: getattr(self, name) for name in COUNTERS}


class Health:
    """The degraded flag of one ``TieredStore``, its transitions and its probe.

    ``degraded`` is flipped under a lock and read without it (a bool read is
    atomic). It is flipped back only by ``probe``, under the journal's lock and
    only once the journal is empty (see ``Journal.drain``).
    """

    def __init__(
        self,
        hot: HotTier,
        cold: Store,
        journal: Journal,
        counters: Counters,
        *,
        probe_interval: float,
        on_reconnect: Callable[[], None],
        write_behind: bool,
    ) -> None:
        self.hot = hot
        self.cold = cold
        self.journal = journal
        self.counters = counters
        self.degraded = False
        self.since: float | None = None
        self._probe_interval = probe_interval
        self._on_reconnect = on_reconnect
        self._wb = write_behind
        self._next_probe = 0.0
        self._last_warning = -WARN_EVERY
        self._lock = threading.RLock()

    def call(self, op: Callable[[], T]) -> T:
        """Run a hot-tier operation, or raise ``HotDown`` (and go degraded) if it fails."""
        if self.degraded:
            raise HotDown
        try:
            return op()
        except TierUnavailableError as exc:
            self.mark_down(exc)
            raise HotDown from exc

    def mark_down(self, exc: BaseException) -> None:
        self.counters.add(errors=1)
        with self._lock:
            self._next_probe = time.monotonic() + self._probe_interval
            if self.degraded:
                return
            self.degraded = True
            self.since = time.time()
        self.counters.add(outages=1)
        now = time.monotonic()
        # One warning per outage; a flapping Redis (say, OOM on every write) gets one
        # per WARN_EVERY at most. Every outage still shows in stats()["outages"].
        quiet = now - self._last_warning < WARN_EVERY
        self._last_warning = now if not quiet else self._last_warning
        (log.debug if quiet else log.warning)(
            "Redis hot tier %s unavailable (%s: %s); serving from the cold tier %s until it "
            "answers again (probing every %.1fs)%s",
            self.hot.describe(),
            type(exc).__name__,
            exc,
            self.cold.describe(),
            self._probe_interval,
            "; write-behind falls back to write-through" if self._wb else "",
        )

    def start(self) -> None:
        """At construction: degraded from the start if Redis does not answer."""
        try:
            self.hot.ping()
            self._on_reconnect()
        except TierUnavailableError as exc:
            self.mark_down(exc)

    def probe(self) -> bool:
        """Try Redis again; on success replay the journal, then resume. True if resumed."""
        with self._lock:
            if not self.degraded or time.monotonic() < self._next_probe:
                return False
            since = self.since or time.time()
            try:
                self.hot.ping()
                self._on_reconnect()
                self.journal.drain(self.hot, self._resume)
            except TierUnavailableError as exc:
                self.counters.add(errors=1)
                self._next_probe = time.monotonic() + self._probe_interval
                log.debug("Redis hot tier still unavailable: %s", exc)
                return False
        log.info(
            "Redis hot tier %s is available again after %.1fs; resuming",
            self.hot.describe(),
            time.time() - since,
        )
        return True

    def _resume(self) -> None:
        """Called by ``Journal.drain`` under its lock, once nothing is left to replay."""
        self.degraded = False
        self.since = None
