"""The issue's targets, evaluated on this run's figures (ratios, same run, same machine).

Each check returns ``(met, figure)``; ``met`` is ``None`` when a figure is
missing (a saver failed or did not run), which the table shows as such
rather than as a pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from benchmarks.stats import growth_exponent, ratio

if TYPE_CHECKING:
    from benchmarks.run import Results

REFERENCE = "InMemorySaver"
Check = Callable[["Results", str], tuple[bool | None, str]]


def _median(results: Results, metric: str, peer: str) -> float:
    m = results.measures.get(metric, {}).get(peer)
    return m.median if m is not None and m.ok else math.nan


def _vs_memory(metric: str, at_least: float) -> Check:
    def check(results: Results, peer: str) -> tuple[bool | None, str]:
        r = ratio(_median(results, metric, peer), _median(results, metric, REFERENCE))
        return (None if math.isnan(r) else r >= at_least), f"{r:.2f}x"

    return check


def history_independent(results: Results, peer: str) -> tuple[bool | None, str]:
    """list(limit=10) and the latest get_tuple at the long history within 20% of the short one."""
    s = results.sizes
    figures, met = [], True
    for metric, what in (("list10", "list(limit=10)"), ("latest", "latest get_tuple")):
        short = _median(results, f"h_{metric}_short", peer)
        long_ = _median(results, f"h_{metric}_long", peer)
        r = long_ / short if short > 0 else math.nan
        if math.isnan(r):
            return None, "-"
        met = met and r >= 0.8
        figures.append(f"{what} {r:.2f}x")
    return met, (
        f"at {s.history_long:,} vs {s.history_short:,} checkpoints: {', '.join(figures)} the rate"
    )


def graph_overhead(results: Results, peer: str) -> tuple[bool | None, str]:
    """Per-super-step overhead at most 1.5x InMemorySaver's (LangGraph's default durability)."""
    ours = _median(results, "w4_async", peer)
    ref = _median(results, "w4_async", REFERENCE)
    if math.isnan(ours) or math.isnan(ref):
        return None, "-"
    sync_ours = _median(results, "w4_sync", peer)
    sync_ref = _median(results, "w4_sync", REFERENCE)
    figure = f"async: {ours:.3f} vs {ref:.3f} ms; sync: {sync_ours:.3f} vs {sync_ref:.3f} ms"
    return ours <= 1.5 * max(ref, 0.0) + 1e-9, figure


def storage_bound(results: Results, peer: str) -> tuple[bool | None, str]:
    """At most 3x the live state and exponent at most 1.1, for every tier separately (issue 3)."""
    marks = results.sizes.w5_marks
    fp = results.footprints.get(peer)
    if not fp or not results.live_state:
        return None, "-"
    first, last = fp[marks[1]], fp[marks[-1]]
    tiers = {name: (first.parts[name], size) for name, size in last.parts.items()} or {
        "": (first.bytes, last.bytes)
    }
    met, figures = True, []
    for name, (at_first, at_last) in tiers.items():
        times_live = at_last / results.live_state
        exp = growth_exponent(marks[1], at_first, marks[-1], at_last)
        met = met and times_live <= 3.0 and exp <= 1.1
        label = f"{name}: " if name else ""
        figures.append(f"{label}{times_live:.2f}x live state, exponent {exp:.2f}")
    return met, "; ".join(figures)


def concurrency(results: Results, peer: str) -> tuple[bool | None, str]:
    """W6 at least 3x the best *durable* peer (fsync per commit: SQLite, Postgres)."""
    durable = [
        p.name for p in results.peers if p.kind == "peer" and p.durability.startswith("fsync")
    ]
    rates = {n: _median(results, "w6", n) for n in durable}
    rates = {n: v for n, v in rates.items() if not math.isnan(v)}
    ours = _median(results, "w6", peer)
    if not rates or math.isnan(ours):
        return None, "-"
    best = max(rates, key=lambda n: rates[n])
    r = ours / rates[best]
    return r >= 3.0, f"{r:.2f}x {best} ({ours:,.0f} vs {rates[best]:,.0f} ckpt/s)"


TARGETS: tuple[tuple[str, Check], ...] = (
    ("W1 durable put >= 0.8x InMemorySaver", _vs_memory("w1", 0.8)),
    ("W2 latest get >= 0.9x InMemorySaver", _vs_memory("w2_latest", 0.9)),
    ("W3 list(limit=10), latest get independent of history length", history_independent),
    ("W4 overhead per super-step <= 1.5x InMemorySaver's", graph_overhead),
    ("W5 <= 3x final live state, exponent <= 1.1", storage_bound),
    ("W6 >= 3x the best durable peer", concurrency),
)


def verdict(met: bool | None) -> str:
    return {True: "met", False: "**not met**", None: "no figure"}[met]


def targets_table(results: Results) -> list[str]:
    ours = [p.name for p in results.peers if p.kind == "ours" and p.name not in results.unavailable]
    header = ["Target", *ours]
    rows = []
    for title, check in TARGETS:
        cells = []
        for peer in ours:
            met, figure = check(results, peer)
            cells.append(f"{verdict(met)}: {figure}")
        rows.append([title, *cells])
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *["| " + " | ".join(r) + " |" for r in rows],
    ]
