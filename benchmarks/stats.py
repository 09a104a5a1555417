"""Summaries of repeated measurements: medians and ranges per repetition, percentiles per operation.

Why both: the per-repetition median (of ops/s) is robust to one disturbed
repetition on a shared machine; the per-operation percentiles show the tail a
user feels (one slow fsync in a hundred), which a throughput figure hides.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation between closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


@dataclass
class Measure:
    """One metric of one saver: a value per repetition, plus per-operation latencies (seconds)."""

    unit: str
    higher_is_better: bool = True
    reps: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    error: str | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.reps)

    @property
    def median(self) -> float:
        return statistics.median(self.reps) if self.reps else math.nan

    @property
    def low(self) -> float:
        return min(self.reps) if self.reps else math.nan

    @property
    def high(self) -> float:
        return max(self.reps) if self.reps else math.nan

    def pct_ms(self, q: float) -> float:
        """Per-operation latency percentile, in milliseconds."""
        return percentile(self.latencies, q) * 1e3


def ratio(value: float, reference: float, higher_is_better: bool = True) -> float:
    """How many times better than the reference (>1: better); NaN if either is missing."""
    if not (value > 0 and reference > 0) or math.isnan(value) or math.isnan(reference):
        return math.nan
    return value / reference if higher_is_better else reference / value


def growth_exponent(steps_a: int, bytes_a: int, steps_b: int, bytes_b: int) -> float:
    """``log(bytes_b / bytes_a) / log(steps_b / steps_a)``: 1 is linear, 2 quadratic."""
    if bytes_a <= 0 or bytes_b <= 0:
        return math.nan
    return math.log(bytes_b / bytes_a) / math.log(steps_b / steps_a)
