"""``langgraph-persist serve``: a web page to browse a store's threads, history, state and diffs.

A client of ``PersistSaver``'s public API, like the CLI (see docs/ui.md).
Needs the ``[ui]`` extra (Starlette, uvicorn, Jinja2); ``langgraph-persist
serve`` turns a missing one into a one-line hint naming the extra.
"""

from __future__ import annotations

from langgraph_persist.ui.app import create_app

__all__ = ["create_app"]
