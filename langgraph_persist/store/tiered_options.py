"""``HotTierOptions``: how a ``TieredStore``'s hot tier behaves (``docs/tiers.md``).

Apart from ``tiered.py`` so that configuring a hot tier (the saver, the CLI)
does not need the store that implements it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from langgraph_persist.errors import ConfigurationError
from langgraph_persist.store.hot.layout import check_prefix

Mode = Literal["write-through", "write-behind"]


@dataclass(frozen=True)
class HotTierOptions:
    """How the Redis hot tier behaves (see ``docs/tiers.md``).

    Attributes:
        mode: ``"write-through"`` (a put is durable when it returns) or
            ``"write-behind"`` (a put returns once Redis has it; the cold
            write follows in the background).
        ttl: how long an untouched record stays in Redis; every read
            extends it. Pinned threads and unflushed records never expire.
        key_prefix: prepended to every Redis key, so several stores can share
            one Redis; ``[A-Za-z0-9_.:-]``, at most 64 characters. Not
            isolation: give each application its own ACL user restricted to
            its prefix (``docs/tiers.md``, "Trust and isolation").
        timeout: connect and socket timeout for URLs: how long an operation
            waits for an unresponsive Redis before using the cold tier.
        probe_interval: how often an unavailable Redis is tried again.
        flush_lease: how long a write-behind writer may be silent before
            another process takes over its queue (its flusher renews it).
        max_pending_bytes: write-behind bytes not yet in the cold tier before
            puts wait for the flusher (bounds memory and loss exposure).
    """

    mode: Mode = "write-through"
    ttl: timedelta = timedelta(days=1)
    key_prefix: str = "lgp:"
    timeout: timedelta = timedelta(seconds=2)
    probe_interval: timedelta = timedelta(seconds=1)
    flush_lease: timedelta = timedelta(seconds=10)
    max_pending_bytes: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.mode not in ("write-through", "write-behind"):
            raise ConfigurationError(
                f"mode must be 'write-through' or 'write-behind', not {self.mode!r}"
            )
        for name in ("ttl", "timeout", "probe_interval", "flush_lease"):
            value = getattr(self, name)
            if not isinstance(value, timedelta):
                raise ConfigurationError(f"{name} must be a datetime.timedelta, not {value!r}")
            if value < timedelta(milliseconds=10):
                raise ConfigurationError(f"{name} must be at least 10 ms, not {value}")
        check_prefix(self.key_prefix)
        if not isinstance(self.max_pending_bytes, int) or self.max_pending_bytes <= 0:
            raise ConfigurationError(
                f"max_pending_bytes must be a positive int, not {self.max_pending_bytes!r}"
            )
