"""What every command shares: the group, ``--store``/``--json``, exit codes, progress, tables.

The commands are thin clients of the library: they parse, call one library
function, and print. Everything a user can get wrong ends in ONE line on
stderr and a documented exit code (``EXIT_CODES``, docs/cli.md): library
errors (``PersistError``) are mapped here, in the group, once, instead of in
every command.

What the CLI reads is untrusted: every store it opens decodes with the strict
serializer of ``untrusted.py`` (``open_store``, ``--allow-type``), and every
human line goes through ``echo`` (control characters escaped, ``_render.printable``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from types import TracebackType
from typing import IO, Any, TypeVar

import click
from langgraph.checkpoint.serde.base import SerializerProtocol

from langgraph_persist import urls
from langgraph_persist.cli._render import printable
from langgraph_persist.crypto import Encryption
from langgraph_persist.errors import (
    BlockedTypeError,
    ConfigurationError,
    InvalidIdError,
    MigrationError,
    NotFoundError,
    PersistError,
    RecordError,
    RecordTooLargeError,
    SnapshotError,
    StoreError,
    ThreadExistsError,
    UnsupportedFormatError,
    WriteRejectedError,
)
from langgraph_persist.saver import PersistSaver
from langgraph_persist.untrusted import OnBlocked, blocked_of, parse_type, untrusted_serde

ENV_STORE = "LANGGRAPH_PERSIST_STORE"
ENV_REDIS = "LANGGRAPH_PERSIST_REDIS"
ENV_REDIS_PREFIX = "LANGGRAPH_PERSIST_REDIS_PREFIX"
ENV_KEY = "LANGGRAPH_PERSIST_KEY"
"""Encryption keys (``id:hexkey,...``, see crypto.py); set it to open an encrypted store."""
DEFAULT_STORE = "./checkpoints"

EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "verify found damage that is still there (or the command was interrupted)",
    2: "usage: a bad option, argument, id or store configuration",
    3: "not found: the store, thread, checkpoint or source does not exist",
    4: "conflict: the target thread or output file already exists, or the store refused the write",
    5: "damaged or refused data: a corrupt record, missing content, an invalid snapshot "
    "file, or values of a type not allowed (see --allow-type)",
    6: "unsupported format: written by a newer langgraph-persist",
    7: "storage failure: disk full, permissions, database unreachable, value too large",
    8: "migration check failed: the target reads back differently from the source",
}


class CliError(click.ClickException):
    """A user-facing error: one line on stderr, then ``exit_code``."""

    exit_code = 1

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {printable(self.format_message())}", file=file, err=file is None)


class DamageFound(CliError):
    exit_code = 1


class NotFound(CliError):
    exit_code = 3


class Conflict(CliError):
    exit_code = 4


class Damaged(CliError):
    exit_code = 5


class Unsupported(CliError):
    exit_code = 6


class StorageFailed(CliError):
    exit_code = 7


class MismatchFound(CliError):
    exit_code = 8


class BadUsage(CliError):
    exit_code = 2


_MAPPING: list[tuple[type[Exception], type[CliError]]] = [
    (UnsupportedFormatError, Unsupported),  # before SnapshotError: a newer snapshot is both
    (SnapshotError, Damaged),
    (BlockedTypeError, Damaged),
    (RecordError, Damaged),
    (NotFoundError, NotFound),
    (ThreadExistsError, Conflict),
    (WriteRejectedError, Conflict),  # a deleted thread's late writer, a fenced writer
    (RecordTooLargeError, StorageFailed),
    (MigrationError, MismatchFound),
    (StoreError, StorageFailed),
    (InvalidIdError, BadUsage),
    (ConfigurationError, BadUsage),
    (PersistError, CliError),
]


def to_cli_error(exc: PersistError) -> CliError:
    """The ``CliError`` (and so the exit code) for a library error."""
    for error_type, cli_type in _MAPPING:
        if isinstance(exc, error_type):
            return cli_type(str(exc))
    return CliError(str(exc))  # pragma: no cover - PersistError is in the table


class PersistGroup(click.Group):
    """Maps library errors (and OS errors on files we were pointed at) to exit codes,
    for every command, in one place."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PersistError as exc:
            raise to_cli_error(exc) from exc
        except OSError as exc:  # a snapshot file we cannot write or read
            where = f"{exc.filename}: " if exc.filename else ""
            raise StorageFailed(f"{where}{exc.strerror or exc}") from exc


@dataclass
class Settings:
    store: str
    progress: bool | None = None
    """Draw progress bars: ``None`` means when stderr is a terminal."""
    redis: str | None = None
    """The agents' Redis hot tier, so deletions and imports reach it too."""
    redis_prefix: str = "lgp:"


@click.group(cls=PersistGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--store",
    envvar=ENV_STORE,
    default=DEFAULT_STORE,
    show_default=True,
    metavar="PATH",
    help=f"The store directory (or set {ENV_STORE}).",
)
@click.option(
    "--redis",
    envvar=ENV_REDIS,
    metavar="URL",
    help=f"The store's Redis hot tier, if it has one (or set {ENV_REDIS}).",
)
@click.option(
    "--redis-prefix",
    envvar=ENV_REDIS_PREFIX,
    default="lgp:",
    show_default=True,
    metavar="PREFIX",
    help="The hot tier's key prefix (HotTierOptions.key_prefix).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bars on stderr (default: when stderr is a terminal).",
)
@click.version_option(package_name="langgraph-persist")
@click.pass_context
def cli(
    ctx: click.Context,
    store: str,
    redis: str | None,
    redis_prefix: str,
    progress: bool | None,
) -> None:
    """Inspect and manage a langgraph-persist checkpoint store.

    \b
    Example:
        langgraph-persist --store ./checkpoints threads
        langgraph-persist history user-42 --json | jq '.[0].checkpoint_id'
    """
    ctx.obj = Settings(store=store, progress=progress, redis=redis, redis_prefix=redis_prefix)
    # LangGraph logs each blocked type itself, unescaped and naming its own knobs; the
    # commands report them (warn_blocked, BlockedTypeError) with control characters escaped.
    logging.getLogger("langgraph.checkpoint.serde").setLevel(logging.ERROR)


# -- shared options ----------------------------------------------------------------------------

F = TypeVar("F", bound=Callable[..., Any])


def _set_store(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.ensure_object(Settings).store = value


def store_option(f: F) -> F:
    """``--store`` after the command name too (``langgraph-persist threads --store X``)."""
    return click.option(
        "--store",
        metavar="PATH",
        expose_value=False,
        is_eager=True,
        callback=_set_store,
        help=f"The store directory (overrides the global --store and {ENV_STORE}).",
    )(f)


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts).")(f)


def _parse_allowed(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> tuple[str, ...]:
    for value in values:
        try:
            parse_type(value)
        except ConfigurationError:
            raise click.BadParameter(
                f"{value!r} is not MODULE:CLASS (e.g. myapp.state:Order)"
            ) from None
    return values


def allow_type_option(f: F) -> F:
    """``--allow-type MODULE:CLASS``: trust one more type when decoding (repeatable)."""
    return click.option(
        "--allow-type",
        "allowed_types",
        multiple=True,
        metavar="MODULE:CLASS",
        callback=_parse_allowed,
        help="Also decode values of this type (repeatable; only for types you trust: "
        "decoding calls their constructor). Default: LangGraph's strict-mode types only.",
    )(f)


def settings() -> Settings:
    return click.get_current_context().ensure_object(Settings)


def warn_blocked(serde: SerializerProtocol, where: str) -> None:
    """After a read-only view: say which types were refused and how to allow them."""
    blocked = blocked_of(serde)
    if not blocked:
        return
    names = ", ".join(str(b) for b in blocked)
    echo(
        f"warning: {where} holds values of type(s) not allowed for untrusted data: {names}. "
        "Nothing was run; such values are shown as their raw stored arguments.",
        err=True,
    )
    constructors = [b.spec for b in blocked if not b.method]
    if constructors:
        flags = " ".join(f"--allow-type {spec}" for spec in constructors)
        echo(f"warning: if you trust this data, pass {flags}", err=True)


@contextlib.contextmanager
def open_store(
    *,
    create: bool = False,
    read_only: bool = False,
    allowed_types: Sequence[str] = (),
    on_blocked: OnBlocked = "record",
) -> Iterator[PersistSaver]:
    """The saver over ``--store``; a missing store is an error unless ``create``.

    Read commands must not create an empty store at a mistyped path, and open it
    ``read_only`` so they work where nothing may be written. An
    encrypted store is opened with the keys in ``LANGGRAPH_PERSIST_KEY``; a
    store with a Redis hot tier with ``--redis`` (write-through), so that
    prune, import and gc reach the hot tier the agents read from too.

    Values are decoded strictly (``untrusted.py``) with ``allowed_types``
    added: views (``on_blocked="record"``) show a refused value as its raw
    arguments and warn on stderr; commands that copy values elsewhere
    (``"raise"``: export, import, migrate) fail instead of writing them.
    """
    config = settings()
    spec = urls.parse(config.store)  # one grammar: paths, file:, s3://, redis://?cold=...
    if config.redis:
        spec = urls.with_hot_tier(spec, config.redis, key_prefix=config.redis_prefix)
    elif isinstance(spec, urls.HotSpec) and "key_prefix" not in spec.options:
        spec = dataclasses.replace(
            spec, options={**spec.options, "key_prefix": config.redis_prefix}
        )
    where = urls.describe(spec)
    local = spec.cold if isinstance(spec, urls.HotSpec) else spec
    if not create and isinstance(local, urls.LocalSpec) and not os.path.isdir(local.path):
        raise NotFound(f"no store at {local.path} (pass --store PATH or set {ENV_STORE})")
    encryption = Encryption.from_env(ENV_KEY) if os.environ.get(ENV_KEY) else None
    serde = untrusted_serde(allowed_types, on_blocked=on_blocked)
    # browsing never writes: works on backups, read-only mounts, others' stores
    browse = read_only and isinstance(spec, urls.LocalSpec)
    try:
        with PersistSaver.from_conn_string(
            spec, encryption=encryption, read_only=browse, serde=serde
        ) as saver:
            if browse and saver.store_keys.encrypted and encryption is None:
                raise ConfigurationError(
                    f"the store {where} is encrypted: set {ENV_KEY} to its keys "
                    "(id:hexkey,...) to read it"
                )
            yield saver
    finally:
        if on_blocked == "record":
            warn_blocked(serde, f"the store {where}")


# -- output ------------------------------------------------------------------------------------


def echo(text: str = "", *, err: bool = False) -> None:
    """One human line, control characters escaped (see ``_render.printable``)."""
    click.echo(printable(text), err=err)


def echo_json(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, ensure_ascii=False, default=str))


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


def human_time(when: datetime | None) -> str:
    if when is None:
        return "-"
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


def table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], *, right: Sequence[int] = ()
) -> None:
    """Aligned columns; ``right`` lists the indexes of numeric columns."""
    cells = [[printable("-" if v is None else str(v)) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if i in right else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    echo(line(headers))
    for row in cells:
        echo(line(row))


class ProgressBar:
    """The library's ``progress(done, total)`` callback drawn as a click progress bar on stderr.

    The bar is created at the first call, when the total is known; nothing is
    drawn for operations that never report, nor (unless ``--progress``) when
    stderr is not a terminal, so logs and pipes stay clean.
    """

    def __init__(self, label: str) -> None:
        self.label = label
        self.done = 0
        self._bar: Any = None
        wanted = settings().progress
        self.enabled = sys.stderr.isatty() if wanted is None else wanted

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self._bar is None:
            self._bar = click.progressbar(length=max(total, 1), label=self.label, file=sys.stderr)
            self._bar.__enter__()
        self._bar.update(done - self.done)
        self.done = done

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.__exit__(exc_type, exc, tb)
