"""The ``langgraph-persist`` command: a thin client of the library (see docs/cli.md).

One module per command group: ``browse`` (threads, history, show, diff),
``maintain`` (verify, gc, stats, prune, upgrade, backup, restore), ``edit``
(delete, drop), ``transfer`` (export, import, inspect, migrate); ``_common``
holds the group, shared options and exit codes.
"""

from __future__ import annotations

from collections.abc import Sequence

from langgraph_persist.cli import browse, edit, maintain, transfer
from langgraph_persist.cli import serve as serve  # the web UI command (needs the ui extra)
from langgraph_persist.cli._common import EXIT_CODES, cli

__all__ = ["EXIT_CODES", "browse", "cli", "edit", "main", "maintain", "transfer"]


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point (``langgraph-persist``, ``python -m langgraph_persist``)."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="langgraph-persist")
