"""``docs/concepts.md``'s code map stays true: every module is listed, nothing listed is gone.

The map is the table under "## Code map". Its first column names modules in
backticks, relative to ``langgraph_persist/``: a file (``store/s3.py``), or a
package as a whole (``cli/``), which then covers every module inside it.
``__init__.py`` and ``__main__.py`` are package plumbing and need no row.

When it fails, the message says exactly which rows to add (with each module's
first docstring line as a starting point for "its one job") and which
entries to remove.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "langgraph_persist"
CONCEPTS = ROOT / "docs" / "concepts.md"
PLUMBING = {"__init__.py", "__main__.py"}


def map_entries(markdown: str) -> list[str]:
    """The backticked names in the first column of the "## Code map" table."""
    section = markdown.split("## Code map", 1)[1].split("\n## ", 1)[0]
    entries: list[str] = []
    for line in section.splitlines():
        cells = line.split("|")
        if line.startswith("|") and len(cells) > 2:
            entries += re.findall(r"`([^`]+)`", cells[1])
    return entries


def modules(package: Path) -> list[str]:
    """Every module of the package, as a path relative to it (``store/s3.py``)."""
    return sorted(
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        if path.name not in PLUMBING and "__pycache__" not in path.parts
    )


def first_docstring_line(path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or "(no docstring)"
    return doc.strip().splitlines()[0]


def code_map_problems(markdown: str, package: Path) -> tuple[list[str], list[str]]:
    """(modules with no row, entries that name nothing), each sorted."""
    entries = map_entries(markdown)
    packages = [e for e in entries if e.endswith("/")]
    unlisted = [
        m
        for m in modules(package)
        if m not in entries and not any(m.startswith(p) for p in packages)
    ]
    gone = sorted(
        e
        for e in entries
        if not (
            (package / e / "__init__.py").is_file()
            if e.endswith("/")
            else e.endswith(".py") and (package / e).is_file()
        )
    )
    return unlisted, gone


def describe(unlisted: list[str], gone: list[str], package: Path) -> str:
    lines = ["docs/concepts.md's code map (## Code map) is out of date."]
    if unlisted:
        lines.append("Add these rows (the job in your words; the module's docstring says):")
        lines += [f"| `{m}` | {first_docstring_line(package / m)} |" for m in unlisted]
    if gone:
        lines.append("Remove these entries (no such module or package):")
        lines += [f"`{e}`" for e in gone]
    return "\n".join(lines)


def test_code_map_lists_every_module_and_nothing_else() -> None:
    unlisted, gone = code_map_problems(CONCEPTS.read_text(encoding="utf-8"), PACKAGE)
    assert not (unlisted or gone), describe(unlisted, gone, PACKAGE)


def test_a_stale_code_map_fails_with_what_to_change() -> None:
    """Negative control: a map missing a module and naming a removed one is caught."""
    markdown = CONCEPTS.read_text(encoding="utf-8")
    assert "| `keys.py` |" in markdown
    stale = markdown.replace("| `keys.py` |", "| `kees.py` |", 1)
    unlisted, gone = code_map_problems(stale, PACKAGE)
    assert "keys.py" in unlisted and gone[-1:] == ["kees.py"]
    message = describe(unlisted, gone, PACKAGE)
    assert "| `keys.py` | " + first_docstring_line(PACKAGE / "keys.py") in message
    assert "`kees.py`" in message.split("Remove these entries")[1]
    # a package entry covers its modules; dropping it uncovers them
    without_cli = markdown.replace("| `cli/` |", "| (cli) |", 1)
    assert any(m.startswith("cli/") for m in code_map_problems(without_cli, PACKAGE)[0])
