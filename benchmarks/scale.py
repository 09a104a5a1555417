"""W8: a big store. 100,000 checkpoints across 1,000 threads against the same threads at 1,000.

What it answers: do the operations whose cost should not depend on the
store's size (opening it, listing its threads, the latest checkpoint of a
thread) stay flat when a store holds 100x more checkpoints? Both stores
have the same 1,000 threads, so ``threads()`` returns the same 1,000 ids and
a latest ``get_tuple`` the same small state; only the history behind them
differs (1 vs 100 checkpoints per thread).

How the stores are built (set-up, not measured; its time is reported):
direct ``saver.put`` calls with a small state (two inline channels, no
blobs), ``durability="none"`` (durability does not change what a read
costs), no ``put_writes``, round-robin over the threads so every thread's
history is interleaved in the file as a busy server would write it. The
first round goes to both stores; the other 99 rounds to the big one only.
SqliteSaver gets the same puts (``synchronous=OFF``) as a reference for
open and latest ``get_tuple``; it has no call that lists threads.

Measured, wall and CPU time, repetitions interleaved between the two sizes
(so a neighbour's load lands on both): ``PersistSaver(path)``;
``saver.threads()``; a latest ``get_tuple`` of ``gets`` random threads, on a
saver opened for the repetition (one untimed get first, so the connection
exists); and the CLI,
``python -m langgraph_persist --store X threads``, in a fresh process, with
``--help`` timed beside it as the floor of interpreter start and imports.
"""

from __future__ import annotations

import os
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.base.id import uuid6

from benchmarks.data import config_for
from benchmarks.peers import dir_bytes, file_blocks
from benchmarks.stats import Measure


@dataclass(frozen=True)
class ScaleSizes:
    threads: int = 1_000
    small: int = 1
    """Checkpoints per thread in the small store."""
    big: int = 100
    """Checkpoints per thread in the big store."""
    reps: int = 30
    """In-process repetitions: each op takes a millisecond or less, so many are cheap and
    a shared machine's stalls (tens of ms) must not decide a median."""
    gets: int = 20
    cli_reps: int = 5


FULL_SCALE = ScaleSizes()
QUICK_SCALE = ScaleSizes(threads=50, small=1, big=10, reps=3, gets=10, cli_reps=1)


@dataclass
class Point:
    """One store size: how it was built and what the operations cost (ms).

    Every operation is recorded twice: ``measures[op]`` holds wall-clock times,
    ``measures[op + CPU]`` the CPU time the process spent on it (see ``ScaleReport``).
    """

    checkpoints: int
    build_s: float = 0.0
    allocated: int = 0
    measures: dict[str, Measure] = field(default_factory=dict)

    def measure(self, metric: str) -> Measure:
        return self.measures.setdefault(metric, Measure("ms", higher_is_better=False))

    def median(self, metric: str) -> float:
        """Median wall ms: over repetitions, or over all calls when timed per call."""
        return _median(self.measures.get(metric))

    def cost(self, metric: str) -> float:
        """Median CPU ms: what flatness is judged on."""
        return _median(self.measures.get(metric + CPU))


CPU = "_cpu"


def _median(m: Measure | None) -> float:
    if m is None or not m.ok:
        return float("nan")
    return m.pct_ms(50) if m.latencies else m.median


@dataclass
class ScaleReport:
    """W8's results: ``points`` (small, big) for ours, ``reference`` for SqliteSaver.

    Flatness is judged on CPU time, wall time is printed beside. On a shared
    2-core machine an operation of a millisecond is preempted for a whole
    scheduler slice (4 ms) in a fair share of the repetitions; its wall times
    are then bimodal and their median jumps between the modes from run to run,
    whatever the store's size. CPU time (user + system: reading pages from the
    OS cache included) is what the operation itself costs, and what would grow
    with the store if it scanned it. Everything read is in the page cache.
    """

    sizes: ScaleSizes
    points: list[Point] = field(default_factory=list)
    reference: list[Point] = field(default_factory=list)
    build: str = ""
    error: str | None = None

    FLAT_METRICS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("open", "open"),
        ("threads", "threads()"),
        ("cli_threads", "CLI threads"),
        ("latest", "latest get_tuple"),
    )

    @property
    def threads(self) -> int:
        return self.sizes.threads


# -- building ----------------------------------------------------------------------------------


def thread_id(k: int) -> str:
    return f"scale-{k:05d}"


def _version(n: int) -> str:
    return f"{n:032}.{0.5:016}"


def put_round(saver: Any, n: int, threads: int, last: dict[str, str]) -> None:
    """Checkpoint ``n`` (0-based) of every thread, continuing from ``last`` (updated)."""
    for k in range(threads):
        tid = thread_id(k)
        c = empty_checkpoint()
        c["id"] = str(uuid6(clock_seq=n))
        c["channel_values"] = {"counter": n, "owner": tid}
        c["channel_versions"] = {"counter": _version(n + 1), "owner": _version(1)}
        c["updated_channels"] = ["counter"]
        new_versions = dict(c["channel_versions"]) if n == 0 else {"counter": _version(n + 1)}
        metadata: Any = {"source": "loop", "step": n, "parents": {}}
        saver.put(config_for(tid, last.get(tid)), c, metadata, new_versions)
        last[tid] = c["id"]


class Stores:
    """The two stores of ours and SqliteSaver's two databases, under ``root``."""

    def __init__(self, root: str, sizes: ScaleSizes) -> None:
        self.sizes = sizes
        self.ours = {n: os.path.join(root, f"persist-{n}") for n in (sizes.small, sizes.big)}
        self.sqlite = {n: os.path.join(root, f"sqlite-{n}.db") for n in (sizes.small, sizes.big)}
        self.latest: dict[int, dict[str, str]] = {}
        self.sqlite_latest: dict[int, dict[str, str]] = {}

    def build(self, report: ScaleReport, log: Callable[[str], None]) -> None:
        from langgraph_persist import PersistSaver

        s = self.sizes
        ours = {n: PersistSaver(p, durability="none") for n, p in self.ours.items()}
        theirs = {n: _sqlite_saver(p, relaxed=True) for n, p in self.sqlite.items()}
        for n in ours:
            self.latest[n], self.sqlite_latest[n] = {}, {}
        built: dict[tuple[str, int], float] = {}
        try:
            for rnd in range(s.big):
                for n in ours:
                    if rnd >= n:
                        continue
                    t = time.perf_counter()
                    put_round(ours[n], rnd, s.threads, self.latest[n])
                    built[("ours", n)] = built.get(("ours", n), 0.0) + time.perf_counter() - t
                    t = time.perf_counter()
                    put_round(theirs[n][0], rnd, s.threads, self.sqlite_latest[n])
                    built[("sqlite", n)] = built.get(("sqlite", n), 0.0) + time.perf_counter() - t
                if (rnd + 1) % max(1, s.big // 5) == 0:
                    log(f"W8: {(rnd + 1) * s.threads:,} checkpoints written to the big stores")
        finally:
            for saver in ours.values():
                saver.close()
            for _saver, conn in theirs.values():
                conn.close()
        for n in ours:
            p_ours = Point(n * s.threads, built[("ours", n)], dir_bytes(self.ours[n])[1])
            sq = self.sqlite[n]
            p_ref = Point(n * s.threads, built[("sqlite", n)], file_blocks(sq, sq + "-wal"))
            report.points.append(p_ours)
            report.reference.append(p_ref)
        big = report.points[-1]
        report.build = (
            f"direct `saver.put` calls (no put_writes), round-robin over {s.threads:,} threads, "
            'state {counter, owner} (inline values, no blobs), durability="none"; '
            f"the big store: {big.checkpoints:,} puts in {big.build_s:.0f} s "
            f"({big.checkpoints / big.build_s:,.0f} puts/s), {big.allocated / 2**20:,.1f} MiB "
            f"allocated after close; SqliteSaver the same puts with synchronous=OFF "
            f"({report.reference[-1].build_s:.0f} s, "
            f"{report.reference[-1].allocated / 2**20:,.1f} MiB)"
        )


def _sqlite_saver(path: str, relaxed: bool = False) -> tuple[Any, sqlite3.Connection]:
    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(path, check_same_thread=False)
    if relaxed:
        conn.execute("PRAGMA synchronous=OFF")
    saver = SqliteSaver(conn)
    saver.setup()
    return saver, conn


# -- measuring ---------------------------------------------------------------------------------


class _Timer:
    """Wall and CPU time of the block, in ms."""

    def __enter__(self) -> _Timer:
        self.wall, self.cpu = time.perf_counter(), time.thread_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = (time.perf_counter() - self.wall) * 1e3
        self.cpu = (time.thread_time() - self.cpu) * 1e3

    def record(self, point: Point, metric: str) -> None:
        point.measure(metric).reps.append(self.wall)
        point.measure(metric + CPU).reps.append(self.cpu)


def measure_ours(stores: Stores, n: int, point: Point, sample: list[str], warm: str) -> None:
    """One repetition on our store with ``n`` checkpoints per thread."""
    from langgraph_persist import PersistSaver

    with _Timer() as t:
        saver = PersistSaver(stores.ours[n])
    t.record(point, "open")
    try:
        saver.get_tuple(config_for(warm))  # the reading connection exists from here on
        with _Timer() as t:
            ids = saver.threads()
        t.record(point, "threads")
        if len(ids) != stores.sizes.threads:
            raise AssertionError(
                f"threads() returned {len(ids)} ids, expected {stores.sizes.threads}"
            )
        _latest(saver, sample, stores.latest[n], point)
    finally:
        saver.close()


def measure_sqlite(stores: Stores, n: int, point: Point, sample: list[str], warm: str) -> None:
    with _Timer() as t:
        saver, conn = _sqlite_saver(stores.sqlite[n])
    t.record(point, "open")
    try:
        saver.get_tuple(config_for(warm))
        _latest(saver, sample, stores.sqlite_latest[n], point)
    finally:
        conn.close()


def _latest(saver: Any, sample: list[str], expect: dict[str, str], point: Point) -> None:
    """Latest ``get_tuple`` of each thread in ``sample``, each get recorded (wall and CPU)."""
    wall, cpu = point.measure("latest"), point.measure("latest" + CPU)
    for tid in sample:
        with _Timer() as t:
            found = saver.get_tuple(config_for(tid))
        wall.latencies.append(t.wall / 1e3)
        cpu.latencies.append(t.cpu / 1e3)
        if found is None or found.checkpoint["id"] != expect[tid]:
            raise AssertionError(f"latest get_tuple of {tid} did not return its last checkpoint")
    wall.reps.append(statistics.median(wall.latencies[-len(sample) :]) * 1e3)
    cpu.reps.append(statistics.median(cpu.latencies[-len(sample) :]) * 1e3)


def cli(args: list[str], expect_lines: int | None, point: Point, metric: str) -> None:
    """``python -m langgraph_persist ARGS`` in a fresh process: its wall and CPU ms."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "langgraph_persist", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    wall = (time.perf_counter() - start) * 1e3
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"langgraph-persist {' '.join(args)}: {proc.stderr.strip()[-300:]}")
    lines = len(proc.stdout.strip().splitlines())
    if expect_lines is not None and lines != expect_lines:
        raise AssertionError(f"CLI threads printed {lines} lines, expected {expect_lines}")
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1e3
    point.measure(metric).reps.append(wall)
    point.measure(metric + CPU).reps.append(cpu)


def run_scale(root: str, sizes: ScaleSizes, seed: int, log: Callable[[str], None]) -> ScaleReport:
    report = ScaleReport(sizes)
    stores = Stores(root, sizes)
    log(
        f"W8: building stores of {sizes.small * sizes.threads:,} and "
        f"{sizes.big * sizes.threads:,} checkpoints ({sizes.threads:,} threads)"
    )
    stores.build(report, log)
    rng = random.Random(seed)
    sizes_ = (sizes.small, sizes.big)
    for rep in range(sizes.reps):
        ks = rng.sample(range(sizes.threads), min(sizes.gets + 1, sizes.threads))
        warm, sample = thread_id(ks[0]), [thread_id(k) for k in ks[1:]]
        for i, n in enumerate(sizes_):
            measure_ours(stores, n, report.points[i], sample, warm)
            measure_sqlite(stores, n, report.reference[i], sample, warm)
        log(f"  w8 rep {rep + 1}/{sizes.reps} done")
    for _ in range(sizes.cli_reps):
        for i, n in enumerate(sizes_):
            point = report.points[i]
            cli(["--help"], None, point, "cli_floor")
            cli(["--store", stores.ours[n], "threads"], sizes.threads + 1, point, "cli_threads")
    log("  w8 CLI runs done")
    return report
