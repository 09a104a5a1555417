"""Every Python sample in README.md and docs/ runs, as written, in a fresh directory.

Samples of one page run in order in one namespace (a page reads as one
session). The only substitution: the docs' ``redis://localhost:6379/0`` becomes
the test's own redis-server. A page may need a prelude (README's snippet
assumes your ``builder``); preludes are listed here, next to the reason.
"""

from __future__ import annotations

import contextlib
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
DOC_REDIS = "redis://localhost:6379/0"

PRELUDES = {
    # README's first sample is the three-line shape of usage over the reader's own graph.
    "scaling.md": "from tests.graphs import chat_graph\nbuilder = chat_graph()\n",
    "README.md": (
        "from tests.graphs import chat_graph, human\n"
        "builder = chat_graph()\n"
        "inputs = human('hello')\n"
    ),
}


def samples(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text())


def test_every_page_with_code_is_covered() -> None:
    with_code = [p.name for p in PAGES if samples(p)]
    assert "README.md" in with_code and "getting-started.md" in with_code
    assert len(with_code) >= 6, with_code


def scale_out_substitutions() -> Iterator[dict[str, str]]:
    """scaling.md deploys on S3 + Redis Cluster: point it at servers the test starts."""
    from tests.redis_cluster_server import RedisClusterServer
    from tests.s3_server import shared_server

    s3 = shared_server()
    bucket = s3.new_bucket()
    cluster = RedisClusterServer()
    cluster.start()
    try:
        yield {
            'S3Store("my-checkpoints", prefix="prod/agents")': (
                f'S3Store({bucket!r}, prefix="docs", client=__import__("tests.s3_server", '
                f'fromlist=["shared_server"]).shared_server().client())'
            ),
            '["10.0.0.5:7000", "10.0.0.6:7000"]': repr(cluster.url),
        }
    finally:
        cluster.stop()


@pytest.mark.parametrize("page", [p for p in PAGES if samples(p)], ids=lambda p: p.name)
def test_samples_run(
    page: Path, tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(ROOT))
    # a real module: LangGraph resolves a state's annotations through sys.modules
    module = types.ModuleType(f"docs_{page.stem.replace('-', '_')}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    namespace = module.__dict__
    code = PRELUDES.get(page.name, "")
    if code:
        exec(compile(code, f"{page.name}:prelude", "exec"), namespace)
    with contextlib.ExitStack() as stack:
        subs = {DOC_REDIS: redis_url}
        if page.name == "scaling.md":
            subs.update(stack.enter_context(contextlib.contextmanager(scale_out_substitutions)()))
        for i, sample in enumerate(samples(page)):
            for old, new in subs.items():
                sample = sample.replace(old, new)
            # a sample that raises fails the test, naming the page and sample
            exec(compile(sample, f"{page.name}:sample{i + 1}", "exec"), namespace)
