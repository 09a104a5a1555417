"""Where a checkpoint lives: LangGraph's config -> thread/namespace ids and their store names.

A missing ``thread_id`` fails here the way LangGraph's own savers fail (a
``KeyError``, ours typed as ``MissingThreadIdError``).
"""

from __future__ import annotations

from dataclasses import dataclass

from langchain_core.runnables import RunnableConfig

from langgraph_persist import keys
from langgraph_persist.errors import MissingThreadIdError


@dataclass(frozen=True)
class Address:
    """Where a checkpoint lives: the ids as the user gave them, and their encoded names."""

    thread_id: str
    checkpoint_ns: str
    t: str
    n: str

    @classmethod
    def of(cls, thread_id: str, checkpoint_ns: str, name_key: bytes = b"") -> Address:
        """``name_key``: a store that hides ids keys its names (storemeta.py)."""
        return cls(
            thread_id,
            checkpoint_ns,
            keys.encode_name(thread_id, name_key),
            keys.encode_name(checkpoint_ns, name_key),
        )

    def config(self, checkpoint_id: str) -> RunnableConfig:
        return {
            "configurable": {
                "thread_id": self.thread_id,
                "checkpoint_ns": self.checkpoint_ns,
                "checkpoint_id": checkpoint_id,
            }
        }


def address_of(config: RunnableConfig, name_key: bytes = b"") -> Address:
    """The thread/namespace a config names; a missing thread id fails like LangGraph's savers."""
    configurable = config.get("configurable") or {}
    if "thread_id" not in configurable:
        raise MissingThreadIdError(
            "thread_id",
            "the config has no configurable.thread_id; pass "
            '{"configurable": {"thread_id": ...}} when invoking the graph',
        )
    thread_id = configurable["thread_id"]
    if not isinstance(thread_id, str):
        thread_id = str(thread_id)  # LangGraph's SQL savers accept ints and UUIDs the same way
    ns = configurable.get("checkpoint_ns") or ""
    return Address.of(thread_id, ns, name_key)
