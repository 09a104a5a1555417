"""Whole-store commands: ``verify``, ``gc``, ``stats``, ``prune``, ``upgrade``,
``backup``, ``restore``.

Each is one library call (``PersistSaver.verify/gc/stats/backup/restore``,
``retention.plan_retention/apply_retention``, ``upgrade.upgrade``) with a
progress bar on stderr and a report on stdout.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from typing import Any

import click

from langgraph_persist.cli._common import (
    ENV_STORE,
    DamageFound,
    NotFound,
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
    require_path,
    settings,
    store_has_hot_tier,
    store_option,
    table,
)
from langgraph_persist.cli._render import human_bytes
from langgraph_persist.retention import RetentionPlan, apply_retention, plan_retention
from langgraph_persist.upgrade import upgrade as run_upgrade

# -- verify ------------------------------------------------------------------------------------


@cli.command()
@store_option
@click.option(
    "--repair", is_flag=True, help="Restore damaged records from another tier where one verifies."
)
@json_option
def verify(repair: bool, as_json: bool) -> None:
    """Check every record's digest and every reference in the store.

    Exits 1 when damage remains (after --repair: what could not be
    repaired), so it can gate a backup or a deploy. Damage is reported,
    never deleted.

    \b
    Example:
        langgraph-persist verify
        langgraph-persist verify --repair --json
    """
    with open_store(read_only=not repair) as saver, ProgressBar("verifying") as progress:
        report = saver.verify(repair=repair, progress=progress)
    has_other_copy = store_has_hot_tier()
    remaining = [d for d in report.damaged if not d.repaired]
    if as_json:
        echo_json(
            {
                "ok": report.ok,
                "records_checked": report.records_checked,
                "blobs_checked": report.blobs_checked,
                "garbage_blobs": report.garbage_blobs,
                "damaged": [d.__dict__ for d in report.damaged],
                "warnings": report.warnings,
            }
        )
    else:
        echo(
            f"checked {report.records_checked} records and {report.blobs_checked} blobs: "
            + ("no damage found" if not report.damaged else f"{len(report.damaged)} damaged")
        )
        if report.garbage_blobs:
            click.echo(f"  {report.garbage_blobs} unreferenced blob(s): `gc` reclaims them")
        for warning in report.warnings:
            click.echo(f"  warning  {warning}")
        for d in report.damaged:
            where = ", ".join(
                f"{k}={v}"
                for k, v in (
                    ("thread", d.thread_id),
                    ("namespace", d.checkpoint_ns),
                    ("checkpoint", d.checkpoint_id),
                )
                if v
            )
            state = "repaired" if d.repaired else "DAMAGED"
            echo(f"  {state}  {d.location}: {d.reason}" + (f" ({where})" if where else ""))
    if remaining:
        if repair:
            hint = ""
        elif has_other_copy:
            hint = "; try `verify --repair`"
        else:
            hint = "; this store holds no other copy: restore a backup, or delete what is damaged"
        raise DamageFound(f"{len(remaining)} damaged record(s) remain{hint}")


# -- gc ----------------------------------------------------------------------------------------


@cli.command()
@store_option
@json_option
def gc(as_json: bool) -> None:
    """Delete content (blobs) that no checkpoint references any more.

    Run it after `prune` or after deleting threads. Safe while graphs keep
    running: writers and the collector coordinate through the store's
    maintenance lock.

    \b
    Example:
        langgraph-persist gc
    """
    with open_store() as saver, ProgressBar("collecting") as progress:
        report = saver.gc(progress=progress)
    if as_json:
        echo_json(report.__dict__)
        return
    echo(
        f"checked {report.blobs_checked} blobs, deleted {report.blobs_deleted}, "
        f"freed {human_bytes(report.bytes_freed)}"
    )


# -- stats -------------------------------------------------------------------------------------


def _flatten(prefix: str, value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        out = []
        for k, v in value.items():
            out.extend(_flatten(f"{prefix}.{k}" if prefix else str(k), v))
        return out
    return [(prefix, value)]


@cli.command()
@store_option
@json_option
@click.option(
    "--dedup", is_flag=True, help="Also measure what content sharing saves (reads every record)."
)
def stats(as_json: bool, dedup: bool) -> None:
    """Counts and sizes of what is stored, per tier (hot-tier hit rate when there is one).

    "total size" counts the records' bytes; "on disk" is what the store
    takes on the local disk (database, write-ahead log, file system blocks).
    Pass --redis to see the hot tier. Its hit and miss counters are those of
    the process asking (this command), not of the agents. --dedup adds the
    dedup ratio: content bytes the checkpoints reference, counted once per
    reference, over the content bytes stored.

    \b
    Example:
        langgraph-persist stats --json
    """
    with open_store(read_only=True) as saver:
        s = saver.stats(dedup=dedup)
    if as_json:
        echo_json(s.__dict__)
        return
    rows: list[tuple[str, Any]] = [
        ("threads", s.threads),
        ("checkpoints", s.checkpoints),
        ("write records", s.write_records),
        ("blobs", f"{s.blobs} ({human_bytes(s.bytes_blobs)})"),
        ("total size", human_bytes(s.bytes_total)),
        (
            "on disk",
            "- (not on a local disk)" if s.bytes_on_disk is None else human_bytes(s.bytes_on_disk),
        ),
    ]
    if s.dedup_ratio is not None:
        rows.append(("dedup ratio", f"{s.dedup_ratio:.2f}x"))
    rows += [(f"tier {k}", v) for k, v in _flatten("", s.tiers)]
    hits, misses = s.tiers.get("hits"), s.tiers.get("misses")
    if isinstance(hits, int) and isinstance(misses, int) and hits + misses:
        rows.append(("hot hit rate", f"{hits / (hits + misses):.1%} (this process)"))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        echo(f"{k.ljust(width)}  {v}")


# -- prune -------------------------------------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(w|d|h|m|s)")
_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> timedelta:
    """``30d``, ``12h``, ``1w2d``, ``90m``, ``45s``: weeks, days, hours, minutes, seconds."""
    compact = text.strip().lower()
    parts = list(_DURATION.finditer(compact))
    if not parts or "".join(p.group(0) for p in parts).replace(" ", "") != compact.replace(" ", ""):
        raise ValueError(f"{text!r} is not a duration like 30d, 12h, 1w2d, 90m")
    return timedelta(seconds=sum(float(p.group(1)) * _UNITS[p.group(2)] for p in parts))


class Duration(click.ParamType):  # type: ignore[type-arg]  # generic in newer click only
    name = "DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, timedelta):
            return value
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def _plan_json(plan: RetentionPlan) -> list[dict[str, Any]]:
    return [
        {
            "thread_id": p.thread_id,
            "action": p.action,
            "last_update": iso(p.last_update),
            "checkpoints": p.checkpoints,
            "dropped": p.dropped,
            "drop": [{"checkpoint_ns": ns, "checkpoint_id": c} for ns, c in p.drop],
            "kept_for_delta": [
                {"checkpoint_ns": ns, "checkpoint_id": c} for ns, c in p.kept_for_delta
            ],
        }
        for p in plan.threads
    ]


@cli.command()
@store_option
@click.option(
    "--keep-last",
    type=click.IntRange(min=1),
    metavar="N",
    help="Keep the newest N checkpoints in each namespace of each thread.",
)
@click.option(
    "--idle-longer-than",
    "idle",
    type=Duration(),
    help="Delete whole threads whose newest checkpoint is older than this (30d, 12h, 1w2d).",
)
@click.option("--thread", "only", multiple=True, metavar="THREAD", help="Only these threads.")
@click.option("--dry-run", is_flag=True, help="Only list what would be dropped.")
@allow_type_option
@full_option
@json_option
def prune(
    keep_last: int | None,
    idle: timedelta | None,
    only: tuple[str, ...],
    dry_run: bool,
    allowed_types: tuple[str, ...],
    as_json: bool,
) -> None:
    """Apply retention: trim old checkpoints, delete idle threads.

    Safe for DeltaChannel graphs: the ancestors a kept checkpoint's delta
    channels are rebuilt from are kept too (shown as "kept for delta").
    Changes made between planning and deleting are re-checked: a thread
    that became active again is left alone. Run `gc` afterwards to reclaim
    the content only the dropped checkpoints used.

    \b
    Example:
        langgraph-persist prune --keep-last 20 --dry-run
        langgraph-persist prune --idle-longer-than 30d --keep-last 50
    """
    if keep_last is None and idle is None:
        raise click.UsageError("give --keep-last, --idle-longer-than or both")
    with open_store(allowed_types=allowed_types) as saver:
        with ProgressBar("planning") as progress:
            plan = plan_retention(
                saver, keep_last, idle, threads=list(only) or None, progress=progress
            )
        result = None
        if not dry_run and plan.threads:
            with ProgressBar("pruning") as progress:
                result = apply_retention(saver, plan, progress=progress)
    deleted = result.threads_deleted if result else len(plan.threads_to_delete)
    dropped = result.checkpoints_dropped if result else plan.checkpoints_to_drop
    skipped = list(result.skipped) if result else []
    if as_json:
        echo_json(
            {
                "dry_run": dry_run,
                "keep_last": keep_last,
                "idle_longer_than_seconds": idle.total_seconds() if idle else None,
                "threads": _plan_json(plan),
                "threads_deleted": deleted,
                "checkpoints_dropped": dropped,
                "skipped": skipped,
            }
        )
        return
    verb = "would " if dry_run else ""
    table(
        ["ACTION", "THREAD", "LAST UPDATE", "DROPPED", "OF", "KEPT FOR DELTA"],
        [
            (
                f"{verb}{p.action}",
                p.thread_id,
                human_time(p.last_update),
                p.dropped,
                p.checkpoints,
                len(p.kept_for_delta),
            )
            for p in plan.threads
        ],
        right=(3, 4, 5),
    )
    echo(
        f"{'would drop' if dry_run else 'dropped'} {dropped} checkpoint(s); "
        f"{'would delete' if dry_run else 'deleted'} {deleted} thread(s)"
    )
    if skipped:
        echo(f"left alone (changed since planning): {', '.join(skipped)}")
    if not dry_run and dropped:
        echo("run `langgraph-persist gc` to reclaim the content they alone used")


# -- upgrade, backup, restore -------------------------------------------------------------------


@cli.command()
@store_option
@json_option
def upgrade(as_json: bool) -> None:
    """Convert a store written by langgraph-persist 0.1 (one file per record) to SQLite.

    Stop the processes that write the store first. Every record is copied
    unchanged, compared byte for byte and checked before the store switches
    layout in one atomic step; it can be interrupted and run again.

    \b
    Example:
        langgraph-persist upgrade --store ./checkpoints
    """
    path = settings().store
    if not os.path.isdir(path):
        raise NotFound(f"no store at {path} (pass --store PATH or set {ENV_STORE})")
    with ProgressBar("upgrading") as progress:
        report = run_upgrade(path, progress=progress)
    if as_json:
        echo_json(report.__dict__)
    elif report.already_upgraded:
        echo(f"{path} already uses the SQLite layout")
    else:
        echo(
            f"upgraded {path}: {report.records_verified} records copied and verified "
            f"({report.records_already_staged} from an interrupted run)"
        )


@cli.command()
@store_option
@click.argument("dest", type=click.Path(file_okay=False))
@json_option
def backup(dest: str, as_json: bool) -> None:
    """Copy the whole store to DEST while writers run, and verify the copy.

    DEST is an SQLite store; backing up into an earlier backup copies only
    what changed. An encrypted store stays encrypted (verifying the copy
    needs the key in LANGGRAPH_PERSIST_KEY).

    \b
    Example:
        langgraph-persist backup /backups/checkpoints-2026-12-01
    """
    with open_store(read_only=False) as saver, ProgressBar("backing up") as progress:
        report = saver.backup(dest, progress=progress)
    if as_json:
        echo_json(report.__dict__)
    else:
        echo(
            f"backed up {report.records} records to {dest} ({report.blobs_copied} blobs "
            f"copied, {report.blobs_reused} already there); the copy verifies"
        )


@cli.command()
@store_option
@click.argument("source", type=click.Path())
@json_option
def restore(source: str, as_json: bool) -> None:
    """Put the backup at SOURCE back into the (new or empty) store.

    \b
    Example:
        langgraph-persist restore /backups/checkpoints-2026-12-01 --store ./checkpoints
    """
    require_path(source, "backup", directory=True)
    with open_store(create=True) as saver, ProgressBar("restoring") as progress:
        report = saver.restore(source, progress=progress)
    if as_json:
        echo_json(report.__dict__)
    else:
        echo(f"restored {report.records} records from {source}; the store verifies")
