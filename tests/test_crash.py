"""Kill -9 at random moments: nothing acknowledged is lost, nothing torn is visible.

The fast subset runs in CI; ``LGP_SOAK=1`` multiplies the rounds (see docs/reliability.md).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from langgraph_persist import PersistSaver
from tests.graphs import chat_graph, human

ROOT = Path(__file__).resolve().parent.parent
SOAK = int(os.environ.get("LGP_SOAK", "0") or 0)
ROUNDS = 12 * (SOAK or 1)


def start_writer(store: Path, thread: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.crash_writer", str(store), thread, *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def acks_until_killed(proc: subprocess.Popen[str], rng: random.Random) -> list[dict]:
    """Read acknowledgements, then SIGKILL at a random moment (mid-turn, usually)."""
    assert proc.stdout is not None
    wanted = rng.randint(1, 6)
    acks = []
    for line in proc.stdout:
        acks.append(json.loads(line))
        if len(acks) >= wanted:
            break
    time.sleep(rng.uniform(0, 0.02))  # land inside the next turn's writes
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    acks.extend(json.loads(line) for line in proc.stdout.read().splitlines() if line.strip())
    return acks


def test_sigkill_during_writes_loses_nothing_acknowledged(tmp_path: Path) -> None:
    store = tmp_path / "store"
    rng = random.Random(1234)
    acknowledged: list[dict] = []
    for _round in range(ROUNDS):
        acknowledged += acks_until_killed(start_writer(store, "crashy"), rng)
        saver = PersistSaver(store)
        report = saver.verify()
        assert report.ok, report.damaged
        graph = chat_graph().compile(checkpointer=saver)
        for ack in acknowledged:
            config = {
                "configurable": {"thread_id": "crashy", "checkpoint_id": ack["checkpoint_id"]}
            }
            state = graph.get_state(config)
            assert state.values["turns"] == ack["turns"]
            assert state.values["messages"][-1].content == ack["last"]
        latest = graph.get_state({"configurable": {"thread_id": "crashy"}}).values
        assert latest["turns"] >= acknowledged[-1]["turns"]
    # the thread resumes after the last kill
    graph = chat_graph().compile(checkpointer=PersistSaver(store))
    out = graph.invoke(human("after the storm"), {"configurable": {"thread_id": "crashy"}})
    assert out["messages"][-1].content == "echo: after the storm"
    assert len(acknowledged) >= ROUNDS


def test_sigkill_during_gc_never_removes_referenced_content(tmp_path: Path) -> None:
    store = tmp_path / "store"
    saver = PersistSaver(store, durability="none")
    graph = chat_graph().compile(checkpointer=saver)
    for t in range(12):
        for turn in range(6):
            graph.invoke(
                human(f"thread {t} turn {turn} " + "x" * 300),
                {"configurable": {"thread_id": f"t{t}"}},
            )
    for t in range(0, 12, 2):
        saver.copy_thread(f"t{t}", f"copy{t}")
    for t in range(0, 12, 3):
        saver.delete_thread(f"t{t}")
    expected = {
        tup.config["configurable"]["thread_id"]
        + "/"
        + tup.config["configurable"]["checkpoint_id"]: tup.checkpoint
        for tup in saver.list(None)
    }
    rng = random.Random(99)
    for _round in range(max(4, ROUNDS // 3)):
        proc = start_writer(store, "unused", "--gc")
        time.sleep(rng.uniform(0.3, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        fresh = PersistSaver(store)
        assert fresh.verify().ok
        got = {
            tup.config["configurable"]["thread_id"]
            + "/"
            + tup.config["configurable"]["checkpoint_id"]: tup.checkpoint
            for tup in fresh.list(None)
        }
        assert got == expected
    final = PersistSaver(store)
    final.gc()
    assert final.verify().ok


def test_two_processes_different_threads_concurrently(tmp_path: Path) -> None:
    store = tmp_path / "store"
    PersistSaver(store)
    procs = [start_writer(store, f"worker-{i}") for i in range(3)]
    acks: dict[int, list[dict]] = {}
    for i, proc in enumerate(procs):
        assert proc.stdout is not None
        acks[i] = [json.loads(proc.stdout.readline()) for _ in range(8)]
    for proc in procs:
        proc.kill()
        proc.wait()
    saver = PersistSaver(store)
    assert saver.verify().ok
    graph = chat_graph().compile(checkpointer=saver)
    for i, items in acks.items():
        for ack in items:
            state = graph.get_state(
                {
                    "configurable": {
                        "thread_id": f"worker-{i}",
                        "checkpoint_id": ack["checkpoint_id"],
                    }
                }
            )
            assert state.values["turns"] == ack["turns"]


@pytest.mark.parametrize("rounds", [3])
def test_same_thread_resumed_by_one_process_after_another(tmp_path: Path, rounds: int) -> None:
    store = tmp_path / "store"
    expected_turns = 0
    for _ in range(rounds):
        proc = start_writer(store, "relay")
        assert proc.stdout is not None
        for _ in range(3):
            ack = json.loads(proc.stdout.readline())
            expected_turns += 1
            assert ack["turns"] == expected_turns  # each process continues the thread
        proc.terminate()
        proc.wait()
        # the process may have finished one more turn before it stopped
        state = (
            chat_graph()
            .compile(checkpointer=PersistSaver(store))
            .get_state({"configurable": {"thread_id": "relay"}})
        )
        expected_turns = state.values["turns"]
    assert PersistSaver(store).verify().ok


def _fork_killer(store: Path, rounds: int, seed: int, *extra: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "tests.fork_killer", str(store), str(rounds), str(seed), *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_hundreds_of_kill_points_filesystem(tmp_path: Path) -> None:
    """150 SIGKILLs at random moments (x LGP_SOAK); nothing acknowledged is lost."""
    rounds = 150 * (SOAK or 1)
    summary = _fork_killer(tmp_path / "store", rounds, seed=2026)
    assert summary["kills"] == rounds
    assert summary["acknowledged"] > 0 and summary["checks"] >= summary["acknowledged"]


def test_kill_points_tiered_write_through(tmp_path: Path, redis_url: str) -> None:
    """The same with the Redis hot tier in front (write-through)."""
    rounds = 50 * (SOAK or 1)
    summary = _fork_killer(tmp_path / "store", rounds, 7, "--redis", redis_url)
    assert summary["kills"] == rounds and summary["acknowledged"] > 0


def test_a_reopened_file_store_resumes_from_its_latest_checkpoint(tmp_path: Path) -> None:
    """Regression: Store.list_desc reversed FileStore's cached listing in place, so the
    second read of a quiet thread (a process resuming after a crash) took its FIRST
    checkpoint for the latest and the conversation silently restarted."""
    from langgraph_persist import keys

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
