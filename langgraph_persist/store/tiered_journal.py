"""What Redis must forget, and what we saw of it: the journal of ``TieredStore``.

While the hot tier is unavailable, writes and deletes reach the cold tier
only, so Redis may still hold copies they replaced or removed. The journal
remembers the tags (``hot/layout.py``) they touched; when Redis answers
again, those tags are invalidated (*replayed*) before the hot tier is used,
sparing pending write-behind values (acknowledged, and newer than anything
done meanwhile).

It also caches the generation tokens observed per tag (fencing write-through
writes without a round trip to read them). Both live under one lock because
they are trusted together: a resume clears the cache (observed before the
outage) and flips the store back to healthy only once the journal is empty,
under that same lock, so a writer that found the store degraded has journaled
before the flip, and any later one invalidates inline.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable

from langgraph_persist.store.hot.layout import Tag
from langgraph_persist.store.hot.port import TAG_BATCH, HotTier

JOURNAL_LIMIT = 100_000
"""Tags remembered while Redis is unreachable; beyond this every tag is invalidated on resume."""

GEN_CACHE = 65_536
"""Generations remembered for fencing write-through writes (one round trip saved per put)."""


def replay(hot: HotTier, tags: Iterable[Tag], every: bool) -> None:
    """Invalidate ``tags`` (or every tag) in the hot tier, sparing pending values."""
    targets = hot.all_tags() if every else sorted(tags)
    for start in range(0, len(targets), TAG_BATCH):
        hot.invalidate(tags=targets[start : start + TAG_BATCH], keep_pending=True)


class Journal:
    """Tags to invalidate on resume, and the generations observed per tag."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._tags: set[Tag] = set()
        self._every = 0
        """Requests to invalidate every tag (overflow, whole-store deletes); a counter so a
        request made while a replay runs is not cleared by that replay."""
        self._gens: OrderedDict[Tag, str] = OrderedDict()

    def record(self, tags: set[Tag], every: bool, degraded: Callable[[], bool]) -> bool:
        """Journal ``tags`` if the store is ``degraded()`` (checked under the lock).

        False means Redis is back: the caller invalidates them right away.
        """
        with self.lock:
            if not degraded():
                return False
            self._tags |= tags
            if every or len(self._tags) > JOURNAL_LIMIT:
                self._every += 1
                self._tags.clear()
            return True

    def drain(self, hot: HotTier, resume: Callable[[], None]) -> None:
        """Replay until nothing is left, then ``resume()`` under the lock.

        A failed replay raises (``TierUnavailableError``) and keeps what it had not
        finished.
        """
        while True:
            with self.lock:
                self._gens.clear()  # observed before the outage: no longer trusted
                tags, every = set(self._tags), self._every
                if not tags and not every:
                    resume()
                    return
            replay(hot, tags, bool(every))
            with self.lock:
                self._tags -= tags
                if self._every == every:
                    self._every = 0

    # -- generations observed ------------------------------------------------------------------

    def observe(self, gens: dict[Tag, str]) -> None:
        with self.lock:
            for tag, gen in gens.items():
                self._gens[tag] = gen
                self._gens.move_to_end(tag)
            while len(self._gens) > GEN_CACHE:
                self._gens.popitem(last=False)

    def known(self, tags: set[Tag]) -> dict[Tag, str]:
        """The generations observed for those of ``tags`` in the cache."""
        with self.lock:
            return {t: self._gens[t] for t in tags if t in self._gens}

    def forget(self, tags: Iterable[Tag]) -> None:
        """Drop observed generations (their tags were just invalidated by us)."""
        with self.lock:
            for tag in tags:
                self._gens.pop(tag, None)
