"""The issue's targets (issue 11, the SQLite local store), evaluated on this run's figures.

Every ratio compares savers measured in the same run, on the same machine,
with repetitions interleaved: LangGraph's own ``SqliteSaver`` (its W6 row is
``AsyncSqliteSaver`` on the same file) and ``InMemorySaver``.

Each check returns ``(met, figure)``; ``met`` is ``None`` when a figure is
missing (a saver failed or did not run) or the target does not apply to that
row (W1 is about durable writes, the scale workload runs the default store
only); the figure then says which, and the table never shows it as a pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from benchmarks.peers import DEFAULT
from benchmarks.report import num
from benchmarks.stats import growth_exponent

if TYPE_CHECKING:
    from benchmarks.run import Results

MEMORY = "InMemorySaver"
SQLITE = "SqliteSaver"
FLAT = 1.25
"""Flat: at 100,000 checkpoints an operation costs at most 1.25x the CPU time it costs at
1,000 (``scale.Point.cost``; ``scale.ScaleReport`` says why CPU time)."""
Check = Callable[["Results", str], tuple[bool | None, str]]


def _median(results: Results, metric: str, peer: str) -> float:
    m = results.measures.get(metric, {}).get(peer)
    return m.median if m is not None and m.ok else math.nan


def _missing(*values: float) -> bool:
    return any(math.isnan(v) or v <= 0 for v in values)


def _is_durable(results: Results, peer: str) -> bool:
    return any(p.name == peer and p.durable for p in results.peers)


def durable_puts(results: Results, peer: str) -> tuple[bool | None, str]:
    """W1 >= 2x SqliteSaver and >= 0.5x InMemorySaver (the issue aims at 0.8x)."""
    ours, sqlite, memory = (_median(results, "w1", p) for p in (peer, SQLITE, MEMORY))
    if _missing(ours, sqlite, memory):
        return None, "-"
    r_sqlite, r_memory = ours / sqlite, ours / memory
    figure = (
        f"{r_sqlite:.2f}x {SQLITE}, {r_memory:.2f}x {MEMORY} "
        f"({num(ours)} vs {num(sqlite)} and {num(memory)} steps/s)"
    )
    if not _is_durable(results, peer):
        return None, f"n/a, not durable: {figure}"
    return r_sqlite >= 2.0 and r_memory >= 0.5, figure


def _vs_sqlite(metric: str, unit: str, at_least: float) -> Check:
    def check(results: Results, peer: str) -> tuple[bool | None, str]:
        ours, sqlite = _median(results, metric, peer), _median(results, metric, SQLITE)
        if _missing(ours, sqlite):
            return None, "-"
        r = ours / sqlite
        return r >= at_least, f"{r:.2f}x ({num(ours)} vs {num(sqlite)} {unit})"

    return check


def graph_overhead(results: Results, peer: str) -> tuple[bool | None, str]:
    """W4 (LangGraph's default durability="async"): ms per super-step at most SqliteSaver's."""
    ours, sqlite = _median(results, "w4_async", peer), _median(results, "w4_async", SQLITE)
    if math.isnan(ours) or math.isnan(sqlite):
        return None, "-"
    s_ours, s_sqlite = _median(results, "w4_sync", peer), _median(results, "w4_sync", SQLITE)
    figure = (
        f"async: {ours:.2f} vs {sqlite:.2f} ms/super-step "
        f'(durability="sync": {s_ours:.2f} vs {s_sqlite:.2f})'
    )
    return ours <= sqlite, figure


def storage_bound(results: Results, peer: str) -> tuple[bool | None, str]:
    """Allocated bytes at most 3x the live state, growth exponent at most 1.1, per tier."""
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
        figures.append(
            f"{label}{at_last / 1024:,.0f} KiB = {times_live:.2f}x live state, exponent {exp:.2f}"
        )
    return met, "; ".join(figures)


def scale_flat(results: Results, peer: str) -> tuple[bool | None, str]:
    """Open, threads() (and the CLI's threads), latest get_tuple: flat from 1k to 100k."""
    if peer != DEFAULT:
        return None, "n/a: the scale workload (W8) runs the default store only"
    scale = results.scale
    if scale is None or len(scale.points) < 2:
        return None, "-"
    small, big = scale.points[0], scale.points[-1]
    met, figures = True, []
    for metric, label in scale.FLAT_METRICS:
        a, b = small.cost(metric), big.cost(metric)
        if _missing(a, b):
            return None, f"no figure for {label}"
        r = b / a
        met = met and r <= FLAT
        r_wall = big.median(metric) / small.median(metric)
        figures.append(f"{label} {num(b)} vs {num(a)} ms ({r:.2f}x; wall {r_wall:.2f}x)")
    return met, (
        f"CPU time at {big.checkpoints:,} vs {small.checkpoints:,} checkpoints "
        f"({scale.threads:,} threads): " + "; ".join(figures)
    )


TARGETS: tuple[tuple[str, Check], ...] = (
    ("W1 durable put_writes+put >= 2x SqliteSaver and >= 0.5x InMemorySaver", durable_puts),
    ("W2 latest get_tuple >= 1.0x SqliteSaver", _vs_sqlite("w2_latest", "gets/s", 1.0)),
    ("W3 list(limit=10) >= 1.0x SqliteSaver", _vs_sqlite("w3_10", "calls/s", 1.0)),
    ("W6 16 threads x 50 async checkpoints >= 2x AsyncSqliteSaver", _vs_sqlite("w6", "ckpt/s", 2)),
    ('W4 graph cost per super-step (durability="async") <= SqliteSaver\'s', graph_overhead),
    ("W5 allocated bytes <= 3x live state, growth exponent <= 1.1", storage_bound),
    (
        f"W8 open, threads (API and CLI), latest get_tuple flat (<= {FLAT}x) at 100k vs 1k",
        scale_flat,
    ),
)


def verdict(met: bool | None, figure: str) -> str:
    if met is None:
        return "no figure" if figure == "-" else figure
    return f"{'met' if met else '**not met**'}: {figure}"


def targets_table(results: Results) -> list[str]:
    ours = [p.name for p in results.peers if p.kind == "ours" and p.name not in results.unavailable]
    header = ["Target", *ours]
    rows = [[title, *(verdict(*check(results, peer)) for peer in ours)] for title, check in TARGETS]
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *["| " + " | ".join(r) + " |" for r in rows],
    ]
