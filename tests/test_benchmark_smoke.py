"""Smoke test of ``python -m benchmarks.run --quick``: it runs, and every saver it covers has rows.

Benchmarks are not unit tests (issue 5): nothing here looks at a timing. What
is checked is that the script works end to end on this machine (traces,
exactness check, every workload, the fresh-process W7 child), that each
``--quick`` saver got figures rather than a failure, and that it cleans up.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUICK_SAVERS = ("InMemorySaver", "SqliteSaver", "PersistSaver fsync", "PersistSaver none")


def _summary_rows(markdown: str) -> dict[str, list[str]]:
    """Saver name -> cells of the summary table."""
    section = markdown.split("### Summary", 1)[1].split("### Targets", 1)[0]
    rows = {}
    for line in section.splitlines():
        if line.startswith("| ") and not line.startswith("| Saver"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0].strip("*")] = cells
    return rows


def test_quick_benchmark_runs_and_reports_every_saver(tmp_path: Path) -> None:
    out = tmp_path / "results.md"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--markdown", str(out)],
        cwd=ROOT,
        env={**os.environ, "LGP_BENCH_DIR": str(scratch)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    markdown = out.read_text(encoding="utf-8")
    rows = _summary_rows(markdown)
    assert set(QUICK_SAVERS) <= set(rows), rows.keys()
    for name in QUICK_SAVERS:
        cells = rows[name]
        assert "FAILED" not in cells, (name, cells)
        assert cells[-1] == "yes", f"{name}: get_tuple differs from InMemorySaver's: {cells}"
        assert cells[2][0].isdigit(), (name, cells)  # W1 produced a figure
    for section in ("### Targets", "#### W5", "#### W6", "#### W7"):
        assert section in markdown
    assert list(scratch.iterdir()) == [], "the benchmark left its scratch directory behind"
