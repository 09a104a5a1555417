"""Reading commands: ``threads``, ``history``, ``show``, ``diff``.

``threads`` costs the same whatever a thread's history (``saver.thread_info``:
counts in place, one seek for the newest checkpoint, one record decoded); the
others decode checkpoints through a saver whose serializer is the strict one
of ``untrusted.py`` (LangGraph's strict-mode types plus ``--allow-type``;
never pickle): a refused value is shown as its raw arguments, with a warning.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import click
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple, DeltaChannelHistory

from langgraph_persist.admin import ThreadInfo, checkpoint_time
from langgraph_persist.cli._common import (
    BadUsage,
    Damaged,
    ProgressBar,
    allow_type_option,
    cli,
    echo,
    echo_json,
    full_option,
    human_time,
    iso,
    json_option,
    open_store,
    print_rich,
    settings,
    store_option,
    store_shown,
    table,
)
from langgraph_persist.cli._render import (
    diff_channels,
    human_bytes,
    is_message_list,
    short_text,
    short_version,
    to_jsonable,
    unwrap_seed,
    value_lines,
)
from langgraph_persist.cli._tree import fork_tree
from langgraph_persist.errors import CorruptRecordError, NotFoundError
from langgraph_persist.saver import PersistSaver

ns_option = click.option(
    "--ns",
    "namespace",
    metavar="NS",
    default=None,
    help="Checkpoint namespace (subgraphs); default: the root namespace, or all for history.",
)


def _config(thread_id: str, ns: str, checkpoint_id: str | None = None) -> RunnableConfig:
    configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ns}
    if checkpoint_id:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


def thread_exists(saver: PersistSaver, thread_id: str) -> bool:
    return bool(saver.namespaces(thread_id))


def require_thread(saver: PersistSaver, thread_id: str) -> list[str]:
    """The thread's namespaces (``""`` is the root); ``NotFoundError`` when it has none."""
    namespaces = saver.namespaces(thread_id)
    if not namespaces:
        raise NotFoundError(f"no thread {thread_id!r} in the store {store_shown()}")
    return namespaces


def require_namespace(thread_id: str, namespaces: Sequence[str], namespace: str | None) -> None:
    """``--ns`` names one of the thread's namespaces, or every command exits 3 alike."""
    if namespace is not None and namespace not in namespaces:
        raise NotFoundError(f"thread {thread_id!r} has no namespace {namespace!r}")


def resolve_checkpoint(
    saver: PersistSaver, thread_id: str, namespace: str | None, ref: str | None
) -> tuple[str, str]:
    """(namespace, checkpoint id) for a user's reference: ``latest``, an id or a unique prefix.

    Without ``--ns``, ``latest`` means the root namespace and an id is looked
    up in every namespace, so ids copied from ``history`` just work.
    """
    namespaces = require_thread(saver, thread_id)
    require_namespace(thread_id, namespaces, namespace)
    if namespace is not None:
        namespaces = [namespace]
    elif ref in (None, "latest"):
        namespaces = [ns for ns in namespaces if ns == ""]
    if not namespaces:
        raise NotFoundError(f"thread {thread_id!r} has no namespace {namespace or ''!r}")
    candidates: list[tuple[str, str]] = []
    for ns in namespaces:
        ids = saver.checkpoint_ids(thread_id, checkpoint_ns=ns)  # newest first, lazily
        if ref in (None, "latest"):
            newest = next(iter(ids), None)
            if newest is not None:
                candidates.append((ns, newest))
            continue
        for cid in ids:
            if cid == ref:
                return ns, cid
            if ref and cid.startswith(ref):
                candidates.append((ns, cid))
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise NotFoundError(f"no checkpoint {ref or 'latest'!r} in thread {thread_id!r}")
    raise BadUsage(f"{ref!r} matches {len(candidates)} checkpoints; give more of the id")


def _get(saver: PersistSaver, thread_id: str, ns: str, checkpoint_id: str) -> CheckpointTuple:
    """The checkpoint's tuple; a damaged one exits 5 saying where the good ones are."""
    try:
        t = saver.get_tuple(_config(thread_id, ns, checkpoint_id))
    except CorruptRecordError as exc:
        raise Damaged(
            f"{exc}; `langgraph-persist history {thread_id}` lists the checkpoints that "
            f"still read, `langgraph-persist drop {thread_id} {checkpoint_id}` removes this one"
        ) from exc
    if t is None:
        raise NotFoundError(f"checkpoint {checkpoint_id} of thread {thread_id!r} is gone")
    return t


def _parse_filters(filters: Sequence[str]) -> dict[str, Any]:
    """``key=value``; the value is JSON when it parses (``step=3`` is the int 3), else a string."""
    out: dict[str, Any] = {}
    for item in filters:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--filter")
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out


# -- threads -----------------------------------------------------------------------------------


@cli.command()
@store_option
@click.option(
    "--filter",
    "filters",
    multiple=True,
    metavar="KEY=VALUE",
    help="Only threads whose latest root checkpoint has this metadata (repeatable).",
)
@click.option(
    "--sort",
    type=click.Choice(["thread", "updated", "checkpoints", "bytes"]),
    default="thread",
    show_default=True,
    help="Sort key; updated/checkpoints/bytes list the newest or biggest first.",
)
@click.option("--reverse", is_flag=True, help="Reverse the order.")
@click.option("--limit", type=click.IntRange(min=1), help="Show at most this many threads.")
@allow_type_option
@full_option
@json_option
def threads(
    filters: tuple[str, ...],
    sort: str,
    reverse: bool,
    limit: int | None,
    allowed_types: tuple[str, ...],
    as_json: bool,
) -> None:
    """List threads with their last update, checkpoint count and size.

    Cheap on big stores: counts come from directory listings and the time
    from the newest checkpoint id; no checkpoint is decoded (--filter reads
    the metadata of each thread's latest root checkpoint, never its values).
    BYTES counts the thread's own records; content shared between
    checkpoints and threads is counted once, in `stats`.

    \b
    Example:
        langgraph-persist threads --sort updated --limit 10
        langgraph-persist threads --filter source=loop --filter step=3 --json
    """
    wanted = _parse_filters(filters)
    with (
        open_store(read_only=True, allowed_types=allowed_types) as saver,
        ProgressBar("scanning threads") as progress,
    ):
        ids = saver.threads()
        summaries = []
        for done, thread_id in enumerate(ids, 1):
            progress(done, len(ids))
            try:
                info = saver.thread_info(thread_id)
            except NotFoundError:  # deleted while listing, or a stray tree of empty folders
                continue
            if not info.checkpoints:
                continue
            metadata = info.latest_metadata
            if wanted and not all(metadata.get(k, object()) == v for k, v in wanted.items()):
                continue
            summaries.append(info)
    order: dict[str, tuple[Callable[[ThreadInfo], Any], bool]] = {
        "thread": (lambda s: s.thread_id, False),
        "updated": (lambda s: s.latest_time.timestamp() if s.latest_time else 0.0, True),
        "checkpoints": (lambda s: s.checkpoints, True),
        "bytes": (lambda s: s.stored_bytes, True),
    }
    key, descending = order[sort]
    summaries.sort(key=key, reverse=descending != reverse)
    summaries = summaries[:limit] if limit else summaries
    if as_json:
        echo_json(
            [
                {
                    "thread_id": s.thread_id,
                    "last_update": iso(s.latest_time),
                    "checkpoints": s.checkpoints,
                    "namespaces": len(s.namespaces),
                    "bytes": s.stored_bytes,
                    "latest_checkpoint_id": s.latest_checkpoint_id,
                }
                for s in summaries
            ]
        )
        return
    table(
        ["THREAD", "UPDATED", "CHECKPOINTS", "NAMESPACES", "BYTES"],
        [
            (
                s.thread_id,
                human_time(s.latest_time),
                s.checkpoints,
                len(s.namespaces),
                human_bytes(s.stored_bytes),
            )
            for s in summaries
        ],
        right=(2, 3, 4),
    )


# -- history -----------------------------------------------------------------------------------


@cli.command()
@store_option
@click.argument("thread_id", metavar="THREAD")
@ns_option
@click.option("--limit", type=click.IntRange(min=1), help="Show at most this many checkpoints.")
@click.option(
    "--tree", is_flag=True, help="Draw checkpoints by their parent links: forks as branches."
)
@allow_type_option
@full_option
@json_option
def history(
    thread_id: str,
    namespace: str | None,
    limit: int | None,
    tree: bool,
    allowed_types: tuple[str, ...],
    as_json: bool,
) -> None:
    """A thread's checkpoints, newest first.

    Columns: checkpoint id, namespace (when the thread has subgraphs),
    creation time, step, source, parent id, run id, pending writes, and the
    bytes of the checkpoint's record plus its write records. --tree draws
    them oldest first by their parent links instead, so a fork (a run
    resumed from an older checkpoint) shows as a branch.

    \b
    Example:
        langgraph-persist history user-42 --limit 5
        langgraph-persist history user-42 --tree
        langgraph-persist history user-42 --ns "child:1f0..." --json
    """
    with open_store(read_only=True, allowed_types=allowed_types) as saver:
        namespaces = require_thread(saver, thread_id)
        require_namespace(thread_id, namespaces, namespace)
        sizes = saver.record_sizes(thread_id)
        rows = []
        # history(), not list(): one damaged checkpoint is marked, the rest still listed
        for entry in saver.history(thread_id, checkpoint_ns=namespace, limit=limit):
            conf = entry.config["configurable"]
            ns, cid = conf.get("checkpoint_ns", ""), conf["checkpoint_id"]
            row: dict[str, Any] = {
                "checkpoint_id": cid,
                "checkpoint_ns": ns,
                "created": iso(checkpoint_time(cid)),
                "bytes": sizes.get((ns, cid), 0),
            }
            t = entry.tuple
            if t is None:
                row.update(step=None, source=None, parent_id=None, run_id=None)
                row.update(pending_writes=None, damaged=str(entry.error))
            else:
                parent = (t.parent_config or {}).get("configurable", {}).get("checkpoint_id")
                row.update(
                    created=t.checkpoint.get("ts") or row["created"],
                    step=t.metadata.get("step"),
                    source=t.metadata.get("source"),
                    parent_id=parent,
                    run_id=t.metadata.get("run_id"),
                    pending_writes=len(t.pending_writes or ()),
                )
            rows.append(row)
    if as_json:
        echo_json(rows)
        return
    if tree:
        print_rich(fork_tree(f"thread {thread_id}", rows, _tree_label))
        _warn_damaged(thread_id, rows)
        return
    with_ns = len(namespaces) > 1 and namespace is None
    headers = [
        "CHECKPOINT",
        *(["NS"] if with_ns else []),
        "CREATED",
        "STEP",
        "SOURCE",
        "PARENT",
        "RUN",
        "WRITES",
        "BYTES",
    ]
    table(
        headers,
        [
            (
                r["checkpoint_id"],
                *([r["checkpoint_ns"] or "(root)"] if with_ns else []),
                human_time(checkpoint_time(r["checkpoint_id"])),
                r["step"],
                "DAMAGED" if "damaged" in r else r["source"],
                r["parent_id"],
                r["run_id"],
                r["pending_writes"],
                human_bytes(r["bytes"]),
            )
            for r in rows
        ],
        right=tuple(i + (1 if with_ns else 0) for i in (2, 6, 7)),
    )
    _warn_damaged(thread_id, rows)


def _warn_damaged(thread_id: str, rows: Sequence[dict[str, Any]]) -> None:
    damaged = [r for r in rows if "damaged" in r]
    if damaged:
        echo(
            f"{len(damaged)} damaged checkpoint(s); remove one with "
            f"`langgraph-persist drop {thread_id} CHECKPOINT`",
            err=True,
        )


def _tree_label(row: Mapping[str, Any]) -> str:
    when = human_time(checkpoint_time(row["checkpoint_id"]))
    if "damaged" in row:
        return f"{row['checkpoint_id']}  DAMAGED ({row['damaged']})"
    writes = f"  {row['pending_writes']} write(s)" if row["pending_writes"] else ""
    return f"{row['checkpoint_id']}  step {row['step']}  {row['source']}  {when}{writes}"


def _delta_histories(
    saver: PersistSaver, config: RunnableConfig, t: CheckpointTuple, only: Sequence[str]
) -> dict[str, DeltaChannelHistory]:
    """DeltaChannel values are not stored per checkpoint: they are a seed plus ancestor writes.

    Folding them needs the graph's reducer, which the CLI does not have, so
    the pieces are shown as the saver returns them to LangGraph.
    """
    counters = t.metadata.get("counters_since_delta_snapshot") or {}
    missing = [
        ch
        for ch in sorted(counters)
        if ch not in t.checkpoint["channel_values"]
        and ch in t.checkpoint["channel_versions"]
        and (not only or ch in only)
    ]
    if not missing:
        return {}
    return dict(saver.get_delta_channel_history(config=config, channels=missing))


# -- show --------------------------------------------------------------------------------------


@cli.command()
@store_option
@click.argument("thread_id", metavar="THREAD")
@click.argument("checkpoint", required=False, metavar="[CHECKPOINT]")
@ns_option
@click.option("--channel", "channels", multiple=True, help="Only these channels (repeatable).")
@allow_type_option
@full_option
@json_option
def show(
    thread_id: str,
    checkpoint: str | None,
    namespace: str | None,
    channels: tuple[str, ...],
    allowed_types: tuple[str, ...],
    as_json: bool,
) -> None:
    """The decoded state of a checkpoint (default: the thread's latest).

    CHECKPOINT is an id, a unique prefix of one, or `latest`. Values are
    decoded strictly: LangGraph's safe types plus --allow-type; a value of
    any other type is shown as its raw arguments, with a warning, and
    nothing it names is run. Pickle is never used. Messages are printed as
    a chat, one per line; text longer than 300 characters or 8 lines is
    folded (--full shows it whole) and binary or base64 content (images) is
    summarized, e.g. <image/png base64, 12.3 KiB> (--json has the bytes).

    \b
    Example:
        langgraph-persist show user-42
        langgraph-persist show user-42 1f0c2a9e-6d3b-6f5e-8002 --channel messages --json
    """
    with open_store(read_only=True, allowed_types=allowed_types) as saver:
        ns, cid = resolve_checkpoint(saver, thread_id, namespace, checkpoint)
        t = _get(saver, thread_id, ns, cid)
        deltas = _delta_histories(saver, _config(thread_id, ns, cid), t, channels)
    values = t.checkpoint["channel_values"]
    versions = t.checkpoint["channel_versions"]
    if channels:
        unknown = sorted(set(channels) - set(values) - set(versions))
        if unknown:
            raise NotFoundError(f"no channel {unknown[0]!r} in checkpoint {cid}")
    shown = [c for c in sorted(values) if not channels or c in channels]
    parent = (t.parent_config or {}).get("configurable", {}).get("checkpoint_id")
    writes = t.pending_writes or ()
    if as_json:
        echo_json(
            {
                "thread_id": thread_id,
                "checkpoint_ns": ns,
                "checkpoint_id": cid,
                "parent_id": parent,
                "ts": t.checkpoint.get("ts"),
                "metadata": to_jsonable(t.metadata),
                "channel_versions": {c: versions.get(c) for c in [*shown, *deltas]},
                "values": {c: to_jsonable(values[c]) for c in shown},
                "delta_channels": {
                    c: {
                        "seed": to_jsonable(unwrap_seed(h.get("seed"))),
                        "writes": [to_jsonable(w[2]) for w in h["writes"]],
                    }
                    for c, h in deltas.items()
                },
                "pending_writes": [
                    {"task_id": task, "channel": ch, "value": to_jsonable(v)}
                    for task, ch, v in writes
                ],
            }
        )
        return
    meta, full = t.metadata, settings().full
    echo(f"thread      {thread_id}")
    echo(f"checkpoint  {cid}" + (f"  (namespace {ns})" if ns else ""))
    echo(f"parent      {parent or '-'}")
    echo(
        f"created     {t.checkpoint.get('ts', '-')}   step {meta.get('step')}   "
        f"source {meta.get('source')}"
    )
    if meta.get("run_id"):
        echo(f"run         {meta['run_id']}")
    echo(f"channels ({len(shown) + len(deltas)}):")
    for channel in shown:
        value = values[channel]
        note = f"  ({len(value)} messages)" if is_message_list(value) else ""
        echo(f"  {channel}  v{short_version(versions.get(channel))}{note}")
        for line in value_lines(value, full=full):
            echo(f"    {line}")
    for channel, h in deltas.items():
        echo(
            f"  {channel}  v{short_version(versions.get(channel))}  (delta channel: "
            f"seed + {len(h['writes'])} write(s) replayed by the graph's reducer)"
        )
        echo(f"    seed: {short_text(unwrap_seed(h.get('seed')), full=full)}")
        for w in h["writes"]:
            echo(f"    + {short_text(w[2], full=full)}")
    if writes:
        echo(f"pending writes ({len(writes)}):")
        for task, ch, v in writes:
            echo(f"  {ch} = {short_text(v, full=full)}  (task {task})")


# -- diff --------------------------------------------------------------------------------------


@cli.command()
@store_option
@click.argument("thread_id", metavar="THREAD")
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
@ns_option
@click.option("--all", "show_all", is_flag=True, help="Also list unchanged channels.")
@allow_type_option
@full_option
@json_option
def diff(
    thread_id: str,
    a: str,
    b: str,
    namespace: str | None,
    show_all: bool,
    allowed_types: tuple[str, ...],
    as_json: bool,
) -> None:
    """Channel-by-channel differences from checkpoint A to checkpoint B.

    A and B are ids, unique prefixes or `latest`. Message lists are compared
    by message id (as LangGraph's add_messages does): messages added,
    removed and changed. Lists that grew show the appended items; dicts show
    keys added, removed and changed; other values show before -> after.

    \b
    Example:
        langgraph-persist diff user-42 1f0c2a9e-6d3b-6f5e-8001 latest
        langgraph-persist diff user-42 1f0c2a9e-6d3b 1f0c2a9e-7a10 --json
    """
    with open_store(read_only=True, allowed_types=allowed_types) as saver:
        ns_a, id_a = resolve_checkpoint(saver, thread_id, namespace, a)
        ns_b, id_b = resolve_checkpoint(saver, thread_id, namespace, b)
        ta, tb = _get(saver, thread_id, ns_a, id_a), _get(saver, thread_id, ns_b, id_b)
    diffs = diff_channels(
        ta.checkpoint["channel_values"],
        ta.checkpoint["channel_versions"],
        tb.checkpoint["channel_values"],
        tb.checkpoint["channel_versions"],
        full=settings().full,
    )
    if as_json:
        echo_json(
            {
                "thread_id": thread_id,
                "a": {
                    "checkpoint_id": id_a,
                    "checkpoint_ns": ns_a,
                    "step": ta.metadata.get("step"),
                },
                "b": {
                    "checkpoint_id": id_b,
                    "checkpoint_ns": ns_b,
                    "step": tb.metadata.get("step"),
                },
                "channels": [d.as_dict() for d in diffs if show_all or d.status != "unchanged"],
            }
        )
        return
    echo(f"--- {id_a}  step {ta.metadata.get('step')}  {ta.metadata.get('source')}")
    echo(f"+++ {id_b}  step {tb.metadata.get('step')}  {tb.metadata.get('source')}")
    marks = {"added": "+", "removed": "-", "changed": "~", "unchanged": "="}
    unchanged = [d.channel for d in diffs if d.status == "unchanged"]
    for d in diffs:
        if d.status == "unchanged" and not show_all:
            continue
        versions = f"v{short_version(d.version_a)} -> v{short_version(d.version_b)}"
        if d.status == "added":
            versions = f"v{short_version(d.version_b)}"
        elif d.status in ("removed", "unchanged"):
            versions = f"v{short_version(d.version_a)}"
        summary = f": {d.summary}" if d.summary else ""
        echo(f"{marks[d.status]} {d.channel}  {versions}{summary}")
        for line in d.lines:
            echo(f"    {line}")
    if not show_all:
        if unchanged:
            echo(f"= {len(unchanged)} unchanged: {', '.join(unchanged)}")
        if len(unchanged) == len(diffs):
            echo("(no differences)")
