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
import io
import json
import logging
import os
import shutil
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
from langgraph_persist.extras import install_hint
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
    9: "partial: the command did what it could but skipped damaged checkpoints "
    "(each named on stderr)",
}

OPTIONAL_DEPENDENCIES: dict[str, tuple[str, str]] = {
    # module (or package prefix) -> (extra of langgraph-persist, distribution that provides it)
    "langgraph.checkpoint.sqlite": ("sqlite", "langgraph-checkpoint-sqlite"),
    "aiosqlite": ("sqlite", "langgraph-checkpoint-sqlite"),
    "langgraph.checkpoint.postgres": ("postgres", "langgraph-checkpoint-postgres"),
    "psycopg": ("postgres", "psycopg[binary]"),
    "redis": ("redis", "redis"),
    "boto3": ("s3", "boto3"),
    "botocore": ("s3", "boto3"),
    "cryptography": ("encryption", "cryptography"),
    "starlette": ("ui", "starlette"),
    "uvicorn": ("ui", "uvicorn"),
    "jinja2": ("ui", "jinja2"),
}
"""What a missing import means to a user: the extra to install (``missing_dependency``)."""


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


class Partial(CliError):
    """The command finished but left damaged parts out (each named on stderr before)."""

    exit_code = 9

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"warning: {printable(self.format_message())}", file=file, err=file is None)


class BadUsage(CliError):
    exit_code = 2


class MissingDependency(BadUsage):
    """An optional feature whose package is not installed: one line naming the extra."""


def missing_dependency(exc: ImportError) -> CliError:
    """The one-line hint for an ``ImportError``, naming the extra that brings the module.

    A module we do not know is still one line (exit 2), naming the module,
    rather than a traceback.
    """
    name = exc.name or ""
    for module, (extra, package) in OPTIONAL_DEPENDENCIES.items():
        if name == module or name.startswith(module + "."):
            return MissingDependency(
                f"this needs the optional package {package}, which is not installed: "
                f"{install_hint(extra)}"
            )
    return MissingDependency(f"this needs the Python module {name or exc}, which is not installed")


def quiet_closed_pipe() -> None:
    """Stdout's reader is gone (``threads | head -1``): send the rest to /dev/null.

    The reader asked for no more output, which is not a failure: the command
    ends with exit 0 and no message, and Python's final flush of stdout must
    not report the closed pipe either.
    """
    with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


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
        except ImportError as exc:  # an optional feature without its package
            raise missing_dependency(exc) from exc
        except BrokenPipeError:
            quiet_closed_pipe()
            ctx.exit(0)
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
    full: bool = False
    """``--full``: no cell cut to the terminal's width, no value folded."""


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


def _set_full(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(Settings).full = True


def full_option(f: F) -> F:
    """``--full``: show every cell and value whole (no ellipsis, no folding)."""
    return click.option(
        "--full",
        is_flag=True,
        expose_value=False,
        callback=_set_full,
        help="Show everything: no cell cut to the terminal width, no value folded.",
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


def require_path(path: str, what: str, *, directory: bool = False) -> None:
    """A file or directory the user named must exist: exit 3 like every "not found"
    (click's own ``exists=True`` check would exit 2, as a usage error)."""
    if not os.path.exists(path):
        raise NotFound(f"no {what} at {path}")
    if directory != os.path.isdir(path):
        kind = "a directory" if directory else "a file"
        raise BadUsage(f"{path} is not {kind}: give the {what}")


def store_has_hot_tier() -> bool:
    """``--redis``, or a ``--store`` URL with a hot tier: a second copy ``verify --repair``
    can restore from (told by what the user gave, not by reaching into the saver)."""
    return bool(settings().redis) or isinstance(urls.parse(settings().store), urls.HotSpec)


def store_shown() -> str:
    """``--store`` fit to print in a message (passwords of a URL redacted)."""
    try:
        return urls.describe(urls.parse(settings().store))
    except PersistError:  # pragma: no cover - open_store parsed it already
        return "(the store)"


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
            if browse and saver.encrypted and encryption is None:
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


def human_time(when: datetime | None) -> str:
    if when is None:
        return "-"
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


SHORT_CELL = 20
"""Columns whose cells are all this short are never cut (a time is 20 characters)."""

ID_PREFIX = 19
"""Narrowest a long column gets while others can give way: ``1f1ede6b-9540-613a…``
holds all the time bits of a uuid6 checkpoint id, so it tells ids apart (and is a
prefix ``show``, ``diff``, ``drop`` and ``fork`` accept)."""

LAST_RESORT = 6
"""Narrowest a column gets when the terminal is too narrow even for ``ID_PREFIX``."""


def output_width() -> int | None:
    """Columns human output may use: the terminal's, ``COLUMNS``, or None (no limit).

    Output to a terminal fits it; output to a pipe or a file is not cut
    (unless ``COLUMNS`` is set), so ``grep`` sees whole ids. ``--full``
    lifts the limit everywhere.
    """
    if settings().full:
        return None
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None


GAP = 2
"""Spaces between table columns."""


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    right: Sequence[int] = (),
    keep: Sequence[int] = (0,),
) -> None:
    """Aligned columns fitting ``output_width()``; ``right`` lists numeric columns.

    When a row is too wide, the widest long columns (ids, namespaces) give
    way first, down to a telling prefix (``ID_PREFIX``), each cut cell ending
    in an ellipsis; then long columns not in ``keep`` (the row's own id is)
    down to a stub, then every long column. Columns whose cells are all
    short (times, numbers, sources) stay whole; one row stays one line.

    Widths are terminal cells, measured with rich's ``cell_len`` and
    ``set_cell_size`` (wide CJK characters and emoji count double). Rows are
    formatted here rather than drawn by ``rich.table``, which costs about a
    millisecond a row (ten seconds for 10,000 threads). Cells are escaped
    (``printable``), never read as markup.
    """
    from rich.cells import cell_len, set_cell_size

    cells = [[printable("-" if v is None else str(v)) for v in row] for row in rows]
    natural = [
        max([cell_len(header), *(cell_len(row[i]) for row in cells)])
        for i, header in enumerate(headers)
    ]
    limit = output_width()
    # short cells (numbers, times, sources) stay whole; long ones (ids) keep a telling
    # prefix while anything else can give way, then a stub rather than fall off the edge
    long = [n > SHORT_CELL for n in natural]
    stage_1 = [ID_PREFIX if x else n for n, x in zip(natural, long, strict=True)]
    stage_2 = [m if i in keep else LAST_RESORT if long[i] else m for i, m in enumerate(stage_1)]
    stage_3 = [LAST_RESORT if x else n for n, x in zip(natural, long, strict=True)]
    widths = natural
    for minimum in (stage_1, stage_2, stage_3):
        widths = fit_widths(widths, minimum, limit)

    def cell(text: str, width: int, column: int) -> str:
        if cell_len(text) > width:
            text = set_cell_size(text, width - 1) + "…"
        padding = " " * (width - cell_len(text))
        return padding + text if column in right else text + padding

    for row in [list(headers), *cells]:
        line = (" " * GAP).join(
            cell(c, w, i) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        line = line.rstrip()
        if limit is not None and cell_len(line) > limit:  # even the minimum widths do not fit
            line = set_cell_size(line, limit).rstrip()
        click.echo(line)


def fit_widths(natural: Sequence[int], minimum: Sequence[int], limit: int | None) -> list[int]:
    """Column widths within ``limit`` (with ``GAP`` between): the widest column gives way
    first, none below its ``minimum``; ``natural`` when it fits or there is no limit."""
    widths = list(natural)
    if limit is None:
        return widths
    excess = sum(widths) + GAP * (len(widths) - 1) - limit
    while excess > 0:
        shrinkable = [i for i, w in enumerate(widths) if w > minimum[i]]
        if not shrinkable:
            break
        widest = max(shrinkable, key=lambda i: widths[i])
        others = [widths[i] for i in shrinkable if i != widest]
        target = max(minimum[widest], widths[widest] - excess, max(others, default=0))
        if target >= widths[widest]:  # ties: shrink this one by one, the next turn the other
            target = widths[widest] - 1
        excess -= widths[widest] - target
        widths[widest] = target
    return widths


def print_rich(renderable: Any) -> None:
    """Draw a rich renderable (``history --tree``) at ``output_width()``, as plain text,
    through ``click.echo``.

    Rendered to a string first so that output (and a closed pipe) goes the
    way of every other line; no colors, no markup, no emoji codes: what is
    printed is what the store holds, escaped by the caller (``printable``).
    """
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=output_width() or 100_000,
        color_system=None,
        no_color=True,
        highlight=False,
        emoji=False,
        markup=False,
        soft_wrap=False,
    )
    console.print(renderable)
    for line in buffer.getvalue().splitlines():
        click.echo(line.rstrip())


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
