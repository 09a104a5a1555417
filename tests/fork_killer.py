"""Hundreds of kill -9 points at exact places: fork a writer (or gc), kill it, check everything.

    python -m tests.fork_killer writes STORE ROUNDS SEED [--layout sqlite|files]
                                [--redis URL] [--store MODULE:CLASS]
    python -m tests.fork_killer gc STORE ROUNDS SEED [--layout ...] [--store MODULE:CLASS]

Run as its own process by ``tests/test_crash.py`` and ``tests/test_negative_controls.py``
(through ``run``), so it is single-threaded when it forks: a child then holds
no lock another thread owned. Imports are paid once; each round forks a child.

**Where the kill lands.** Each round draws a *plan*. ``("ack", n)``: the parent
sends SIGKILL the moment it has read the child's nth acknowledgement (the
child is then inside its next turn). Every other plan is a point the child
kills *itself* at, the nth time it gets there, after telling the parent so:

* ``op``: before the nth call into the store (any method: reads, existence
  checks, commits);
* ``staged`` / ``installed`` / ``unlinked`` (file layout, the seam
  ``store.files.fault_point``): a commit's temporary files are durable and none
  is renamed; after one rename of a batch; after one unlink of a delete. In a
  put, ``staged`` of the second half is "content committed, record not";
* ``sql:record`` / ``sql:commit`` / ``sql:delete`` (SQLite, a trace callback on
  the store's connections): when the record's upsert starts (content rows
  already inserted in the same open transaction), when a write transaction's
  ``COMMIT`` starts, when a row deletion starts;
* ``mark`` / ``sweep`` (gc, the seam ``maintenance.fault_point``): after the
  nth record read while marking; after the segments were deleted and before
  the elements are.

**What the child reports.** JSON lines on a pipe: what it found when it
resumed the thread, one acknowledgement per finished turn (listing every
checkpoint the turn made, with a digest of its state), the kill notice, or,
if anything raised, the traceback; then it exits non-zero. The parent
requires the wait status to be exactly SIGKILL and the last line to be the
planned kill notice, so a writer that raised, exited, hung or died elsewhere
fails the run instead of passing as "killed".

**What the parent checks after every round.** The resumed state is exactly the
head the parent saw after the previous kill of that thread, and the first new
turn continues it (turns + 1, the old messages as prefix). Every
checkpoint of every acknowledged turn of the round reads back exactly (turns,
message count and a digest of every message). The thread's head is the last acknowledged
checkpoint or one unacknowledged turn beyond it, extending it. After every
kill inside a commit or a gc (and every ``VERIFY_EVERY`` rounds), ``verify``
is clean: garbage allowed, damage not. At the end everything ever
acknowledged is re-read and every thread resumes once more. Every ``EPOCH``
rounds start on a fresh store with fresh threads, so a soak run
(``LGP_SOAK=10``) costs ten times as much, not a hundred. For gc: after each
kill every checkpoint that existed before is re-read exactly, ``verify`` is
clean, and a second gc completes and leaves no garbage.

Prints one JSON summary line (the test asserts on its counters); a failed
check is an ``AssertionError`` on stderr and exit status 1.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import random
import select
import signal
import sqlite3
import subprocess
import sys
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from langgraph.checkpoint.base import empty_checkpoint

from langgraph_persist import PersistError, PersistSaver, keys, maintenance
from langgraph_persist.records import Kind
from langgraph_persist.store import files
from langgraph_persist.verify import expected_kind
from tests.graphs import chat_graph, human

ROOT = Path(__file__).resolve().parent.parent
VERIFY_EVERY = 10
THREADS = 4
EPOCH = 100
"""Rounds per store (see ``Epoch``)."""
HANG_SECONDS = 120.0
"""A child silent for this long is hung: a failure, never a timing assumption."""

STORE_OPS = (
    "read", "read_many", "exists_many", "list", "list_desc", "list_many", "walk",
    "commit", "write_many", "create_many", "link", "delete_many", "delete_tree",
)  # fmt: skip
IN_COMMIT = frozenset({"staged", "installed", "sql:record", "sql:commit"})
GC_SWEEP = frozenset({"sweep", "unlinked", "sql:delete", "sql:commit"})


# -- the parent's view of one test run ------------------------------------------------------


def run(mode: str, store: Path, rounds: int, seed: int, *extra: str) -> dict[str, Any]:
    """Run this module as a process; its summary, or AssertionError with what failed."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.fork_killer", mode, str(store), str(rounds), str(seed),
         *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=None,  # the calling test has a pytest timeout; run() kills us with it
    )  # fmt: skip
    if done.returncode != 0:
        raise AssertionError(
            f"fork_killer {mode} failed (exit {done.returncode}):\n{done.stderr[-6000:]}"
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


@dataclass
class Options:
    store: str
    layout: str
    redis: str | None
    store_class: str | None

    @classmethod
    def parse(cls, argv: Sequence[str]) -> Options:
        def opt(name: str) -> str | None:
            return argv[argv.index(name) + 1] if name in argv else None

        return cls(argv[2], opt("--layout") or "sqlite", opt("--redis"), opt("--store"))

    def saver(self, **kwargs: Any) -> PersistSaver:
        if self.store_class:
            module, _, attr = self.store_class.partition(":")
            factory = getattr(importlib.import_module(module), attr)
            # a complete store brings its own durability (its class's default)
            kwargs.pop("durability", None)
            return PersistSaver(store=factory(self.store), **kwargs)
        return PersistSaver(self.store, layout=self.layout, redis=self.redis, **kwargs)

    def points(self) -> list[str]:
        """The in-commit kill points of the local store under test."""
        return ["staged", "installed"] if self.layout == "files" else ["sql:record", "sql:commit"]


# -- the child: reporting and dying at the planned point ------------------------------------


def send(fd: int, obj: dict[str, Any]) -> None:
    """One JSON line; small (< PIPE_BUF) lines are written atomically."""
    os.write(fd, (json.dumps(obj) + "\n").encode())


class Killer:
    """Counts arrivals at one kind of point; at the nth, reports it and SIGKILLs us."""

    def __init__(self, fd: int, where: str, n: int) -> None:
        self.fd, self.where, self.n, self.count = fd, where, n, 0

    def __call__(self, where: str) -> None:
        if where != self.where:
            return
        self.count += 1
        if self.count == self.n:
            send(self.fd, {"kill": where, "n": self.n})
            os.kill(os.getpid(), signal.SIGKILL)


def install(killer: Killer) -> None:
    """Route every seam of this (forked, single-purpose) process to ``killer``."""
    files.fault_point = killer
    maintenance.fault_point = killer
    real_connect = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = real_connect(*args, **kwargs)
        txn = {"open": False, "changed": False}  # a write transaction, and did it write

        def trace(sql: str) -> None:
            head = sql.lstrip()[:60].upper()
            if head.startswith("BEGIN IMMEDIATE"):
                txn.update(open=True, changed=False)
            elif head.startswith("COMMIT") or (
                head.startswith("ROLLBACK") and not head.startswith("ROLLBACK TO")
            ):
                # a commit of entries (opening a store commits only its schema check)
                if head.startswith("COMMIT") and txn["changed"]:
                    killer("sql:commit")
                txn.update(open=False, changed=False)
            elif txn["open"] and head.startswith(("INSERT", "DELETE", "UPDATE")):
                txn["changed"] = True
                if head.startswith("INSERT INTO ENTRIES (DIR, NAME, VALUE, FACETS) VALUES"):
                    killer("sql:record")  # the record's upsert; INSERT OR IGNORE is content
                elif head.startswith("DELETE FROM ENTRIES WHERE DIR = "):
                    killer("sql:delete")

        conn.set_trace_callback(trace)
        return conn

    sqlite3.connect = connect  # type: ignore[assignment]


def count_store_calls(store: Any, killer: Killer) -> None:
    """``op`` plans: the store's own methods report each call first."""
    for name in STORE_OPS:
        method = getattr(store, name)

        def wrapped(*args: Any, _method: Any = method, **kwargs: Any) -> Any:
            killer("op")
            return _method(*args, **kwargs)

        setattr(store, name, wrapped)


def in_child(body: Callable[[int], None]) -> tuple[int, int]:
    """Fork; the child runs ``body(fd)`` and reports an exception instead of hiding it."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - reports through the pipe and its exit status
        os.close(read_fd)
        code = 0
        try:
            body(write_fd)
            send(write_fd, {"done": True})
        except BaseException:
            code = 3
            with contextlib.suppress(BaseException):
                send(write_fd, {"error": traceback.format_exc()[-3500:]})
        os._exit(code)
    os.close(write_fd)
    return pid, read_fd


@dataclass
class Outcome:
    lines: list[dict[str, Any]]
    status: int

    def of(self, key: str) -> list[dict[str, Any]]:
        return [m for m in self.lines if key in m]


RUNAWAY_ACKS = 40
"""A writer planned to die at a point inside its first few turns that acknowledges
this many has never reached the point: the plan is broken, not the store."""


def reap(pid: int, read_fd: int, *, kill_after_acks: int | None = None) -> Outcome:
    """Read the child's lines until it is gone; SIGKILL it after ``kill_after_acks``
    (or after ``RUNAWAY_ACKS``: a planned point it never reaches fails the run)."""
    buf = b""
    lines: list[dict[str, Any]] = []
    acks = 0
    killed = False
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        while True:
            ready, _, _ = select.select([pipe], [], [], HANG_SECONDS)
            if not ready:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise AssertionError(f"child silent for {HANG_SECONDS:.0f} s: hung; {lines[-3:]}")
            chunk = pipe.read(65536)
            if not chunk:
                break
            buf += chunk
            *complete, buf = buf.split(b"\n")
            for raw in complete:
                msg = json.loads(raw)
                lines.append(msg)
                acks += "ack" in msg
            if kill_after_acks is not None and acks >= kill_after_acks and not killed:
                os.kill(pid, signal.SIGKILL)
                killed = True
            elif acks >= RUNAWAY_ACKS:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise AssertionError(f"the child never reached its kill point: {lines[-1:]}")
    _, status = os.waitpid(pid, 0)
    return Outcome(lines, status)


def require_sigkill(outcome: Outcome, plan: tuple[str, int], what: str) -> None:
    """Killed by SIGKILL, at the planned point; anything else is a failure of the child."""
    errors = outcome.of("error")
    if errors:
        raise AssertionError(f"{what} raised (plan {plan}):\n{errors[0]['error']}")
    status = outcome.status
    if not (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL):
        raise AssertionError(
            f"{what} was not killed by our SIGKILL (plan {plan}): wait status {status:#x}, "
            f"last lines {outcome.lines[-3:]}"
        )
    if plan[0] != "ack":
        notice = outcome.lines[-1] if outcome.lines else {}
        if notice != {"kill": plan[0], "n": plan[1]}:
            raise AssertionError(f"{what} died elsewhere than planned {plan}: {notice}")


# -- writes: turns acknowledged, then killed --------------------------------------------------


def digest(messages: Sequence[Any]) -> str:
    body = json.dumps([[m.type, m.id, m.content] for m in messages])
    return hashlib.sha256(body.encode()).hexdigest()[:24]


def summarize(values: dict[str, Any]) -> dict[str, Any]:
    messages = values.get("messages", [])
    return {"turns": values.get("turns", 0), "n": len(messages), "digest": digest(messages)}


def writer(
    opts: Options, thread: str, round_no: int, fd: int, plan: tuple[str, int] | None = None
) -> None:
    """Resume ``thread``, report what it found, then acknowledge turns forever.

    The forked child of ``writes`` (with a kill ``plan``), and ``tests/crash_writer.py``
    in a fresh interpreter (without one: the test kills it from outside).
    """
    killer = Killer(fd, *plan) if plan else None
    if killer:
        install(killer)
    saver = opts.saver()
    if killer and killer.where == "op":
        count_store_calls(saver.store, killer)
    graph = chat_graph().compile(checkpointer=saver)
    config = {"configurable": {"thread_id": thread}}
    tup = saver.get_tuple(config)  # the stored head; get_state would apply pending writes
    head = summarize(tup.checkpoint["channel_values"] if tup else {})
    send(fd, {"resume": thread, **head})
    turn = 0
    while True:
        text = f"{thread} round {round_no} turn {turn} " + "w" * 200
        send(fd, acknowledgement(graph, thread, text, head["n"]))
        turn += 1


def acknowledgement(graph: Any, thread: str, text: str, resumed_n: int = 0) -> dict[str, Any]:
    """Run one turn (durability "sync"); what it stored: every checkpoint the turn made,
    the last one's state, and the digest of the messages it resumed with."""
    config = {"configurable": {"thread_id": thread}}
    events = list(graph.stream(human(text), config, stream_mode="checkpoints", durability="sync"))
    chain = [[e["config"]["configurable"]["checkpoint_id"], summarize(e["values"])] for e in events]
    final = events[-1]["values"]
    return {"ack": thread, "id": chain[-1][0], **summarize(final), "chain": chain,
            "prefix": digest(final["messages"][:resumed_n])}  # fmt: skip


def check_ack(saver: PersistSaver, ack: dict[str, Any]) -> None:
    """Every checkpoint of an acknowledged turn is there and reads back exactly."""
    for cid, want in ack["chain"]:
        config = {"configurable": {"thread_id": ack["ack"], "checkpoint_id": cid}}
        try:
            tup = saver.get_tuple(config)
        except PersistError as exc:
            raise AssertionError(f"acknowledged checkpoint unreadable: {cid}: {exc!r}") from exc
        if tup is None:
            raise AssertionError(f"acknowledged checkpoint lost: {cid} of {ack['ack']}")
        got = summarize(tup.checkpoint["channel_values"])
        if got != want:
            raise AssertionError(f"acknowledged checkpoint {cid} reads back {got}, not {want}")


def check_head(saver: PersistSaver, thread: str, last: dict[str, Any]) -> dict[str, Any]:
    """The head is ``last`` or one unacknowledged turn beyond it, and extends it."""
    try:
        tup = saver.get_tuple({"configurable": {"thread_id": thread}})
    except PersistError as exc:
        raise AssertionError(f"{thread}: the head after the kill is unreadable: {exc!r}") from exc
    values = tup.checkpoint["channel_values"] if tup else {}
    head = summarize(values)
    prefix = digest(values.get("messages", [])[: last["n"]])
    if head["turns"] not in (last["turns"], last["turns"] + 1) or prefix != last["digest"]:
        raise AssertionError(f"{thread}: head {head} does not continue {last}")
    return head


def check_resume(thread: str, lines: Sequence[dict[str, Any]], expected: dict[str, Any]) -> None:
    """The writer resumed exactly the head we saw, and its first turn continued it."""
    resumed = [m for m in lines if "resume" in m]
    if not resumed:
        return  # killed while starting up, before it read the thread
    found = {k: resumed[0][k] for k in ("turns", "n", "digest")}
    if found != expected:
        raise AssertionError(f"{thread}: resumed from {found}, the head was {expected}")
    previous = found
    for ack in (m for m in lines if "ack" in m):
        if ack["turns"] != previous["turns"] + 1 or ack["n"] != previous["n"] + 2:
            raise AssertionError(f"{thread}: turn {ack} does not continue {previous}")
        if ack["prefix"] != found["digest"]:
            raise AssertionError(f"{thread}: turn {ack} dropped the resumed messages")
        previous = ack


@dataclass
class Tally:
    rounds: int = 0
    acknowledged: int = 0
    resumed_and_acked: int = 0
    verifies: int = 0
    garbage_seen: int = 0
    plans: Counter[str] = field(default_factory=Counter)
    acks_by_plan: Counter[str] = field(default_factory=Counter)


class Plans:
    """Kill plans: every kind of point gets an equal share of the rounds, in a random
    order per block (so no thread is tied to one kind), the nth at random."""

    UPPER: ClassVar[dict[str, int]] = {
        "ack": 4, "op": 90, "staged": 27, "installed": 40, "sql:record": 15, "sql:commit": 15
    }  # fmt: skip
    """Roughly three turns' worth of each kind of point."""

    def __init__(self, rng: random.Random, kinds: Sequence[str]) -> None:
        self.rng, self.kinds = rng, list(kinds)
        self.block: list[str] = []

    def next(self) -> tuple[str, int]:
        if not self.block:
            self.block = self.rng.sample(self.kinds, len(self.kinds))
        kind = self.block.pop()
        return kind, self.rng.randint(1, self.UPPER[kind])


def verify_clean(saver: PersistSaver, tally: Tally, when: str) -> None:
    report = saver.verify()
    if not report.ok:
        raise AssertionError(f"verify after {when}: damaged {report.damaged}")
    tally.verifies += 1
    tally.garbage_seen = max(tally.garbage_seen, report.garbage_blobs)


@dataclass
class Epoch:
    """A run of rounds on a store of its own (a soak stays linear: stores and threads
    stay small) and threads of their own (a shared Redis holds no stale copies)."""

    opts: Options
    threads: list[str]
    heads: dict[str, dict[str, Any]] = field(default_factory=dict)
    acked: list[dict[str, Any]] = field(default_factory=list)


def writes(opts: Options, rounds: int, rng: random.Random) -> dict[str, Any]:
    tally = Tally()
    plans = Plans(rng, ["ack", "op", *opts.points()])
    epochs = []
    for number, first in enumerate(range(0, rounds, EPOCH)):
        epoch = Epoch(
            replace(opts, store=os.path.join(opts.store, f"epoch-{number}")),
            [f"fork-{number}-{i}" for i in range(THREADS)],
        )
        epoch.heads = {t: summarize({}) for t in epoch.threads}
        epoch.opts.saver().close()  # create the store before the first child races to
        for round_no in range(first, min(rounds, first + EPOCH)):
            kill_one_writer(epoch, round_no, plans.next(), tally)
        epochs.append(epoch)
    records = 0
    for epoch in epochs:  # last, because running a graph here starts threads: no more forks
        final = epoch.opts.saver()
        verify_clean(final, tally, "the last round")
        for ack in epoch.acked:  # everything ever acknowledged, exactly
            check_ack(final, ack)
        graph = chat_graph().compile(checkpointer=final)
        for thread in epoch.threads:  # and every thread resumes
            config = {"configurable": {"thread_id": thread}}
            out = graph.invoke(human(f"{thread} after the storm"), config)
            if out["turns"] != epoch.heads[thread]["turns"] + 1:
                raise AssertionError(f"{thread}: resumed to {out['turns']} turns, {epoch.heads}")
        records += final.verify().records_checked
        final.close()
    return {
        "rounds": tally.rounds,
        "acknowledged": tally.acknowledged,
        "resumed_and_acked": tally.resumed_and_acked,
        "verifies": tally.verifies,
        "garbage_seen": tally.garbage_seen,
        "plans": dict(tally.plans),
        "acks_by_plan": dict(tally.acks_by_plan),
        "records": records,
    }


def kill_one_writer(epoch: Epoch, round_no: int, plan: tuple[str, int], tally: Tally) -> None:
    """Fork a writer on the round's thread, let it die by ``plan``, check everything."""
    opts = epoch.opts
    thread = epoch.threads[round_no % THREADS]
    pid, fd = in_child(lambda w: writer(opts, thread, round_no, w, plan))
    outcome = reap(pid, fd, kill_after_acks=plan[1] if plan[0] == "ack" else None)
    require_sigkill(outcome, plan, f"writer of round {round_no}")
    check_resume(thread, outcome.lines, epoch.heads[thread])
    acks = outcome.of("ack")
    tally.rounds += 1
    tally.plans[plan[0]] += 1
    tally.acknowledged += len(acks)
    tally.acks_by_plan[plan[0]] += len(acks)
    tally.resumed_and_acked += bool(acks)
    epoch.acked += acks
    saver = opts.saver()
    for ack in acks:
        check_ack(saver, ack)
    last = acks[-1] if acks else epoch.heads[thread]
    epoch.heads[thread] = check_head(saver, thread, last)
    if plan[0] in IN_COMMIT or (round_no + 1) % VERIFY_EVERY == 0:
        verify_clean(saver, tally, f"round {round_no} (plan {plan})")
    saver.close()


# -- gc: killed while marking and while sweeping ------------------------------------------------

_SHARED = [f"shared element {i} " + "s" * 240 for i in range(48)]


def _items(tag: str, n: int) -> list[str]:
    return _SHARED + [f"{tag} element {i} " + "u" * 240 for i in range(n)]


def _put_list(saver: PersistSaver, thread: str, tag: str, steps: int) -> None:
    """Checkpoints whose list value has closed segments shared with other threads,
    a whole-value blob, and pending writes that reference blobs."""
    config: Any = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    for step in range(steps):
        ckpt = empty_checkpoint()
        ckpt["channel_values"] = {"items": _items(tag, 24 + 8 * step), "doc": f"{tag}:{step}" * 60}
        ckpt["channel_versions"] = {"items": f"{step + 1:032}.0", "doc": f"{step + 1:032}.0"}
        config = saver.put(config, ckpt, {"source": "loop", "step": step}, {"items": 1, "doc": 1})
        saver.put_writes(config, [("items", [f"{tag} pending {step} " + "p" * 240])], "task-1")


def _snapshot(saver: PersistSaver) -> dict[str, Any]:
    out = {}
    for tup in saver.list(None):
        c = tup.config["configurable"]
        out[f"{c['thread_id']}/{c['checkpoint_id']}"] = (
            tup.checkpoint["channel_values"],
            tup.pending_writes,
        )
    return out


def check_snapshot(saver: PersistSaver, expected: dict[str, Any], when: str) -> None:
    for name, (values, pending) in expected.items():
        thread, cid = name.split("/")
        config = {"configurable": {"thread_id": thread, "checkpoint_ns": "", "checkpoint_id": cid}}
        try:
            tup = saver.get_tuple(config)
        except PersistError as exc:
            raise AssertionError(f"{name} unreadable {when}: {exc!r}") from exc
        if tup is None:
            raise AssertionError(f"{name} lost {when}")
        if tup.checkpoint["channel_values"] != values or tup.pending_writes != pending:
            raise AssertionError(f"{name} reads back differently {when}")


def gc_child(opts: Options, plan: tuple[str, int], fd: int) -> None:
    install(Killer(fd, *plan))
    opts.saver().gc()


def gc_points(opts: Options, saver: PersistSaver, garbage: int) -> list[tuple[str, int]]:
    """The kill points this gc will pass, with how many times it passes each at least."""
    marked = sum(
        1
        for key, _size, _mtime in saver.store.walk((keys.THREADS,))
        if keys.is_layout_key(key) and expected_kind(key) in (Kind.CHECKPOINT, Kind.WRITES)
    )
    points = [("mark", marked), ("sweep", 2)]
    if opts.layout == "files":
        points.append(("unlinked", garbage))
    else:  # the first delete transaction, and each row it deletes
        points += [("sql:delete", garbage), ("sql:commit", 1)]
    return [(where, n) for where, n in points if n > 0]


def gc(opts: Options, rounds: int, rng: random.Random) -> dict[str, Any]:
    saver = opts.saver(durability="none")
    for i in range(5):
        _put_list(saver, f"live-{i}", f"live-{i}", 3)
    saver.copy_thread("live-0", "copy-0")
    expected = _snapshot(saver)
    saver.close()
    kills: Counter[str] = Counter()
    partial_sweeps = 0
    block: list[str] = []
    for round_no in range(rounds):
        saver = opts.saver(durability="none")
        _put_list(saver, f"doomed-{round_no}", f"doomed-{round_no}", 2)  # garbage, once deleted
        saver.delete_thread(f"doomed-{round_no}")
        before = saver.verify()
        points = gc_points(opts, saver, before.garbage_blobs)
        saver.close()
        if not block:  # every kind of point gets its share, in a random order
            block = rng.sample([where for where, _n in points], len(points))
        where = block.pop()
        passes = dict(points)[where]
        # "sweep": the second call, between the segment and the element deletion
        plan = (where, 2 if where == "sweep" else rng.randint(1, passes))
        pid, fd = in_child(lambda w, p=plan: gc_child(opts, p, w))
        outcome = reap(pid, fd)
        require_sigkill(outcome, plan, f"gc of round {round_no}")
        kills[where] += 1
        saver = opts.saver()
        after = saver.verify()
        if not after.ok:
            raise AssertionError(f"verify after gc killed at {plan}: damaged {after.damaged}")
        check_snapshot(saver, expected, f"after gc killed at {plan}")
        partial_sweeps += 0 < after.garbage_blobs < before.garbage_blobs
        saver.gc()  # a second gc completes and leaves no garbage
        if saver.verify().garbage_blobs != 0:
            raise AssertionError(f"the gc after the one killed at {plan} left garbage")
        check_snapshot(saver, expected, f"after the gc that followed the kill at {plan}")
        saver.close()
    final = opts.saver()
    report = final.gc()
    check = final.verify()
    if not check.ok or check.garbage_blobs != 0:
        raise AssertionError(f"final gc: {check}")
    check_snapshot(final, expected, "after the final gc")
    return {
        "rounds": rounds,
        "kills": dict(kills),
        "partial_sweeps": partial_sweeps,
        "checkpoints": len(expected),
        "final_deleted": report.blobs_deleted,
    }


def main(argv: Sequence[str]) -> int:
    mode, rounds, seed = argv[1], int(argv[3]), int(argv[4])
    opts = Options.parse(argv)
    rng = random.Random(seed)
    try:
        summary = writes(opts, rounds, rng) if mode == "writes" else gc(opts, rounds, rng)
    except AssertionError as exc:
        print(f"CHECK FAILED: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
