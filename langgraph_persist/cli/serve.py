"""``langgraph-persist serve``: the web UI (``langgraph_persist.ui``) over ``--store``.

The store is opened exactly as the other commands open it (``open_store``:
strict decoding, ``--allow-type``, the key from ``LANGGRAPH_PERSIST_KEY`` or
``--key``), read-only unless ``--allow-writes``. It binds 127.0.0.1; any
other address gets a token (``--token``, or one generated and printed) that
every request must carry.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
from collections.abc import Iterator

import click

from langgraph_persist import urls
from langgraph_persist.cli._common import (
    ENV_KEY,
    BadUsage,
    allow_type_option,
    cli,
    echo,
    open_store,
    settings,
    store_option,
)
from langgraph_persist.extras import install_hint

ENV_TOKEN = "LANGGRAPH_PERSIST_UI_TOKEN"
UI_MODULES = ("starlette", "uvicorn", "jinja2", "multipart", "python_multipart")
"""What the ``ui`` extra installs: a missing one is a one-line hint, not a traceback."""


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and ``localhost`` only; names that resolve elsewhere are not."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@contextlib.contextmanager
def _key_in_env(key: str | None) -> Iterator[None]:
    """``--key`` as if given in the environment: ``open_store`` reads the keys from there,
    for every command alike. Put back as it was when the server stops."""
    if key is None:
        yield
        return
    before = os.environ.get(ENV_KEY)
    os.environ[ENV_KEY] = key
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(ENV_KEY, None)
        else:
            os.environ[ENV_KEY] = before


def token_for(host: str, token: str | None) -> str | None:
    """The token the server requires: the one given, else a new one for a non-loopback bind."""
    if token:
        return token
    return None if is_loopback(host) else secrets.token_urlsafe(24)


@cli.command()
@store_option
@click.argument("store_path", required=False, metavar="[STORE]")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option(
    "--token",
    envvar=ENV_TOKEN,
    metavar="TOKEN",
    help=f"Require this token on every request (or set {ENV_TOKEN}). Generated when binding "
    "a non-loopback address without one.",
)
@click.option(
    "--key",
    metavar="ID:HEXKEY,...",
    help=f"The keys of an encrypted store (prefer the {ENV_KEY} environment variable: "
    "a command line is visible to other users).",
)
@click.option(
    "--allow-writes",
    is_flag=True,
    help="Offer 'delete thread' (asks to retype the id; written to the audit log). "
    "Default: read-only.",
)
@allow_type_option
def serve(
    store_path: str | None,
    host: str,
    port: int,
    token: str | None,
    key: str | None,
    allow_writes: bool,
    allowed_types: tuple[str, ...],
) -> None:
    """Browse the store in a web browser: threads, history, state, diffs, health.

    Needs the ui extra (pip install 'langgraph-persist[ui]'). Read-only unless
    --allow-writes. Binds 127.0.0.1; binding any other address requires a
    token, generated and printed unless --token gives one.

    \b
    Example:
        langgraph-persist serve ./checkpoints
        langgraph-persist serve --host 0.0.0.0 --port 8080 --token "$TOKEN"
    """
    try:
        import uvicorn

        from langgraph_persist.ui import create_app
    except ImportError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing not in UI_MODULES:
            raise  # a bug, not a missing extra
        raise BadUsage(f"serve needs the {missing!r} package: {install_hint('ui')}") from None
    if store_path is not None:
        settings().store = store_path
    token = token_for(host, token)
    with (
        _key_in_env(key),
        open_store(read_only=not allow_writes, allowed_types=allowed_types) as saver,
    ):
        label = urls.describe(urls.parse(settings().store))  # passwords redacted
        app = create_app(saver, token=token, allow_writes=allow_writes, store_label=label)
        config = uvicorn.Config(app, host=host, port=port, log_level="warning")
        server = uvicorn.Server(config)
        shown = f"[{host}]" if ":" in host else host
        address = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
        echo(f"serving {label} at {address}")
        echo("read-only" if not allow_writes else "writes allowed: delete is offered")
        echo("press Ctrl-C to stop")
        server.run()
