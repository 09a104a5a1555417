"""Moving threads: ``export``/``import`` (snapshot files), ``inspect``, ``migrate`` (savers).

Thin wrappers over ``snapshot.py`` and ``migrate.py``; see those modules for
what a copy preserves.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import click

from langgraph_persist.cli._common import (
    Conflict,
    ProgressBar,
    cli,
    echo_json,
    human_bytes,
    human_time,
    json_option,
    open_store,
    settings,
    store_option,
    table,
)
from langgraph_persist.migrate import AnySaver, migrate_all, open_saver
from langgraph_persist.snapshot import (
    SnapshotInfo,
    get_metadata,
    restore,
    snapshot,
    verify_snapshot,
)


def _print_info(info: SnapshotInfo) -> None:
    rows = [
        ("file", f"{info.path} ({human_bytes(info.file_size)})"),
        ("format", info.format_version),
        ("thread", info.thread_id),
        ("created", human_time(info.created)),
        ("checkpoints", f"{info.checkpoint_count}" + (" (latest only)" if info.latest else "")),
        ("writes", info.write_count),
        ("namespaces", info.namespace_count),
        ("size", f"{human_bytes(info.uncompressed_size)} -> {human_bytes(info.compressed_size)}"),
        ("digest", info.digest),
        ("description", info.description or "-"),
        ("agent", info.agent_id or "-"),
        ("serializer", info.serde),
        ("producer", info.producer),
    ]
    for k, v in rows:
        click.echo(f"{k:<12} {v}")


@cli.command()
@store_option
@click.argument("thread_id", metavar="THREAD")
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False), help="Snapshot file to write."
)
@click.option("--latest", is_flag=True, help="Only what resuming needs: the newest checkpoints.")
@click.option("--description", help="Free text stored in the header.")
@click.option("--agent-id", help="Agent identifier stored in the header.")
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@json_option
def export(
    thread_id: str,
    output: str,
    latest: bool,
    description: str | None,
    agent_id: str | None,
    force: bool,
    as_json: bool,
) -> None:
    """Write one thread to a portable, verified snapshot file.

    The file holds every checkpoint and pending write of the thread (with
    --latest: the newest checkpoint of each namespace plus what its delta
    channels need). It is written atomically; restore it with `import`.

    \b
    Example:
        langgraph-persist export user-42 -o user-42.lgps
        langgraph-persist export user-42 -o backup.lgps --latest --description "before upgrade"
    """
    if os.path.exists(output) and not force:
        raise Conflict(f"{output} exists; pass --force to replace it")
    with open_store() as saver:
        info = snapshot(
            saver, thread_id, output, latest=latest, description=description, agent_id=agent_id
        )
        if saver.encryption is not None:
            click.echo(
                f"warning: the store is encrypted but {output} is not; protect the file",
                err=True,
            )
    if as_json:
        echo_json(info.as_dict())
        return
    click.echo(
        f"exported thread {thread_id!r}: {info.checkpoint_count} checkpoints, "
        f"{info.write_count} writes -> {output} ({human_bytes(info.file_size)})"
    )


@cli.command("import")
@store_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--as", "as_thread", metavar="THREAD", help="Restore under this thread id.")
@json_option
def import_(file: str, as_thread: str | None, as_json: bool) -> None:
    """Restore a snapshot file into the store (creating the store if needed).

    The whole file is verified before anything is written. The thread must
    not exist yet (exit 4); use --as to restore under another id. A restore
    that fails half way removes what it wrote.

    \b
    Example:
        langgraph-persist import user-42.lgps
        langgraph-persist import user-42.lgps --as user-42-replay
    """
    with open_store(create=True) as saver, ProgressBar("restoring") as progress:
        info = restore(file, saver, as_thread, progress=progress)
    target = as_thread or info.thread_id
    if as_json:
        echo_json({**info.as_dict(), "restored_as": target})
        return
    click.echo(
        f"imported thread {info.thread_id!r} as {target!r}: "
        f"{info.checkpoint_count} checkpoints, {info.write_count} writes"
    )


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--no-verify", is_flag=True, help="Read only the header (fast).")
@json_option
def inspect(file: str, no_verify: bool, as_json: bool) -> None:
    """Show a snapshot file's header and verify the whole file.

    Exits 5 when the file is damaged (truncated, altered), 6 when a newer
    release wrote it.

    \b
    Example:
        langgraph-persist inspect user-42.lgps
        langgraph-persist inspect user-42.lgps --no-verify --json
    """
    info = get_metadata(file) if no_verify else verify_snapshot(file)
    if as_json:
        echo_json({**info.as_dict(), "verified": not no_verify})
        return
    _print_info(info)
    click.echo(f"{'verified':<12} {'header only' if no_verify else 'ok'}")


@contextlib.contextmanager
def _saver(url: str | None, *, create: bool) -> Iterator[AnySaver]:
    if url is None:
        with open_store(create=create) as saver:
            yield saver
    else:
        with open_saver(url, create=create) as other:
            yield other


@cli.command()
@store_option
@click.option("--from", "source", metavar="URL", help="Source saver (default: --store).")
@click.option("--to", "target", metavar="URL", help="Target saver (default: --store).")
@click.option("--thread", "only", multiple=True, metavar="THREAD", help="Only these threads.")
@click.option("--skip-existing", is_flag=True, help="Leave threads the target already has.")
@json_option
def migrate(
    source: str | None,
    target: str | None,
    only: tuple[str, ...],
    skip_existing: bool,
    as_json: bool,
) -> None:
    """Copy threads between savers, verifying each against the source.

    URL is sqlite:///relative.db, sqlite:////absolute.db, postgresql://...
    (needs langgraph-checkpoint-postgres) or a langgraph-persist store
    directory. Give --from to import into --store, --to to export out of it.
    Every copied thread is read back and compared (exit 8 on a difference).
    SQLite and PostgreSQL savers do not return a write's task_path, so
    writes copied from them get an empty one (see docs/cli.md).

    \b
    Example:
        langgraph-persist migrate --from sqlite:///checkpoints.sqlite
        langgraph-persist migrate --to postgresql://postgres@localhost/app --thread user-42
    """
    if source is None and target is None:
        raise click.UsageError("give --from URL (import into --store) or --to URL (export)")
    store = settings().store
    with (
        _saver(source, create=False) as src,
        _saver(target, create=True) as dst,
        ProgressBar("migrating") as progress,
    ):
        report = migrate_all(
            src, dst, threads=list(only) or None, skip_existing=skip_existing, progress=progress
        )
    if as_json:
        echo_json(
            {
                "from": source or store,
                "to": target or store,
                "threads": {t: c.__dict__ for t, c in report.copied.items()},
                "skipped": report.skipped,
                "checkpoints": report.checkpoints,
                "writes": report.writes,
            }
        )
        return
    table(
        ["THREAD", "CHECKPOINTS", "WRITES", "NAMESPACES"],
        [(t, c.checkpoints, c.writes, c.namespaces) for t, c in report.copied.items()],
        right=(1, 2, 3),
    )
    click.echo(
        f"migrated {len(report.copied)} thread(s), {report.checkpoints} checkpoints, "
        f"{report.writes} writes from {source or store} to {target or store}; all verified"
    )
    if report.skipped:
        click.echo(f"skipped (already in the target): {', '.join(report.skipped)}")
