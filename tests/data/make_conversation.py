"""Regenerate conversation.json, the fixed data set of the storage regression test.

    python -m tests.data.make_conversation

200 turns of ~500 characters of varied text (human and AI alternating), from a
fixed seed. Committed, so the byte counts the test asserts never drift.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

WORDS = [
    "agent",
    "tool",
    "call",
    "result",
    "user",
    "asked",
    "weather",
    "forecast",
    "paris",
    "london",
    "search",
    "engine",
    "found",
    "answer",
    "because",
    "model",
    "token",
    "context",
    "window",
    "memory",
    "thread",
    "checkpoint",
    "state",
    "graph",
    "node",
    "edge",
    "reducer",
    "message",
    "list",
    "value",
    "store",
    "durable",
    "verify",
    "hash",
    "record",
    "invoice",
    "refund",
    "order",
    "customer",
    "shipping",
    "delayed",
    "package",
    "warehouse",
    "inventory",
    "report",
    "summary",
    "quarterly",
    "revenue",
    "growth",
    "risk",
    "mitigation",
    "plan",
    "schedule",
    "meeting",
    "tomorrow",
    "afternoon",
    "please",
    "confirm",
    "details",
    "sorry",
    "misunderstanding",
    "clarify",
    "requirement",
    "deadline",
    "budget",
    "approval",
    "manager",
    "escalation",
]


def main() -> None:
    rng = random.Random(20261122)
    turns = []
    for i in range(200):
        words: list[str] = []
        while sum(len(w) + 1 for w in words) < 500:
            word = rng.choice(WORDS)
            if rng.random() < 0.08:
                word = f"{word}-{rng.randint(0, 99999)}"
            words.append(word)
        text = " ".join(words)[:500]
        turns.append({"role": "human" if i % 2 == 0 else "ai", "id": f"msg-{i:03d}", "text": text})
    Path(__file__).with_name("conversation.json").write_text(json.dumps(turns, indent=0))


if __name__ == "__main__":
    main()
