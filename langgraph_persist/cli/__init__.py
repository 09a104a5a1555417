"""The ``langgraph-persist`` command: a thin client of the library (see docs/cli.md).

One module per command group: ``browse`` (threads, history, show, diff),
``maintain`` (verify, gc, stats, prune, upgrade, backup, restore), ``edit``
(delete, drop, copy, fork), ``transfer`` (export, import, inspect, migrate);
``_common`` holds the group, shared options, exit codes and rich tables;
``_render``, ``_fold`` and ``_tree`` turn values and histories into text.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from langgraph_persist.cli import browse, edit, maintain, transfer
from langgraph_persist.cli import serve as serve  # the web UI command (needs the ui extra)
from langgraph_persist.cli._common import EXIT_CODES, cli, quiet_closed_pipe

__all__ = ["EXIT_CODES", "browse", "cli", "edit", "main", "maintain", "transfer"]


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point (``langgraph-persist``, ``python -m langgraph_persist``).

    Output still buffered when the command returns is flushed here, where a
    reader that went away (``threads | head -1``) ends the command quietly
    with its own exit code (0), not with Python's "Exception ignored" note.
    """
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="langgraph-persist")
        code: int | str | None = 0
    except SystemExit as exc:
        code = exc.code
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        quiet_closed_pipe()
    sys.exit(code)
