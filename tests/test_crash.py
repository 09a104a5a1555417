"""Kill -9 at exact points: nothing acknowledged is lost, nothing torn is visible, threads resume.

Every kill is checked, not assumed: a writer must die by *our* SIGKILL (its wait
status says so; one that raised or exited fails the test with its traceback),
at the point the test planned (the writer reports the point before it dies).
Kill points: after the nth acknowledged turn; before the nth store call; inside
a commit (file layout: content durable and record staged, or between renames;
SQLite: rows inserted and the transaction not committed); inside gc's mark
and sweep. See ``tests/fork_killer.py`` for what is checked after each kill,
and ``tests/test_negative_controls.py`` for stores on which these tests fail.

The fast subset runs in CI; ``LGP_SOAK=10`` multiplies the rounds (docs/reliability.md).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from langgraph_persist import PersistSaver, keys
from tests import fork_killer
from tests.fork_killer import check_ack, check_head, check_resume, summarize
from tests.graphs import chat_graph, human

ROOT = Path(__file__).resolve().parent.parent
SOAK = int(os.environ.get("LGP_SOAK", "0") or 0) or 1
LAYOUTS = ["sqlite", "files"]
POINTS = {"sqlite": {"sql:record", "sql:commit"}, "files": {"staged", "installed"}}


# -- fresh interpreters, killed from outside --------------------------------------------------


def start_writer(store: Path, thread: str, round_no: int, layout: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.crash_writer", str(store), thread, str(round_no),
         "--layout", layout],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def kill_after(proc: subprocess.Popen[str], acks: int) -> list[dict]:
    """Read lines until the ``acks``th acknowledgement, SIGKILL at once, collect the rest.

    The writer must die by that SIGKILL: a writer that raised (exit 3, traceback on
    stderr) or stopped acknowledging fails here instead of passing as killed.
    """
    assert proc.stdout is not None and proc.stderr is not None
    lines: list[dict[str, Any]] = []
    for raw in proc.stdout:
        lines.append(json.loads(raw))
        if sum("ack" in m for m in lines) >= acks:
            break
    proc.send_signal(signal.SIGKILL)
    # through the same file object: communicate() would skip what iteration buffered
    rest, err = proc.stdout.read(), proc.stderr.read()
    proc.wait(timeout=120)
    lines += [json.loads(raw) for raw in rest.splitlines() if raw.endswith("}")]
    assert proc.returncode == -signal.SIGKILL, f"exit {proc.returncode}, not our kill:\n{err}"
    assert sum("ack" in m for m in lines) >= acks, (lines, err)
    return lines


@pytest.mark.parametrize("layout", LAYOUTS)
def test_sigkill_during_writes_loses_nothing_acknowledged(tmp_path: Path, layout: str) -> None:
    """Fresh processes (the real start-up path), one after another on one thread: each
    resumes exactly what the previous one left, and its turns continue it."""
    store = tmp_path / "store"
    head = summarize({})
    acknowledged: list[dict] = []
    for round_no in range(2 * SOAK):
        lines = kill_after(start_writer(store, "crashy", round_no, layout), 1 + round_no % 3)
        check_resume("crashy", lines, head)  # resumed exactly what the last kill left
        acks = [m for m in lines if "ack" in m]
        acknowledged += acks
        saver = PersistSaver(store)
        report = saver.verify()
        assert report.ok, report.damaged
        for ack in acks:
            check_ack(saver, ack)
        head = check_head(saver, "crashy", acks[-1])
        saver.close()
    saver = PersistSaver(store)
    for ack in acknowledged:
        check_ack(saver, ack)
    graph = chat_graph().compile(checkpointer=saver)
    out = graph.invoke(human("after the storm"), {"configurable": {"thread_id": "crashy"}})
    assert out["turns"] == head["turns"] + 1
    assert out["messages"][-1].content == "echo: after the storm"


def test_two_processes_different_threads_concurrently(tmp_path: Path) -> None:
    store = tmp_path / "store"
    PersistSaver(store).close()
    procs = [start_writer(store, f"worker-{i}", 0, "sqlite") for i in range(2)]
    lines = [kill_after(proc, 6) for proc in procs]
    saver = PersistSaver(store)
    assert saver.verify().ok
    for items in lines:
        for ack in (m for m in items if "ack" in m):
            check_ack(saver, ack)


# -- hundreds of kill points, forked (tests/fork_killer.py) -----------------------------------


def _assert_meaningful(summary: dict[str, Any], rounds: int, points: set[str]) -> None:
    """The run did what it claims, not just 'no assertion fired'."""
    plans = summary["plans"]
    assert set(plans) == {"ack", "op", *points}, plans  # every kind of kill point was hit
    # rounds resumed their thread and went on (a writer whose resume fails gets ~0):
    # "ack" rounds are killed after 1-4 turns, the others ~1.5 turns in on average
    assert summary["acknowledged"] >= rounds // 2, summary
    assert summary["resumed_and_acked"] >= rounds // 3, summary
    in_commit = sum(plans[p] for p in points)
    assert summary["verifies"] >= in_commit + 1, summary  # verify ran after each of those


@pytest.mark.timeout(600 * SOAK)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_hundreds_of_kill_points(tmp_path: Path, layout: str) -> None:
    """Forked writers killed at exact points (x LGP_SOAK); nothing acknowledged is lost."""
    rounds = (50 if layout == "sqlite" else 40) * SOAK
    summary = fork_killer.run("writes", tmp_path / "store", rounds, 2026, "--layout", layout)
    _assert_meaningful(summary, rounds, POINTS[layout])
    if layout == "sqlite":
        # one transaction per put: no kill leaves content without its record
        assert summary["garbage_seen"] == 0, summary
    else:
        # content is committed before the record: some kills landed in between
        assert summary["garbage_seen"] > 0, summary


@pytest.mark.timeout(600 * SOAK)
def test_kill_points_tiered_write_through(tmp_path: Path, redis_url: str) -> None:
    """The same with the Redis hot tier in front (write-through, SQLite cold tier)."""
    rounds = 16 * SOAK
    summary = fork_killer.run("writes", tmp_path / "store", rounds, 7, "--redis", redis_url)
    _assert_meaningful(summary, rounds, POINTS["sqlite"])


@pytest.mark.timeout(600 * SOAK)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_sigkill_during_gc_never_removes_referenced_content(tmp_path: Path, layout: str) -> None:
    """gc killed inside its mark and inside its sweep: every checkpoint reads back exactly,
    verify is clean (garbage allowed), and the next gc completes."""
    rounds = 8 * SOAK
    summary = fork_killer.run("gc", tmp_path / "store", rounds, 99, "--layout", layout)
    kills = summary["kills"]
    assert sum(kills.values()) == rounds
    assert kills.get("mark", 0) > 0, kills
    assert sum(n for where, n in kills.items() if where in fork_killer.GC_SWEEP) > 0, kills
    # some kills landed inside the sweep: part of the garbage gone, part left
    assert summary["partial_sweeps"] > 0, summary


# -- regressions found by the checks above ----------------------------------------------------


def test_a_reopened_file_store_resumes_from_its_latest_checkpoint(tmp_path: Path) -> None:
    """Regression: Store.list_desc reversed FileStore's cached listing in place, so the
    second read of a quiet thread (a process resuming after a crash) took its FIRST
    checkpoint for the latest and the conversation silently restarted."""
    saver = PersistSaver(tmp_path / "s", layout="files")
    graph = chat_graph().compile(checkpointer=saver)
    config = {"configurable": {"thread_id": "t"}}
    for turn in range(3):
        graph.invoke(human(f"turn {turn}"), config)
    listing = saver.store.path(keys.checkpoints_dir(keys.encode_name("t"), keys.encode_name("")))
    os.utime(listing, (1e9, 1e9))  # a directory nobody wrote to lately: listings are cached
    reopened = chat_graph().compile(checkpointer=PersistSaver(tmp_path / "s"))
    assert [reopened.get_state(config).values["turns"] for _ in range(3)] == [3, 3, 3]
    assert reopened.invoke(human("again"), config)["turns"] == 4
