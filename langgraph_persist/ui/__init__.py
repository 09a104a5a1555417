"""``langgraph-persist serve``: a web page to browse a store's threads, history, state and diffs.

A client of ``PersistSaver``'s public API, like the CLI (see docs/ui.md).
Needs the ``[ui]`` extra (Starlette, uvicorn, Jinja2); importing this package
without it raises an ``ImportError`` that names the extra.
"""

from __future__ import annotations

try:
    import jinja2  # noqa: F401
    import starlette  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("the web UI needs the ui extra: pip install 'langgraph-persist[ui]'") from exc

from langgraph_persist.ui.app import create_app

__all__ = ["create_app"]
