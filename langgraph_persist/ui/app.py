"""The ASGI app of ``langgraph-persist serve``: pages, their JSON twins, the token and CSRF checks.

Every page has a JSON endpoint under ``/api/`` returning the same dict the
page renders (``views.py``), so other tools can use the UI's views. Thread ids
travel as query parameters (``/thread?id=...``), never path segments: an id may
hold ``/``, ``?`` or anything else.

Security (docs/ui.md, "Security"):

- a token, when set, is checked on every request, static files included,
  with a constant-time compare. It comes as ``Authorization: Bearer``, the
  ``lgp_token`` cookie, or once as ``?token=`` (which sets the cookie and
  redirects to the same page without it, so it does not stay in the history);
- without a token (loopback only), the ``Host`` header must name a loopback
  host, so a web page cannot reach the UI through DNS rebinding;
- Jinja2 autoescapes every value, and a strict Content-Security-Policy allows
  only the UI's own script and style: a ``<script>`` in a message is text;
- the one write (delete a thread) exists only with ``allow_writes``, is a POST
  carrying a per-process CSRF token and the retyped thread id, and is audited
  by the saver (``delete_thread`` writes the audit log).

The saver is used from Starlette's thread pool; a lock serializes the calls,
which is plenty for a browsing UI and keeps stores that are not thread-safe safe.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
import shutil
import tempfile
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from langgraph_persist import snapshot
from langgraph_persist.cli._render import human_bytes
from langgraph_persist.errors import (
    ConfigurationError,
    InvalidIdError,
    NotFoundError,
    PersistError,
)
from langgraph_persist.saver import PersistSaver
from langgraph_persist.ui import views

HERE = Path(__file__).parent
TOKEN_COOKIE = "lgp_token"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

Handler = Callable[[Request], Awaitable[Response]]


def _loopback_host(header: str) -> bool:
    """A ``Host`` header naming this machine: ``localhost``, 127.0.0.0/8 or ``[::1]``."""
    if header.startswith("["):
        host = header[1 : header.find("]")]
    else:
        host = header.rsplit(":", 1)[0] if header.count(":") == 1 else header
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


class _Guard(BaseHTTPMiddleware):
    """Token (when set) on every request, else a loopback ``Host``; security headers on all."""

    def __init__(self, app: Any, token: str | None, check_host: bool) -> None:
        super().__init__(app)
        self.token = token
        self.check_host = check_host

    async def dispatch(self, request: Request, call_next: Callable[..., Any]) -> Response:
        response = await self._check(request, call_next)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    async def _check(self, request: Request, call_next: Callable[..., Any]) -> Response:
        if self.check_host and not _loopback_host(request.headers.get("host") or ""):
            return PlainTextResponse("this UI answers only to a loopback host name", 421)
        if self.token is None:
            response: Response = await call_next(request)
            return response
        query = request.query_params.get("token")
        if _same(query, self.token):
            params = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            url = request.url.path + (f"?{urlencode(params)}" if params else "")
            redirect = RedirectResponse(url, status_code=303)
            redirect.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="strict")
            return redirect
        auth = request.headers.get("authorization", "")
        bearer = auth[7:] if auth.lower().startswith("bearer ") else None
        if _same(bearer, self.token) or _same(request.cookies.get(TOKEN_COOKIE), self.token):
            response = await call_next(request)
            return response
        return PlainTextResponse(
            "401: this UI needs its token: open the address `langgraph-persist serve` printed "
            "(it ends in ?token=...) or send Authorization: Bearer TOKEN",
            401,
            headers={"WWW-Authenticate": "Bearer"},
        )


def _link(path: str, **params: Any) -> str:
    """``/thread?id=...``: every link the templates make, parameters URL-encoded."""
    kept = {k: v for k, v in params.items() if v is not None and v != ""}
    return f"{path}?{urlencode(kept)}" if kept else path


def _short(checkpoint_id: Any) -> str:
    text = str(checkpoint_id or "")
    return text[:8] + "…" + text[-4:] if len(text) > 16 else text


def _when(iso: Any) -> str:
    """``2026-01-02T03:04:05.678+00:00`` -> ``2026-01-02 03:04:05 UTC`` (the JSON keeps ISO)."""
    if not isinstance(iso, str) or len(iso) < 19:
        return "-" if not iso else str(iso)
    zone = " UTC" if iso.endswith(("+00:00", "Z")) else iso[26:]
    return iso[:19].replace("T", " ") + zone


def _human_bytes(n: Any) -> str:
    """``human_bytes`` for templates, where a size may be missing (``-``)."""
    return human_bytes(n) if isinstance(n, int) else "-"


def _templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["link"] = _link
    env.filters["short"] = _short
    env.filters["human_bytes"] = _human_bytes
    env.filters["when"] = _when
    return env


class UI:
    """The routes over one saver (see ``create_app``)."""

    def __init__(self, saver: PersistSaver, *, store_label: str, allow_writes: bool) -> None:
        self.saver = saver
        self.store_label = store_label
        self.allow_writes = allow_writes
        self.csrf = secrets.token_urlsafe(32)
        self.lock = threading.Lock()
        self.env = _templates()
        self.health = views.HealthCache()
        self.infos = views.InfoCache()

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            return fn(self.saver, *args, **kwargs)

    def page(self, name: str, request: Request, status: int = 200, **context: Any) -> Response:
        html = self.env.get_template(name).render(
            store=self.store_label,
            allow_writes=self.allow_writes,
            csrf=self.csrf,
            path=request.url.path,
            **context,
        )
        return HTMLResponse(html, status)

    def routes(self) -> list[Any]:
        pages: list[tuple[str, str, Callable[[Request], dict[str, Any]]]] = [
            ("/", "threads.html", self.threads),
            ("/thread", "thread.html", self.thread),
            ("/checkpoint", "checkpoint.html", self.checkpoint),
            ("/diff", "diff.html", self.diff),
            ("/health", "health.html", self.health_data),
        ]
        out: list[Any] = []
        for path, template, build in pages:
            out.append(Route(path, self._html(template, build), name=template[:-5]))
            api = "/api/threads" if path == "/" else f"/api{path}"
            out.append(Route(api, self._json(build)))
        out += [
            Route("/snapshot", self.download),
            Route("/delete", self.delete, methods=["POST"]),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ]
        return out

    # -- the views, from query parameters ----------------------------------------------------

    def threads(self, request: Request) -> dict[str, Any]:
        q = request.query_params
        page = _int(q.get("page"), 1)
        return dict(
            self.call(
                views.threads_view,
                self.infos,
                prefix=q.get("prefix", ""),
                meta=q.get("meta", ""),
                page=page,
            )
        )

    def thread(self, request: Request) -> dict[str, Any]:
        q = request.query_params
        return dict(self.call(views.thread_view, _required(q.get("id"), "id"), q.get("ns", "")))

    def checkpoint(self, request: Request) -> dict[str, Any]:
        q = request.query_params
        thread_id, ns = _required(q.get("thread"), "thread"), q.get("ns", "")
        cid = q.get("id") or self.call(views.latest_id, thread_id, ns)
        return dict(self.call(views.checkpoint_view, thread_id, cid, ns))

    def diff(self, request: Request) -> dict[str, Any]:
        q = request.query_params
        thread_id, ns = _required(q.get("thread"), "thread"), q.get("ns", "")
        a, b = _required(q.get("a"), "a"), q.get("b") or self.call(views.latest_id, thread_id, ns)
        return dict(self.call(views.diff_view, thread_id, a, b, ns))

    def health_data(self, request: Request) -> dict[str, Any]:
        run = request.query_params.get("verify") == "1"
        return dict(self.call(views.health_view, self.health, run_verify=run))

    # -- wrappers ------------------------------------------------------------------------------

    def _html(self, template: str, build: Callable[[Request], dict[str, Any]]) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                data = await _in_thread(build, request)
            except (_BadRequest, PersistError) as exc:
                return self.page("error.html", request, _status(exc), error=str(exc))
            return self.page(template, request, data=data)

        return endpoint

    def _json(self, build: Callable[[Request], dict[str, Any]]) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                data = await _in_thread(build, request)
            except (_BadRequest, PersistError) as exc:
                return JSONResponse({"error": str(exc)}, _status(exc))
            return JSONResponse(data)

        return endpoint

    async def download(self, request: Request) -> Response:
        """The thread's snapshot (``.lgps``), as ``langgraph-persist export`` writes it."""
        thread_id = request.query_params.get("thread")
        if not thread_id:
            return PlainTextResponse("missing parameter 'thread'", 400)
        folder = tempfile.mkdtemp(prefix="lgp-ui-")
        path = os.path.join(folder, "thread.lgps")
        try:
            await _in_thread(self._snapshot, thread_id, path)
        except (NotFoundError, PersistError) as exc:
            shutil.rmtree(folder, ignore_errors=True)
            status = 404 if isinstance(exc, NotFoundError) else 500
            return PlainTextResponse(str(exc), status)
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in thread_id)[:80]
        return FileResponse(
            path,
            media_type="application/octet-stream",
            filename=f"{safe or 'thread'}.lgps",
            background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
        )

    def _snapshot(self, thread_id: str, path: str) -> None:
        with self.lock:
            if thread_id not in self.saver.threads():
                raise NotFoundError(f"no thread {thread_id!r}")
            snapshot.snapshot(self.saver, thread_id, path)

    async def delete(self, request: Request) -> Response:
        """Delete a thread: only with --allow-writes, a valid CSRF token and the id retyped."""
        if not self.allow_writes:
            return PlainTextResponse("read-only: start the UI with --allow-writes to delete", 403)
        form = await request.form()
        thread_id, confirm = form.get("thread"), form.get("confirm")
        csrf = form.get("csrf")
        if not isinstance(csrf, str) or not _same(csrf, self.csrf):
            return PlainTextResponse("bad or missing CSRF token: reload the page", 403)
        if not isinstance(thread_id, str) or not thread_id:
            return PlainTextResponse("missing field 'thread'", 400)
        if confirm != thread_id:
            return PlainTextResponse("not deleted: type the thread id to confirm", 400)
        try:
            await _in_thread(self._delete, thread_id)
        except NotFoundError as exc:
            return PlainTextResponse(str(exc), 404)
        return RedirectResponse(_link("/", deleted=thread_id), status_code=303)

    def _delete(self, thread_id: str) -> None:
        with self.lock:
            if thread_id not in self.saver.threads():
                raise NotFoundError(f"no thread {thread_id!r}")
            self.saver.delete_thread(thread_id)  # writes the audit log


class _BadRequest(ValueError):
    """A missing or malformed query parameter."""


def _status(exc: Exception) -> int:
    """400 for what the request got wrong, 404 for what is not there, 500 for the store."""
    if isinstance(exc, (_BadRequest, InvalidIdError, ConfigurationError)):
        return 400
    return 404 if isinstance(exc, NotFoundError) else 500


def _required(value: str | None, name: str) -> str:
    if not value:
        raise _BadRequest(f"missing parameter {name!r}")
    return value


def _int(value: str | None, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise _BadRequest(f"{value!r} is not a number") from None


async def _in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    from starlette.concurrency import run_in_threadpool

    try:
        return await run_in_threadpool(fn, *args)
    except ValueError as exc:
        if isinstance(exc, PersistError):
            raise
        raise _BadRequest(str(exc)) from exc


def create_app(
    saver: PersistSaver,
    *,
    token: str | None = None,
    allow_writes: bool = False,
    store_label: str = "",
    check_host: bool | None = None,
) -> Starlette:
    """The web UI over ``saver``.

    Args:
        token: required on every request when set (``serve`` sets one for any
            non-loopback address).
        allow_writes: offer "delete thread" (confirmed, audited). Off: read-only.
        store_label: what the pages call the store (its path or URL).
        check_host: refuse requests whose ``Host`` is not a loopback name
            (default: when there is no token).
    """
    ui = UI(saver, store_label=store_label, allow_writes=allow_writes)
    guard = Middleware(
        _Guard, token=token, check_host=(token is None) if check_host is None else check_host
    )
    app = Starlette(routes=ui.routes(), middleware=[guard])
    app.state.ui = ui
    return app
