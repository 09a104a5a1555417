"""Hundreds of kill -9 points, cheaply: fork a writer, SIGKILL it at a random moment, check.

    python -m tests.fork_killer STORE ROUNDS SEED [--redis URL]

Run as its own process by ``tests/test_crash.py`` (so it is single-threaded
when it forks: a child then holds no lock another thread owned). Imports are
paid once; each round forks a child that builds its own saver and graph and
writes turns with ``durability="sync"``, acknowledging each one through a
pipe. The parent kills it after a random delay, then checks: every
acknowledged checkpoint reads back exactly and the thread resumes. Every
``VERIFY_EVERY`` rounds, and at the end, the whole store must verify clean.
Prints one JSON summary line.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time

from langgraph_persist import PersistSaver
from tests.graphs import chat_graph, human

VERIFY_EVERY = 25


def child(store: str, redis: str | None, write_fd: int, round_no: int) -> None:
    saver = PersistSaver(store, redis=redis) if redis else PersistSaver(store)
    graph = chat_graph().compile(checkpointer=saver)
    config = {"configurable": {"thread_id": f"fork-{round_no % 5}"}}
    turn = 0
    while True:
        out = graph.invoke(
            human(f"round {round_no} turn {turn} " + "w" * 200), config, durability="sync"
        )
        cid = graph.get_state(config).config["configurable"]["checkpoint_id"]
        line = json.dumps(
            {"thread": config["configurable"]["thread_id"], "id": cid, "turns": out["turns"]}
        )
        os.write(write_fd, (line + "\n").encode())
        turn += 1


def main() -> None:
    store, rounds, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    redis = sys.argv[sys.argv.index("--redis") + 1] if "--redis" in sys.argv else None
    rng = random.Random(seed)
    acked: list[dict] = []
    kills = checked = 0
    for round_no in range(rounds):
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the writer
            os.close(read_fd)
            try:
                child(store, redis, write_fd, round_no)
            finally:
                os._exit(1)
        os.close(write_fd)
        time.sleep(rng.uniform(0.0, 0.25))  # anywhere: start-up, mid-put, between turns
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        kills += 1
        with os.fdopen(read_fd) as pipe:
            acked += [json.loads(line) for line in pipe.read().splitlines() if line.endswith("}")]
        saver = PersistSaver(store, redis=redis) if redis else PersistSaver(store)
        for ack in acked[-20:]:  # the newest acknowledgements, every round
            config = {"configurable": {"thread_id": ack["thread"], "checkpoint_id": ack["id"]}}
            tup = saver.get_tuple(config)
            assert tup is not None, f"acknowledged checkpoint lost: {ack}"
            assert tup.checkpoint["channel_values"]["turns"] == ack["turns"], ack
            checked += 1
        if (round_no + 1) % VERIFY_EVERY == 0:
            report = saver.verify()
            assert report.ok, report.damaged
        saver.close()
    final = PersistSaver(store, redis=redis) if redis else PersistSaver(store)
    report = final.verify()
    assert report.ok, report.damaged
    for ack in acked:  # everything ever acknowledged
        tup = final.get_tuple(
            {"configurable": {"thread_id": ack["thread"], "checkpoint_id": ack["id"]}}
        )
        assert tup is not None and tup.checkpoint["channel_values"]["turns"] == ack["turns"], ack
    print(
        json.dumps(
            {
                "kills": kills,
                "acknowledged": len(acked),
                "checks": checked + len(acked),
                "records": report.records_checked,
            }
        )
    )


if __name__ == "__main__":
    main()
