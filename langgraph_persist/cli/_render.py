"""Decoded checkpoint values as text and JSON, and channel-by-channel differences.

Values reach this module already decoded by the CLI's strict serializer
(``untrusted.py``: nothing unpickled, no type outside the allowlist built);
here they are only *described*. Nothing is evaluated: objects we do not know
are shown by their type and ``repr``.

``printable`` is the one place human output is made safe for a terminal:
thread ids, metadata, snapshot headers and values are data from elsewhere,
and an escape sequence in them must be shown, not executed by the terminal.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from langchain_core.messages import BaseMessage
from pydantic import BaseModel

from langgraph_persist.cli._fold import binary_summary, fold_line, fold_lines, readable


def _escapes() -> dict[int, str]:
    table = {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7F, 0xA0)]}  # C0, DEL, C1
    for c in [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]:
        table[c] = f"\\u{c:04x}"  # bidirectional overrides ("Trojan Source")
    table[0x2028] = "\\u2028"  # line and paragraph separators: line breaks to some terminals
    table[0x2029] = "\\u2029"
    return table


_ESCAPES = _escapes()


def printable(text: str) -> str:
    """``text`` with every control character escaped (``\\x1b``, ``\\u202e``), for terminals.

    Escapes C0 (newlines and tabs included: one value is one line), DEL, C1
    (``\\x9b`` starts an escape sequence on some terminals), bidirectional
    overrides and the Unicode line separators. Everything else, non-ASCII
    text included, is kept. Used for all human output; ``--json`` output is
    JSON's own escaping.
    """
    return text.translate(_ESCAPES)


def to_jsonable(value: Any) -> Any:
    """A JSON-ready copy of a decoded value (messages and models dumped, others described)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (bytes, bytearray)):
        return {"$bytes": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_asdict"):  # NamedTuple
        return {"$type": _qualname(value), **to_jsonable(value._asdict())}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((to_jsonable(v) for v in value), key=repr)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, Decimal)):
        return str(value)
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if isinstance(value, BaseModel):
        try:
            return value.model_dump(mode="json")
        except Exception:  # a model holding something pydantic cannot dump
            return {"$type": _qualname(value), "$repr": repr(value)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"$type": _qualname(value), **fields}
    return {"$type": _qualname(value), "$repr": repr(value)}


def _qualname(value: Any) -> str:
    return f"{type(value).__module__}.{type(value).__qualname__}"


def as_text(value: Any) -> str:
    """One-line form of a value for tables and diffs."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(to_jsonable(value), ensure_ascii=False, default=str)


def is_message_list(value: Any) -> bool:
    return (
        isinstance(value, list) and bool(value) and all(isinstance(m, BaseMessage) for m in value)
    )


def short_text(value: Any, *, full: bool = False) -> str:
    """``as_text`` with binary summarized and long text folded (``_fold.readable``)."""
    if isinstance(value, str):
        return as_text(binary_summary(value) or fold_line(value, full=full))
    return json.dumps(readable(to_jsonable(value), full=full), ensure_ascii=False, default=str)


def text_lines(text: str, *, full: bool = False) -> list[str]:
    """A text as the lines a person reads: binary summarized, long or many lines folded."""
    summary = binary_summary(text)
    if summary is not None:
        return [summary]
    return fold_lines(text.splitlines() or [""], full=full)


def content_lines(content: Any, *, full: bool = False) -> list[str]:
    """A message's content: text as lines; content blocks (images, files) one line each."""
    if isinstance(content, str):
        return text_lines(content, full=full)
    if isinstance(content, list):
        out: list[str] = []
        for block in content:
            if isinstance(block, str):
                out.extend(text_lines(block, full=full))
            elif (
                isinstance(block, Mapping)
                and block.get("type") == "text"
                and isinstance(block.get("text"), str)
            ):
                out.extend(text_lines(block["text"], full=full))
            else:
                out.append(short_text(block, full=full))
        return out or [""]
    return [short_text(content, full=full)]


def message_lines(message: BaseMessage, *, full: bool = False) -> list[str]:
    """``[role] content  tool_calls: ...  (id ...)``, further lines of content indented."""
    lines = content_lines(message.content, full=full)
    role = message.type
    if role == "tool" and getattr(message, "name", None):  # which tool answered
        role = f"tool {message.name}"
    head = f"[{role}] {lines[0]}"
    tool_calls = getattr(message, "tool_calls", None)
    if tool_calls:
        calls = ", ".join(
            f"{c['name']}({short_text(c.get('args', {}), full=full)})" for c in tool_calls
        )
        head += f"  tool_calls: {calls}"
    if message.id:
        head += f"  (id {message.id})"
    indent = " " * (len(role) + 3)
    return [head, *(indent + line for line in lines[1:])]


def message_line(message: BaseMessage, *, full: bool = False) -> str:
    """One line per message (diffs): the first line of ``message_lines`` and how many follow."""
    more = len(content_lines(message.content, full=True)) - 1
    return message_lines(message, full=full)[0] + (f"  (+{more} lines)" if more else "")


ONE_LINE = 100
"""Values whose JSON is longer than this are pretty-printed over several lines."""


def value_lines(value: Any, *, full: bool = False) -> list[str]:
    """Human lines for a channel value: messages as a chat, text as lines, pretty JSON."""
    if is_message_list(value):
        return [line for m in value for line in message_lines(m, full=full)]
    if isinstance(value, str) and "\n" in value.strip("\n"):
        return text_lines(value, full=full)
    if isinstance(value, str):
        return [short_text(value, full=full)]
    shown = readable(to_jsonable(value), full=full)
    line = json.dumps(shown, ensure_ascii=False, default=str)
    if len(line) > ONE_LINE and isinstance(value, (dict, list, tuple)):
        return json.dumps(shown, ensure_ascii=False, indent=2, default=str).split("\n")
    return [line]


def unwrap_seed(seed: Any) -> Any:
    """A DeltaChannel seed may be LangGraph's ``_DeltaSnapshot(value)``: show the value."""
    if type(seed).__name__ == "_DeltaSnapshot" and hasattr(seed, "value"):
        return seed.value
    return seed


def short_version(version: Any) -> str:
    """``00000000000000000000000000000003.0.52`` -> ``3``: LangGraph's counters, readable."""
    if isinstance(version, str) and "." in version and version.split(".")[0].isdigit():
        return str(int(version.split(".")[0]))
    return str(version)


# -- diff --------------------------------------------------------------------------------------

Status = Literal["added", "removed", "changed", "unchanged"]


@dataclass
class ChannelDiff:
    channel: str
    status: Status
    version_a: Any = None
    version_b: Any = None
    summary: str = ""
    lines: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "status": self.status,
            "version_a": self.version_a,
            "version_b": self.version_b,
            **self.detail,
        }


_MISSING = object()


def diff_channels(
    values_a: Mapping[str, Any],
    versions_a: Mapping[str, Any],
    values_b: Mapping[str, Any],
    versions_b: Mapping[str, Any],
    *,
    full: bool = False,
) -> list[ChannelDiff]:
    """Channel-by-channel differences from checkpoint A to checkpoint B, sorted by channel.

    ``lines`` and ``summary`` (human output) fold long values unless ``full``;
    ``detail`` (``--json``) is exact.
    """
    out = []
    for channel in sorted({*values_a, *values_b}):
        a = values_a.get(channel, _MISSING)
        b = values_b.get(channel, _MISSING)
        d = ChannelDiff(channel, "unchanged", versions_a.get(channel), versions_b.get(channel))
        if a is _MISSING:
            d.status, d.lines, d.detail = (
                "added",
                value_lines(b, full=full),
                {"after": to_jsonable(b)},
            )
        elif b is _MISSING:
            d.status, d.detail = "removed", {"before": to_jsonable(a)}
        elif a != b:
            d.status = "changed"
            _describe_change(d, a, b, full)
        out.append(d)
    return out


def _describe_change(d: ChannelDiff, a: Any, b: Any, full: bool) -> None:
    if isinstance(a, list) and isinstance(b, list) and (is_message_list(a) or is_message_list(b)):
        _diff_messages(d, a, b, full)
    elif isinstance(a, list) and isinstance(b, list) and b[: len(a)] == a:
        appended = b[len(a) :]
        d.summary = f"{len(appended)} item(s) appended"
        d.lines = [f"+ {short_text(v, full=full)}" for v in appended]
        d.detail = {"appended": to_jsonable(appended)}
    elif isinstance(a, list) and isinstance(b, list) and a[: len(b)] == b:
        gone = a[len(b) :]
        d.summary = f"{len(gone)} item(s) removed from the end"
        d.lines = [f"- {short_text(v, full=full)}" for v in gone]
        d.detail = {"removed_tail": to_jsonable(gone)}
    elif isinstance(a, dict) and isinstance(b, dict):
        added = {k: b[k] for k in b if k not in a}
        removed = [k for k in a if k not in b]
        changed = {k: (a[k], b[k]) for k in a if k in b and a[k] != b[k]}
        d.summary = f"{len(added)} key(s) added, {len(removed)} removed, {len(changed)} changed"
        d.lines = (
            [f"+ {k}: {short_text(v, full=full)}" for k, v in added.items()]
            + [f"- {k}" for k in removed]
            + [
                f"~ {k}: {short_text(x, full=full)} -> {short_text(y, full=full)}"
                for k, (x, y) in changed.items()
            ]
        )
        d.detail = {
            "added_keys": to_jsonable(added),
            "removed_keys": [str(k) for k in removed],
            "changed_keys": {
                str(k): {"before": to_jsonable(x), "after": to_jsonable(y)}
                for k, (x, y) in changed.items()
            },
        }
    else:
        d.summary = f"{short_text(a, full=full)} -> {short_text(b, full=full)}"
        d.detail = {"before": to_jsonable(a), "after": to_jsonable(b)}


def _key(message: Any, position: int, by_id: bool) -> Any:
    return message.id if by_id else position


def _diff_messages(d: ChannelDiff, a: Sequence[Any], b: Sequence[Any], full: bool) -> None:
    """Match messages by id (LangGraph's ``add_messages`` does), else by position."""
    by_id = all(isinstance(m, BaseMessage) and m.id for m in [*a, *b])
    old = {_key(m, i, by_id): m for i, m in enumerate(a)}
    new = {_key(m, i, by_id): m for i, m in enumerate(b)}
    added = [m for k, m in new.items() if k not in old]
    removed = [m for k, m in old.items() if k not in new]
    changed = [(old[k], m) for k, m in new.items() if k in old and old[k] != m]

    def line(m: Any) -> str:
        return (
            message_line(m, full=full) if isinstance(m, BaseMessage) else short_text(m, full=full)
        )

    d.summary = f"{len(added)} message(s) added, {len(removed)} removed, {len(changed)} changed"
    d.lines = (
        [f"+ {line(m)}" for m in added]
        + [f"- {line(m)}" for m in removed]
        + [f"~ {line(x)}  ->  {line(y)}" for x, y in changed]
    )
    d.detail = {
        "messages": {
            "added": to_jsonable(added),
            "removed": to_jsonable(removed),
            "changed": [{"before": to_jsonable(x), "after": to_jsonable(y)} for x, y in changed],
        }
    }


def human_bytes(n: int) -> str:
    """A byte count for people (``12.3 KiB``): the CLI's tables and the web UI."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover
