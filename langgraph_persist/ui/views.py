"""What each page shows, as JSON-ready dicts: the JSON API returns them, the templates render them.

One function per view. They call only the saver's public API (``thread_infos``,
``history``, ``get_tuple``, ``stats``, ``verify``, ...), never its engine or
store, so the web UI sees exactly what any other client of the library sees.
Values are made JSON-ready with the CLI's ``to_jsonable`` and compared with
its ``diff_channels``: the page, the JSON and ``langgraph-persist diff`` agree.

Nothing here produces HTML; escaping is the templates' job (Jinja2 autoescape).
"""

from __future__ import annotations

import difflib
import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple

from langgraph_persist import ThreadInfo
from langgraph_persist.cli._render import diff_channels, is_message_list, to_jsonable
from langgraph_persist.errors import NotFoundError
from langgraph_persist.saver import PersistSaver

PAGE_SIZE = 50
"""Threads per page of the threads view."""

TIMELINE_LIMIT = 500
"""Checkpoints per namespace shown in a thread's timeline (newest first); the rest are counted."""

INTERRUPT = "__interrupt__"

_IMAGE_DATA_URL = re.compile(r"^data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]+$")
"""The only image sources a page shows inline: embedded bitmaps (no SVG: it can script)."""


def iso(when: datetime | None) -> str | None:
    return when.astimezone(timezone.utc).isoformat() if when is not None else None


def config_of(thread_id: str, ns: str, checkpoint_id: str | None = None) -> RunnableConfig:
    configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ns}
    if checkpoint_id:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


def parse_filters(text: str) -> dict[str, Any]:
    """``user=alice step=3``: metadata filters; a value is JSON when it parses, else a string."""
    out: dict[str, Any] = {}
    for item in text.split():
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{item!r} is not KEY=VALUE")
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out


# -- threads -----------------------------------------------------------------------------------


@dataclass
class InfoCache:
    """``thread_info`` per thread, reused while the thread's newest checkpoint id is the same.

    Listing must stay fast on big stores: ordering needs only each thread's
    newest checkpoint id (uuid6 ids sort by time; one cheap read per thread),
    and only the threads on the page (or, for a metadata search, each thread
    once) need their ``thread_info``. A thread that got a new checkpoint is
    read again; counts changed by a prune alone refresh after ``ttl`` seconds.
    """

    ttl: float = 60.0
    entries: dict[str, tuple[str | None, float, ThreadInfo]] = field(default_factory=dict)

    def info(self, saver: PersistSaver, thread_id: str, newest: str | None) -> ThreadInfo:
        now = time.monotonic()
        hit = self.entries.get(thread_id)
        if hit is not None and hit[0] == newest and now - hit[1] < self.ttl:
            return hit[2]
        info = saver.thread_info(thread_id)
        self.entries[thread_id] = (newest, now, info)
        return info


def newest_id(saver: PersistSaver, thread_id: str) -> str | None:
    """The thread's newest checkpoint id: the root namespace's, else any namespace's."""
    found = next(iter(saver.checkpoint_ids(thread_id)), None)
    if found is not None:
        return str(found)
    ids = [
        next(iter(saver.checkpoint_ids(thread_id, checkpoint_ns=ns)), None)
        for ns in saver.namespaces(thread_id)
    ]
    return max((str(i) for i in ids if i is not None), default=None)


def threads_view(
    saver: PersistSaver, cache: InfoCache, *, prefix: str = "", meta: str = "", page: int = 1
) -> dict[str, Any]:
    """Every thread, newest activity first, one page of them, filtered by id prefix and metadata."""
    wanted = parse_filters(meta)
    newest = {t: newest_id(saver, t) for t in saver.threads() if t.startswith(prefix)}
    order = sorted(newest, key=lambda t: (newest[t] or "", t), reverse=True)
    if wanted:
        order = [
            t
            for t in order
            if all(
                (cache.info(saver, t, newest[t]).latest_metadata or {}).get(k, object()) == v
                for k, v in wanted.items()
            )
        ]
    total = len(order)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    shown = [cache.info(saver, t, newest[t]) for t in order[(page - 1) * PAGE_SIZE :][:PAGE_SIZE]]
    return {
        "prefix": prefix,
        "meta": meta,
        "page": page,
        "pages": pages,
        "page_size": PAGE_SIZE,
        "total": total,
        "threads": [
            {
                "thread_id": i.thread_id,
                "checkpoints": i.checkpoints,
                "namespaces": len(i.namespaces),
                "latest_checkpoint_id": i.latest_checkpoint_id,
                "latest_time": iso(i.latest_time),
                "latest_step": i.latest_step,
                "latest_metadata": to_jsonable(i.latest_metadata or {}),
                "stored_bytes": i.stored_bytes,
                "interrupted": bool(i.interrupted),
            }
            for i in shown
        ],
    }


# -- thread ------------------------------------------------------------------------------------


def _writers(t: CheckpointTuple, parent: CheckpointTuple | None) -> list[str]:
    """The node(s) whose step made this checkpoint: those whose ``versions_seen`` moved."""
    seen = t.checkpoint.get("versions_seen") or {}
    before = (parent.checkpoint.get("versions_seen") or {}) if parent is not None else {}
    nodes = [n for n in seen if seen[n] != before.get(n) and seen[n] and n != INTERRUPT]
    if not nodes and t.metadata.get("source") == "input":
        return ["__input__"]
    writes = t.metadata.get("writes")  # older LangGraph versions recorded them
    if not nodes and isinstance(writes, Mapping):
        return [str(n) for n in writes]
    return sorted(str(n) for n in nodes)


def _parent_id(t: CheckpointTuple) -> str | None:
    parent = (t.parent_config or {}).get("configurable", {}).get("checkpoint_id")
    return str(parent) if parent else None


def _lanes(rows: list[dict[str, Any]]) -> int:
    """Give each checkpoint a lane so forks draw as branches (``rows`` are newest first).

    Walking from the oldest checkpoint, the first (oldest) child of a
    checkpoint continues its lane; each later child starts a new lane and is
    marked ``fork_of`` its parent: a fork is the history written later from an
    older checkpoint (``update_state``, a replay). A checkpoint whose parent is
    not shown (the root, a pruned or damaged parent) starts a lane of its own.
    Returns the number of lanes.
    """
    by_id = {r["checkpoint_id"]: r for r in rows}
    children: dict[str, list[str]] = {}
    for r in rows:
        if r["parent_id"] in by_id:
            children.setdefault(r["parent_id"], []).append(r["checkpoint_id"])
    lanes = 0
    for r in reversed(rows):
        if r["lane"] is None:
            r["lane"], lanes = lanes, lanes + 1
        for i, child in enumerate(sorted(children.get(r["checkpoint_id"], ()))):
            if i == 0:
                by_id[child]["lane"] = r["lane"]
            else:
                by_id[child].update(lane=lanes, fork_of=r["checkpoint_id"])
                lanes += 1
    index = {r["checkpoint_id"]: n for n, r in enumerate(rows)}
    spans: dict[int, tuple[int, int]] = {}
    for n, r in enumerate(rows):
        low, high = spans.get(r["lane"], (n, n))
        joins = index.get(r.get("fork_of") or "", n)
        spans[r["lane"]] = (min(low, n), max(high, n, joins))
    for n, r in enumerate(rows):
        cells = []
        for lane in range(lanes):
            low, high = spans[lane]
            if lane == r["lane"]:
                cells.append("dot")
            elif low < n < high:
                cells.append("line")
            elif n == high and low < n:
                cells.append("join")  # the fork's parent: the branch starts here
            else:
                cells.append("")
        r["graph"] = cells
    return lanes


def thread_view(saver: PersistSaver, thread_id: str, ns: str = "") -> dict[str, Any]:
    """A thread's checkpoints in one namespace as a timeline with forks, plus its namespaces."""
    namespaces = list(saver.namespaces(thread_id))
    if not namespaces:
        raise NotFoundError(f"no thread {thread_id!r}")
    if ns not in namespaces:
        raise NotFoundError(f"thread {thread_id!r} has no namespace {ns!r}")
    sizes = saver.record_sizes(thread_id)
    entries = list(saver.history(thread_id, checkpoint_ns=ns, limit=TIMELINE_LIMIT))
    tuples = {
        e.config["configurable"]["checkpoint_id"]: e.tuple for e in entries if e.tuple is not None
    }
    rows: list[dict[str, Any]] = []
    for e in entries:
        cid = e.config["configurable"]["checkpoint_id"]
        row: dict[str, Any] = {
            "checkpoint_id": cid,
            "bytes": _size(sizes, ns, cid),
            "lane": None,
        }
        t = e.tuple
        if t is None:
            row.update(parent_id=None, damaged=str(e.error), source=None, step=None)
            row.update(writers=[], time=None, run_id=None, interrupts=0, pending_writes=0)
        else:
            parent = _parent_id(t)
            row.update(
                parent_id=parent,
                source=t.metadata.get("source"),
                step=t.metadata.get("step"),
                writers=_writers(t, tuples.get(parent or "")),
                time=t.checkpoint.get("ts"),
                run_id=t.metadata.get("run_id"),
                pending_writes=len(t.pending_writes or ()),
                interrupts=sum(1 for w in t.pending_writes or () if w[1] == INTERRUPT),
            )
        rows.append(row)
    lanes = _lanes(rows)
    total = sum(1 for _ in saver.checkpoint_ids(thread_id, checkpoint_ns=ns))
    return {
        "thread_id": thread_id,
        "checkpoint_ns": ns,
        "namespaces": sorted(namespaces),
        "checkpoints": total,
        "shown": len(rows),
        "lanes": lanes,
        "timeline": rows,
    }


def _size(sizes: Mapping[tuple[str, str], int], ns: str, cid: str) -> int | None:
    """A checkpoint's record bytes (its record plus its pending writes' records)."""
    found = sizes.get((ns, cid))
    return int(found) if isinstance(found, int) else None


# -- checkpoint --------------------------------------------------------------------------------


def get_tuple(saver: PersistSaver, thread_id: str, ns: str, checkpoint_id: str) -> CheckpointTuple:
    t = saver.get_tuple(config_of(thread_id, ns, checkpoint_id))
    if t is None:
        raise NotFoundError(f"no checkpoint {checkpoint_id!r} in thread {thread_id!r}")
    return t


def latest_id(saver: PersistSaver, thread_id: str, ns: str = "") -> str:
    newest = next(iter(saver.checkpoint_ids(thread_id, checkpoint_ns=ns)), None)
    if newest is None:
        raise NotFoundError(f"no checkpoint in thread {thread_id!r} (namespace {ns!r})")
    return str(newest)


def message_view(message: BaseMessage) -> dict[str, Any]:
    """A message as the chat shows it: role, text parts, images, tool calls, tool result ids."""
    parts: list[dict[str, Any]] = []
    content = message.content
    for block in [content] if isinstance(content, str) else content:
        if isinstance(block, str):
            parts.append({"type": "text", "text": block})
        elif isinstance(block, Mapping):
            parts.append(_block_view(block))
        else:
            parts.append({"type": "json", "value": to_jsonable(block)})
    view: dict[str, Any] = {
        "type": message.type,
        "id": message.id,
        "name": message.name,
        "parts": parts,
    }
    tool_calls = getattr(message, "tool_calls", None)
    if tool_calls:
        view["tool_calls"] = [
            {"id": c.get("id"), "name": c.get("name"), "args": to_jsonable(c.get("args", {}))}
            for c in tool_calls
        ]
    if getattr(message, "tool_call_id", None):
        view["tool_call_id"] = message.tool_call_id  # type: ignore[attr-defined]
        view["status"] = getattr(message, "status", None)
    return view


def _block_view(block: Mapping[str, Any]) -> dict[str, Any]:
    """One content block; an image only when it is an embedded bitmap (never fetched)."""
    kind = block.get("type")
    if kind == "text" and isinstance(block.get("text"), str):
        return {"type": "text", "text": block["text"]}
    url: Any = None
    if kind == "image_url":
        image = block.get("image_url")
        url = image.get("url") if isinstance(image, Mapping) else image
    elif kind == "image":
        data, mime = block.get("base64") or block.get("data"), block.get("mime_type")
        url = f"data:{mime};base64,{data}" if isinstance(data, str) and mime else block.get("url")
    if isinstance(url, str) and _IMAGE_DATA_URL.match(url):
        return {"type": "image", "src": url, "bytes": len(url) * 3 // 4}
    if isinstance(url, str):
        return {"type": "image_link", "url": url}  # shown as text: nothing is fetched
    return {"type": "json", "value": to_jsonable(dict(block))}


def checkpoint_view(
    saver: PersistSaver, thread_id: str, checkpoint_id: str, ns: str = ""
) -> dict[str, Any]:
    """One checkpoint: messages as a chat, other channels as trees, writes, interrupts, metadata."""
    t = get_tuple(saver, thread_id, ns, checkpoint_id)
    values = t.checkpoint["channel_values"]
    chats: dict[str, list[dict[str, Any]]] = {}
    channels: dict[str, Any] = {}
    for channel in sorted(values):
        value = values[channel]
        if is_message_list(value):
            chats[channel] = [message_view(m) for m in value]
        else:
            channels[channel] = to_jsonable(value)
    writes = [
        {"task_id": task, "channel": ch, "value": to_jsonable(v)}
        for task, ch, v in t.pending_writes or ()
    ]
    for w, (_task, _ch, v) in zip(writes, t.pending_writes or (), strict=True):
        if w["channel"] == INTERRUPT:  # LangGraph's Interrupt objects: what the graph asks
            w["questions"] = [
                {"id": getattr(i, "id", None), "value": to_jsonable(getattr(i, "value", i))}
                for i in (v if isinstance(v, (list, tuple)) else [v])
            ]
    return {
        "thread_id": thread_id,
        "checkpoint_ns": ns,
        "checkpoint_id": t.checkpoint["id"],
        "parent_id": _parent_id(t),
        "time": t.checkpoint.get("ts"),
        "metadata": to_jsonable(t.metadata),
        "messages": chats,
        "channels": channels,
        "channel_versions": to_jsonable(t.checkpoint.get("channel_versions", {})),
        "pending_writes": [w for w in writes if w["channel"] != INTERRUPT],
        "interrupts": [w for w in writes if w["channel"] == INTERRUPT],
    }


# -- diff --------------------------------------------------------------------------------------


def _pretty(value: Any) -> list[str]:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str).split("\n")


def diff_view(saver: PersistSaver, thread_id: str, a: str, b: str, ns: str = "") -> dict[str, Any]:
    """Checkpoint A against B: every channel side by side, with what changed and how."""
    ta, tb = get_tuple(saver, thread_id, ns, a), get_tuple(saver, thread_id, ns, b)
    va, vb = ta.checkpoint["channel_values"], tb.checkpoint["channel_values"]
    out = []
    for d in diff_channels(
        va, ta.checkpoint["channel_versions"], vb, tb.checkpoint["channel_versions"]
    ):
        entry = d.as_dict()
        entry["summary"] = d.summary
        before = to_jsonable(va[d.channel]) if d.channel in va else None
        after = to_jsonable(vb[d.channel]) if d.channel in vb else None
        entry["a"], entry["b"] = before, after
        if d.status == "changed" and "messages" not in d.detail:
            entry["value_diff"] = list(
                difflib.unified_diff(_pretty(before), _pretty(after), "a", "b", n=2, lineterm="")
            )[2:]
        messages = d.detail.get("messages")
        whole = va.get(d.channel) if d.status == "removed" else vb.get(d.channel)
        if d.status in ("added", "removed") and is_message_list(whole):
            shown = [message_view(m) for m in whole or ()]
            entry["messages"] = {"added": [], "removed": [], "changed": []}
            entry["messages"][d.status] = shown
        elif isinstance(messages, Mapping):
            for key in ("added", "removed"):
                entry.setdefault("messages", {})[key] = [
                    message_view(m) for m in _messages(va, vb, d.channel, messages[key])
                ]
            entry["messages"]["changed"] = messages["changed"]
        out.append(entry)
    return {
        "thread_id": thread_id,
        "checkpoint_ns": ns,
        "a": {"checkpoint_id": a, "step": ta.metadata.get("step"), "time": ta.checkpoint["ts"]},
        "b": {"checkpoint_id": b, "step": tb.metadata.get("step"), "time": tb.checkpoint["ts"]},
        "changed": [e["channel"] for e in out if e["status"] != "unchanged"],
        "channels": out,
    }


def _messages(
    va: Mapping[str, Any], vb: Mapping[str, Any], channel: str, dumped: Sequence[Any]
) -> list[BaseMessage]:
    """The message objects behind ``diff_channels``' dumped added/removed lists (by id)."""
    ids = {m.get("id") for m in dumped if isinstance(m, Mapping)}
    pool = [*vb.get(channel, []), *va.get(channel, [])]
    seen: set[Any] = set()
    found = []
    for m in pool:
        if isinstance(m, BaseMessage) and m.id in ids and m.id not in seen:
            seen.add(m.id)
            found.append(m)
    return found


# -- health ------------------------------------------------------------------------------------


@dataclass
class HealthCache:
    """The last ``verify`` result: it reads the whole store, so it runs when asked."""

    report: dict[str, Any] | None = None


def health_view(saver: PersistSaver, cache: HealthCache, *, run_verify: bool) -> dict[str, Any]:
    """Verify status (damaged records and their thread), store stats, tier status."""
    if run_verify or cache.report is None:
        report = saver.verify()
        cache.report = {
            "ran_at": datetime.now(timezone.utc).isoformat(),
            "ok": report.ok,
            "records_checked": report.records_checked,
            "blobs_checked": report.blobs_checked,
            "garbage_blobs": report.garbage_blobs,
            "warnings": list(report.warnings),
            "damaged": [
                {
                    "location": d.location,
                    "reason": d.reason,
                    "thread_id": d.thread_id,
                    "checkpoint_ns": d.checkpoint_ns,
                    "checkpoint_id": d.checkpoint_id,
                }
                for d in report.damaged
            ],
        }
    stats = saver.stats(dedup=True)
    on_disk = stats.bytes_on_disk
    dedup = stats.dedup_ratio
    return {
        "verify": cache.report,
        "stats": {
            "threads": stats.threads,
            "checkpoints": stats.checkpoints,
            "write_records": stats.write_records,
            "blobs": stats.blobs,
            "bytes_total": stats.bytes_total,
            "bytes_blobs": stats.bytes_blobs,
            "bytes_on_disk": on_disk,
            "dedup_ratio": dedup,
        },
        "tiers": to_jsonable(stats.tiers),
        "tiered": set(stats.tiers) != {"cold"},
    }
