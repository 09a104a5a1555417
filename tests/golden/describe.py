"""Render a store's checkpoints as plain JSON, to pin the format across releases."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import BaseMessage

from langgraph_persist import PersistSaver


def plain(value: Any) -> Any:
    """A JSON-able rendering that keeps what matters for equality."""
    if isinstance(value, BaseMessage):
        return {"type": value.type, "content": value.content, "id": value.id}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


def describe(saver: PersistSaver) -> dict[str, Any]:
    """Every checkpoint of every thread: ids, parents, metadata, values, writes."""
    out: dict[str, Any] = {}
    for tup in saver.list(None):
        conf = tup.config["configurable"]
        key = f"{conf['thread_id']}|{conf['checkpoint_ns']}|{conf['checkpoint_id']}"
        out[key] = {
            "parent": (tup.parent_config or {}).get("configurable", {}).get("checkpoint_id"),
            "metadata": plain({k: v for k, v in tup.metadata.items() if k != "run_id"}),
            "values": plain(tup.checkpoint["channel_values"]),
            "versions": plain(tup.checkpoint["channel_versions"]),
            "writes": [[w[1], plain(w[2])] for w in tup.pending_writes or []],
        }
    return dict(sorted(out.items()))
