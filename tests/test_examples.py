"""The examples run as a user runs them: separate processes, printing what they did."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def run(tmp_path: Path, script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_quickstart(tmp_path: Path) -> None:
    out = run(tmp_path, "quickstart.py")
    assert "[process 1] paused, waiting for a human" in out
    assert "[process 2] resumed: Refund approved by a human." in out
    assert "0 damaged" in out
    assert (tmp_path / "checkpoints" / "FORMAT").exists()


def test_human_in_the_loop_across_processes(tmp_path: Path) -> None:
    assert "paused: Approve 'refund order 1234'?" in run(
        tmp_path, "human_in_the_loop.py", "request", "refund order 1234"
    )
    assert "waiting at ('review',)" in run(tmp_path, "human_in_the_loop.py", "pending")
    assert "executed: refund order 1234" in run(tmp_path, "human_in_the_loop.py", "approve", "yes")
    assert "nothing is waiting" in run(tmp_path, "human_in_the_loop.py", "pending")


def test_time_travel(tmp_path: Path) -> None:
    out = run(tmp_path, "time_travel.py")
    assert "replayed: ['outline about tides']" in out
    assert "both branches are kept: ['tides', 'volcanoes']" in out


def test_snapshot_roundtrip(tmp_path: Path) -> None:
    out = run(tmp_path, "snapshot_roundtrip.py")
    assert "history identical before the new turn: True" in out


def test_redis_workers(tmp_path: Path, redis_url: str) -> None:
    out = run(tmp_path, "redis_workers.py", "--redis", redis_url, "--workers", "3")
    assert "conv-a: 6 messages" in out and "conv-b: 6 messages" in out
    assert "'degraded': False" in out
