"""The web UI on a large store, measured in the browser (docs/benchmarks.md, "Web UI").

Builds (once; reused when the directory exists) a store of THREADS threads of
CHECKPOINTS checkpoints each, written by a real LangGraph loop graph, serves
it with ``langgraph_persist.ui`` on a loopback port, and times in headless
Chromium (Playwright, Debian's ``/usr/bin/chromium``) how long the thread list
(first page, then a later page and a prefix search) and one thread page (its
whole timeline) take to load: from navigation start to the load event, the
median of ``--repeat`` loads after one warm-up load.

    python -m benchmarks.ui_large_store --store /tmp/ui-large [--threads 1000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn
from playwright.sync_api import sync_playwright

from langgraph_persist import PersistSaver
from langgraph_persist.ui import create_app
from tests.graphs import loop_graph
from tests.ui_store import free_port, wait_ready


def build(path: Path, threads: int, checkpoints: int) -> float:
    """Write the store; returns seconds taken."""
    started = time.perf_counter()
    with PersistSaver(path, durability="none") as saver:
        graph = loop_graph(checkpoints - 2).compile(checkpointer=saver)
        for n in range(threads):
            config: Any = {
                "configurable": {"thread_id": f"user-{n:05d}"},
                "metadata": {"user": f"u{n % 50}"},
                "recursion_limit": checkpoints + 10,
            }
            graph.invoke({"n": 0, "trail": []}, config)
            if n % 100 == 99:
                print(f"  {n + 1} threads written", file=sys.stderr, flush=True)
    return time.perf_counter() - started


NAVIGATION_MS = (
    "() => { const n = performance.getEntriesByType('navigation')[0];"
    " return n.loadEventEnd - n.startTime; }"
)


def load_ms(page: Any, url: str, repeat: int) -> tuple[float, list[float]]:
    """Navigation start to load event, in ms: the first load (the server's caches cold),
    then ``repeat`` more."""
    page.goto(url)
    first = float(page.evaluate(NAVIGATION_MS))
    out = []
    for _ in range(repeat):
        page.goto(url)
        out.append(float(page.evaluate(NAVIGATION_MS)))
    return first, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", default="/tmp/lgp-ui-large", type=Path)
    parser.add_argument("--threads", type=int, default=1000)
    parser.add_argument("--checkpoints", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    if args.rebuild and args.store.exists():
        shutil.rmtree(args.store)
    if not args.store.exists():
        print(f"building {args.threads} x {args.checkpoints} checkpoints in {args.store}")
        print(f"built in {build(args.store, args.threads, args.checkpoints):.0f} s")
    with PersistSaver(args.store, read_only=True) as saver:
        stats = saver.stats()
        print(
            f"store: {stats.threads} threads, {stats.checkpoints} checkpoints, "
            f"{(stats.bytes_on_disk or 0) / 1e6:.0f} MB on disk"
        )
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(create_app(saver), host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{port}"
        wait_ready(base + "/static/style.css")
        chromium = shutil.which("chromium") or "/usr/bin/chromium"
        middle = f"user-{args.threads // 2:05d}"
        views = {
            "thread list, page 1": "/",
            "thread list, page 10": "/?page=10",
            "thread list, prefix search": "/?prefix=user-004",
            "thread list, metadata search": "/?meta=user%3Du7",
            f"thread page ({args.checkpoints} checkpoints)": f"/thread?id={middle}",
            "checkpoint page": f"/checkpoint?thread={middle}",
        }
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page()
            page.set_default_timeout(120_000)
            for name, path in views.items():
                first, times = load_ms(page, base + path, args.repeat)
                print(
                    f"{name:40s} first {first:6.0f} ms, then median "
                    f"{statistics.median(times):5.0f} ms "
                    f"(min {min(times):.0f}, max {max(times):.0f}, n={len(times)})"
                )
            browser.close()
        server.should_exit = True
        thread.join(timeout=30)
    print(f"cpus: {os.cpu_count()}, python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
