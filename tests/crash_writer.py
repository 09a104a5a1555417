"""A writer in a fresh interpreter for crash tests: resumes a thread, then writes turns forever.

    python -m tests.crash_writer STORE THREAD ROUND [--layout sqlite|files]

The same writer as ``tests/fork_killer.py``'s forked children (``fork_killer.writer``),
started the way a real program starts: on stdout, first ``{"resume": ...}`` (the
head it found: turns, message count, digest of every message), then one
``{"ack": ...}`` line per turn whose ``invoke(durability="sync")`` returned.
Everything acknowledged must survive a SIGKILL at any later moment.

If anything raises, the traceback goes to stderr and the exit status is 3, so
a test that killed it, and expects exactly ``-SIGKILL``, cannot mistake a
writer that failed for one it killed.
"""

from __future__ import annotations

import sys
import traceback

from tests.fork_killer import Options, writer


def main(argv: list[str]) -> int:
    store, thread, round_no = argv[1], argv[2], int(argv[3])
    layout = argv[argv.index("--layout") + 1] if "--layout" in argv else "sqlite"
    try:
        writer(Options(store, layout, None, None), thread, round_no, sys.stdout.fileno())
    except BaseException:
        traceback.print_exc()
        return 3
    return 0  # unreachable: the writer runs until it is killed


if __name__ == "__main__":
    sys.exit(main(sys.argv))
