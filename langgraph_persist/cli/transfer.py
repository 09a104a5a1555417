"""Moving threads: ``export``/``import`` (snapshot files), ``inspect``, ``migrate`` (savers).

Thin wrappers over ``snapshot.py`` and ``migrate.py``; see those modules for
what a copy preserves. Everything they read is decoded strictly
(``untrusted.py``, ``--allow-type``), and a value of a type not allowed stops
the command (exit 5) before anything is written: a copy must never carry a
value silently degraded to its raw arguments. URLs are printed without
their passwords.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import click

from langgraph_persist.cli._common import (
    ENV_KEY,
    Conflict,
    Damaged,
    Partial,
    ProgressBar,
    allow_type_option,
    cli,
    echo,
    echo_json,
    full_option,
    human_time,
    json_option,
    open_store,
    require_path,
    settings,
    store_option,
    table,
)
from langgraph_persist.cli._render import human_bytes
from langgraph_persist.crypto import Encryption
from langgraph_persist.errors import BlockedTypeError
from langgraph_persist.migrate import AnySaver, migrate_all, open_saver, redact_url
from langgraph_persist.snapshot import (
    SnapshotInfo,
    get_metadata,
    restore,
    snapshot,
    verify_snapshot,
)
from langgraph_persist.untrusted import untrusted_serde


def warn_skipped(info: SnapshotInfo) -> None:
    """One stderr line per damaged checkpoint a snapshot left out, then the count."""
    for c in info.skipped:
        where = f" (namespace {c.checkpoint_ns})" if c.checkpoint_ns else ""
        echo(
            f"warning: checkpoint {c.checkpoint_id}{where} of thread {info.thread_id!r} "
            f"is damaged and not in the snapshot: {c.reason}",
            err=True,
        )
    unnamed = info.skipped_count - len(info.skipped)
    if unnamed > 0:
        echo(f"warning: and {unnamed} more damaged checkpoint(s) not in the snapshot", err=True)


def _print_info(info: SnapshotInfo) -> None:
    rows = [
        ("file", f"{info.path} ({human_bytes(info.file_size)})"),
        ("format", info.format_version),
        ("thread", info.thread_id),
        ("created", human_time(info.created)),
        ("checkpoints", f"{info.checkpoint_count}" + (" (latest only)" if info.latest else "")),
        (
            "partial",
            f"yes: {info.skipped_count} damaged checkpoint(s) of the thread are not in it"
            if info.partial
            else "no",
        ),
        ("writes", info.write_count),
        ("namespaces", info.namespace_count),
        ("size", f"{human_bytes(info.uncompressed_size)} -> {human_bytes(info.compressed_size)}"),
        ("digest", info.digest),
        ("description", info.description or "-"),
        ("agent", info.agent_id or "-"),
        ("serializer", info.serde),
        ("producer", info.producer),
        ("encrypted", f"yes (key {info.sealed})" if info.sealed else "no"),
        (
            "authentic",
            "yes: its keyed MAC verifies"
            if info.authenticated
            else "unknown: only checked for accidents (digests anyone can recompute)",
        ),
    ]
    for k, v in rows:
        echo(f"{k:<12} {v}")
    for c in info.skipped:
        where = f" (namespace {c.checkpoint_ns})" if c.checkpoint_ns else ""
        echo(f"{'skipped':<12} {c.checkpoint_id}{where}: {c.reason}")


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
@click.option(
    "--decrypt",
    is_flag=True,
    help="From an encrypted store: write a plaintext file (by default it is sealed too).",
)
@allow_type_option
@json_option
def export(
    thread_id: str,
    output: str,
    latest: bool,
    description: str | None,
    agent_id: str | None,
    force: bool,
    decrypt: bool,
    allowed_types: tuple[str, ...],
    as_json: bool,
) -> None:
    """Write one thread to a portable, verified snapshot file.

    The file holds every checkpoint and pending write of the thread (with
    --latest: the newest checkpoint of each namespace plus what its delta
    channels need). It is written atomically; restore it with `import`. A
    snapshot of an encrypted store is sealed with the store's key and carries
    a keyed MAC, unless --decrypt.

    A damaged checkpoint does not stop the export: every checkpoint that
    reads is written, each damaged one is named on stderr and in the file
    (`inspect` lists them), and the command exits 9 ("partial").

    \b
    Example:
        langgraph-persist export user-42 -o user-42.lgps
        langgraph-persist export user-42 -o backup.lgps --latest --description "before upgrade"
    """
    if os.path.exists(output) and not force:
        raise Conflict(f"{output} exists; pass --force to replace it")
    with open_store(allowed_types=allowed_types, on_blocked="raise") as saver:
        info = snapshot(
            saver,
            thread_id,
            output,
            latest=latest,
            description=description,
            agent_id=agent_id,
            decrypt=decrypt,
            skip_damaged=True,
        )
        if saver.encryption is not None and decrypt:
            echo(
                f"warning: the store is encrypted but {output} is not (--decrypt); "
                "protect the file",
                err=True,
            )
    if as_json:
        echo_json(info.as_dict())
    else:
        echo(
            f"exported thread {thread_id!r}: {info.checkpoint_count} checkpoints, "
            f"{info.write_count} writes -> {output} ({human_bytes(info.file_size)})"
        )
    if info.partial:
        warn_skipped(info)
        raise Partial(
            f"{output} is partial: {info.skipped_count} damaged checkpoint(s) of thread "
            f"{thread_id!r} were left out (listed above; see `langgraph-persist verify`)"
        )


@cli.command("import")
@store_option
@click.argument("file", type=click.Path())
@click.option("--as", "as_thread", metavar="THREAD", help="Restore under this thread id.")
@allow_type_option
@json_option
def import_(
    file: str, as_thread: str | None, allowed_types: tuple[str, ...], as_json: bool
) -> None:
    """Restore a snapshot file into the store (creating the store if needed).

    The whole file is verified, and every value decoded, before anything is
    written. A value of a type not allowed (LangGraph's safe types plus
    --allow-type) stops the import (exit 5), naming the type; nothing it
    names is run. The thread must not exist yet (exit 4); use --as to
    restore under another id. A restore that fails half way removes what it
    wrote.

    \b
    Example:
        langgraph-persist import user-42.lgps
        langgraph-persist import user-42.lgps --as user-42-replay
    """
    require_path(file, "snapshot file")
    with (
        open_store(create=True, allowed_types=allowed_types, on_blocked="raise") as saver,
        ProgressBar("restoring") as progress,
    ):
        info = restore(file, saver, as_thread, allowed_types=allowed_types, progress=progress)
    target = as_thread or info.thread_id
    if as_json:
        echo_json({**info.as_dict(), "restored_as": target})
    else:
        echo(
            f"imported thread {info.thread_id!r} as {target!r}: "
            f"{info.checkpoint_count} checkpoints, {info.write_count} writes"
        )
    warn_skipped(info)  # the file is whole; the thread it came from was not


@cli.command()
@click.argument("file", type=click.Path())
@click.option("--no-verify", is_flag=True, help="Read only the header (fast).")
@allow_type_option
@json_option
def inspect(file: str, no_verify: bool, allowed_types: tuple[str, ...], as_json: bool) -> None:
    """Show a snapshot file's header and verify the whole file.

    Verifying checks every digest and decodes every value as `import` would
    (strictly: nothing is run). Exits 5 when the file is damaged (truncated,
    altered) or holds values of a type not allowed (see --allow-type), 6
    when a newer release wrote it.

    \b
    Example:
        langgraph-persist inspect user-42.lgps
        langgraph-persist inspect user-42.lgps --no-verify --json
    """
    require_path(file, "snapshot file")
    blocked: BlockedTypeError | None = None
    key = Encryption.from_env(ENV_KEY) if os.environ.get(ENV_KEY) else None
    if no_verify:
        info = get_metadata(file, encryption=key)
    else:
        try:
            info = verify_snapshot(file, allowed_types=allowed_types, encryption=key)
        except BlockedTypeError as exc:  # intact, but import would refuse it: show why
            blocked, info = exc, get_metadata(file, encryption=key)
    if as_json:
        verdict = not no_verify and blocked is None
        echo_json(
            {
                **info.as_dict(),
                "verified": verdict,
                "blocked_types": list(blocked.types) if blocked else [],
            }
        )
    else:
        _print_info(info)
        if blocked is not None:
            verdict_text = f"NO: values of type(s) not allowed: {', '.join(blocked.types)}"
        else:
            verdict_text = "header only" if no_verify else "ok"
        echo(f"{'verified':<12} {verdict_text}")
    if blocked is not None:
        raise Damaged(str(blocked))


@contextlib.contextmanager
def _saver(url: str | None, *, create: bool, allowed_types: tuple[str, ...]) -> Iterator[AnySaver]:
    """``--store`` or a URL, decoding strictly; a refused value stops the migration."""
    if url is None:
        with open_store(create=create, allowed_types=allowed_types, on_blocked="raise") as saver:
            yield saver
    else:
        serde = untrusted_serde(allowed_types, on_blocked="raise")
        with open_saver(url, create=create, serde=serde) as other:
            yield other


@cli.command()
@store_option
@click.option("--from", "source", metavar="URL", help="Source saver (default: --store).")
@click.option("--to", "target", metavar="URL", help="Target saver (default: --store).")
@click.option("--thread", "only", multiple=True, metavar="THREAD", help="Only these threads.")
@click.option("--skip-existing", is_flag=True, help="Leave threads the target already has.")
@allow_type_option
@full_option
@json_option
def migrate(
    source: str | None,
    target: str | None,
    only: tuple[str, ...],
    skip_existing: bool,
    allowed_types: tuple[str, ...],
    as_json: bool,
) -> None:
    """Copy threads between savers, verifying each against the source.

    URL is sqlite:///relative.db, sqlite:////absolute.db, postgresql://...
    (needs langgraph-checkpoint-postgres) or a langgraph-persist store
    directory. Give --from to import into --store, --to to export out of it.
    Every copied thread is read back and compared (exit 8 on a difference).
    Values are decoded strictly (LangGraph's safe types plus --allow-type):
    one of another type stops the migration (exit 5) before its thread is
    written. Passwords in URLs are never printed.
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
    shown_from, shown_to = redact_url(source or store), redact_url(target or store)
    with (
        _saver(source, create=False, allowed_types=allowed_types) as src,
        _saver(target, create=True, allowed_types=allowed_types) as dst,
        ProgressBar("migrating") as progress,
    ):
        report = migrate_all(
            src, dst, threads=list(only) or None, skip_existing=skip_existing, progress=progress
        )
    if as_json:
        echo_json(
            {
                "from": shown_from,
                "to": shown_to,
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
    echo(
        f"migrated {len(report.copied)} thread(s), {report.checkpoints} checkpoints, "
        f"{report.writes} writes from {shown_from} to {shown_to}; all verified"
    )
    if report.skipped:
        echo(f"skipped (already in the target): {', '.join(report.skipped)}")
