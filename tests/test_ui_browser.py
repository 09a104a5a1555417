"""The web UI in a real browser: headless Chromium (Debian's ``chromium``) driven by Playwright.

One store written by real graphs (tests/ui_store.py), one uvicorn server on a
free loopback port, one browser for the module. The tests click through
threads -> thread -> checkpoint -> diff and assert on what is rendered, and
take a screenshot of each view: into ``tmp_path`` always, and into
``docs/ui/`` when ``LGP_UPDATE_SCREENSHOTS=1`` (docs/ui.md shows those).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import playwright.sync_api as sync_api
import pytest
import uvicorn

from langgraph_persist import PersistSaver
from langgraph_persist.ui import create_app
from tests.ui_store import SCRIPT, build_store, free_port, wait_ready

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DOCS = Path(__file__).resolve().parent.parent / "docs" / "ui"


@pytest.fixture(autouse=True, scope="module")
def _chromium_is_installed() -> None:
    """A missing browser fails these tests loudly: skipped, they would prove nothing."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"no chromium at {CHROMIUM}: install Debian's chromium (.ci/run does)")


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = tmp_path_factory.mktemp("ui-browser") / "store"
    with PersistSaver(path) as saver:
        build_store(saver)
    with PersistSaver(path, read_only=True) as saver:
        app = create_app(saver, store_label="./checkpoints")
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{port}"
        wait_ready(url + "/static/style.css")
        yield url
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    yield pg
    context.close()


def shot(page: Any, tmp_path: Path, name: str) -> None:
    """Screenshot into tmp_path (asserted non-empty), and into docs/ui/ when asked."""
    target = tmp_path / f"{name}.png"
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 1000
    if os.environ.get("LGP_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, DOCS / f"{name}.png")


def test_click_through_threads_thread_checkpoint_diff(
    page: Any, base_url: str, tmp_path: Path
) -> None:
    page.goto(base_url + "/")
    table = page.locator("#threads")
    assert "chat-alice" in table.inner_text()
    interrupted = page.locator("#threads tr", has_text="approval-1")
    assert "interrupted" in interrupted.inner_text()
    assert "2 namespaces" in page.locator("#threads tr", has_text="subgraph-1").inner_text()
    shot(page, tmp_path, "threads")

    page.click("a.thread:text-is('chat-alice')")
    page.wait_for_url("**/thread?id=chat-alice")
    timeline = page.locator("#timeline")
    assert "fork of" in timeline.inner_text()
    assert "1 fork" in page.locator("main").inner_text()
    for cell in ("tools", "agent", "loop", "input", "update", "run-1", "run-4"):
        assert cell in timeline.inner_text()
    shot(page, tmp_path, "thread")

    # the fork starts at the update after the first turn; its parent has two children
    fork_row = page.locator("#timeline tr", has_text="fork of")
    assert "update" in fork_row.inner_text()
    # the newest checkpoint of the first line: the third run's last step
    page.locator("#timeline tr", has_text="run-3").first.locator("a.checkpoint").click()
    page.wait_for_url("**/checkpoint?*")
    chat = page.locator("section.chat")
    text = chat.inner_text()
    assert "HUMAN" in text and "AI" in text and "TOOL" in text
    assert "lookup" in page.locator(".toolcall").first.inner_text()
    assert "the answer is 42" in text
    assert page.locator("img.thumb").count() == 1  # the image, shown small
    box = page.locator("img.thumb").bounding_box()
    assert box is not None and box["width"] <= 160
    # the script is text on the page, and never ran
    message = page.locator(".msg.role-human .content", has_text="document.title")
    assert message.inner_text() == SCRIPT
    assert page.locator("script").count() == 0
    assert page.title() != "pwned"
    # the long message is folded until opened
    assert "turns" in page.locator("section.channels").inner_text()
    assert "alice" in page.locator("section.metadata").inner_text()
    shot(page, tmp_path, "checkpoint")
    folded = page.locator("details.fold", has_text="line 0:").first
    assert folded.get_attribute("open") is None
    assert not folded.locator("pre").is_visible()
    folded.locator("summary").click()
    assert "line 39:" in folded.locator("pre").inner_text()

    page.click("a.diffparent")
    page.wait_for_url("**/diff?*")
    assert "Changed channels" in page.locator("#changed").inner_text()
    assert "messages" in page.locator("#changed").inner_text()
    added = page.locator("#ch-messages .added")
    assert "the answer is 42" in added.inner_text()
    shot(page, tmp_path, "diff")


def test_compare_two_checkpoints_from_the_timeline(page: Any, base_url: str) -> None:
    page.goto(base_url + "/thread?id=chat-alice")
    rows = page.locator("#timeline tbody tr")
    rows.last.locator("input[name=a]").check()  # the thread's first checkpoint
    rows.first.locator("input[name=b]").check()
    page.click("#compare")
    page.wait_for_url("**/diff?*")
    section = page.locator("#ch-turns")
    assert "added" in section.inner_text()
    assert page.locator(".side.a").first.inner_text().startswith("A")


def test_search_paging_and_interrupt(page: Any, base_url: str, tmp_path: Path) -> None:
    page.goto(base_url + "/")
    assert "page 1 of 2" in page.locator("nav.pager").inner_text()
    page.click("a[rel=next]")
    assert "page 2 of 2" in page.locator("nav.pager").inner_text()
    page.fill("input[name=meta]", "user=bob")
    page.click("button[type=submit]")
    rows = page.locator("#threads tbody tr")
    assert rows.count() == 1 and "approval-1" in rows.inner_text()
    page.fill("input[name=meta]", "")
    page.fill("input[name=prefix]", "bulk-4")
    page.click("button[type=submit]")
    assert page.locator("#threads tbody tr").count() == 10
    page.goto(base_url + "/checkpoint?thread=approval-1")
    assert "approve refund?" in page.locator("section.interrupts").inner_text()


def test_subgraph_namespaces_navigable(page: Any, base_url: str, tmp_path: Path) -> None:
    page.goto(base_url + "/thread?id=subgraph-1")
    links = page.locator("nav.namespaces a.ns")
    assert links.count() == 1
    links.first.click()
    page.wait_for_url("**ns=child*")
    timeline = page.locator("#timeline").inner_text()
    assert "child_a" in timeline and "child_b" in timeline
    shot(page, tmp_path, "subgraph")


def test_health_page(page: Any, base_url: str, tmp_path: Path) -> None:
    page.goto(base_url + "/health")
    assert page.locator("#verify-status").inner_text() == "OK"
    stats = page.locator("#stats").inner_text()
    assert "Bytes on disk" in stats and "58" in stats
    shot(page, tmp_path, "health")


def test_script_check_can_fail(page: Any) -> None:
    """Negative control: the same markup unescaped does run, and the test above would see it."""
    page.set_content(f'<div class="msg role-human"><div class="content">{SCRIPT}</div></div>')
    assert page.title() == "pwned"
    assert page.locator("script").count() == 1
    assert page.locator(".msg.role-human .content").inner_text() != SCRIPT
