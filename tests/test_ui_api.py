"""The web UI's JSON API and its security, over HTTP (Starlette's TestClient; no browser).

The store is written by real graphs (tests/ui_store.py). Each guarantee has a
negative control: the same request with the protection off (no token, writes
not allowed, a wrong CSRF token...) behaves differently, so the test can fail.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from langgraph_persist import PersistSaver
from langgraph_persist.snapshot import verify_snapshot
from langgraph_persist.store.tiered import HotTierOptions
from langgraph_persist.ui import create_app
from langgraph_persist.ui.views import PAGE_SIZE
from tests.damage import checkpoint_key, damage
from tests.graphs import chat_graph, human
from tests.ui_store import LONG, SCRIPT, build_store

LOCAL = "http://127.0.0.1"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    path = tmp_path_factory.mktemp("ui-api") / "store"
    with PersistSaver(path) as saver:
        facts = build_store(saver)
    return path, facts


@pytest.fixture(scope="module")
def saver(built: tuple[Path, dict[str, Any]]) -> Iterator[PersistSaver]:
    with PersistSaver(built[0], read_only=True) as s:
        yield s


@pytest.fixture(scope="module")
def client(saver: PersistSaver) -> TestClient:
    return TestClient(create_app(saver, store_label="test"), base_url=LOCAL)


def test_threads_newest_first_with_counts_badges_and_paging(client: TestClient) -> None:
    first = client.get("/api/threads").json()
    assert first["total"] == 3 + 55
    assert first["pages"] == 2 and len(first["threads"]) == PAGE_SIZE
    times = [t["latest_time"] for t in first["threads"]]
    assert times == sorted(times, reverse=True)
    second = client.get("/api/threads", params={"page": 2}).json()
    ids = {t["thread_id"]: t for t in first["threads"] + second["threads"]}
    assert len(ids) == 58  # every thread once over the two pages
    assert ids["approval-1"]["interrupted"] is True
    assert ids["chat-alice"]["interrupted"] is False
    assert ids["subgraph-1"]["namespaces"] == 2
    assert ids["chat-alice"]["checkpoints"] > 10 and ids["chat-alice"]["stored_bytes"] > 0
    assert ids["chat-alice"]["latest_metadata"]["user"] == "alice"
    assert isinstance(ids["bulk-00"]["latest_step"], int)


def test_threads_search_by_prefix_and_metadata(client: TestClient) -> None:
    by_prefix = client.get("/api/threads", params={"prefix": "bulk-1"}).json()
    assert sorted(t["thread_id"] for t in by_prefix["threads"]) == [
        f"bulk-{n}" for n in range(10, 20)
    ]
    by_user = client.get("/api/threads", params={"meta": "user=bob"}).json()
    assert [t["thread_id"] for t in by_user["threads"]] == ["approval-1"]
    assert client.get("/api/threads", params={"meta": "user=nobody"}).json()["total"] == 0
    bad = client.get("/api/threads", params={"meta": "user"})
    assert bad.status_code == 400 and "KEY=VALUE" in bad.json()["error"]


def test_thread_timeline_shows_the_fork_as_a_branch(
    client: TestClient, built: tuple[Path, dict[str, Any]]
) -> None:
    data = client.get("/api/thread", params={"id": "chat-alice"}).json()
    rows = data["timeline"]
    assert data["lanes"] == 2  # the main line and one fork
    forks = [r for r in rows if r.get("fork_of")]
    assert len(forks) == 1 and forks[0]["fork_of"] == built[1]["fork_from"]
    assert {r["lane"] for r in rows} == {0, 1}
    by_id = {r["checkpoint_id"]: r for r in rows}
    children = [r for r in rows if r["parent_id"] == built[1]["fork_from"]]
    assert len(children) == 2  # the fork point has two children
    for r in rows:
        assert r["source"] in ("input", "loop", "update")
        assert isinstance(r["step"], int) and r["time"] and r["bytes"] > 0
        assert r["parent_id"] is None or r["parent_id"] in by_id
    assert {"agent", "tools"} <= {w for r in rows for w in r["writers"]}
    assert {r["run_id"] for r in rows if r["source"] == "loop"} == {
        f"run-{n}" for n in (1, 2, 3, 4)
    }
    assert rows == sorted(rows, key=lambda r: r["checkpoint_id"], reverse=True)


def test_thread_namespaces_navigable(client: TestClient) -> None:
    root = client.get("/api/thread", params={"id": "subgraph-1"}).json()
    assert len(root["namespaces"]) == 2 and root["namespaces"][0] == ""
    child_ns = root["namespaces"][1]
    assert child_ns.startswith("child:")
    child = client.get("/api/thread", params={"id": "subgraph-1", "ns": child_ns}).json()
    assert child["checkpoint_ns"] == child_ns
    assert {w for r in child["timeline"] for w in r["writers"]} >= {"child_a", "child_b"}
    assert client.get("/api/thread", params={"id": "subgraph-1", "ns": "nosuch"}).status_code == 404
    assert client.get("/api/thread", params={"id": "nosuch"}).status_code == 404
    assert client.get("/api/thread").status_code == 400


def test_checkpoint_messages_tool_calls_images_writes_interrupts(client: TestClient) -> None:
    thread = client.get("/api/thread", params={"id": "chat-alice"}).json()
    main = next(r for r in thread["timeline"] if r["lane"] == 0)  # newest of the first line
    data = client.get(
        "/api/checkpoint", params={"thread": "chat-alice", "id": main["checkpoint_id"]}
    ).json()
    messages = data["messages"]["messages"]
    assert {m["type"] for m in messages} == {"human", "ai", "tool"}
    calls = [c for m in messages for c in m.get("tool_calls", [])]
    assert calls and calls[0]["name"] == "lookup" and "query" in calls[0]["args"]
    results = [m for m in messages if m["type"] == "tool"]
    assert {r["tool_call_id"] for r in results} == {c["id"] for c in calls}
    parts = [p for m in messages for p in m["parts"]]
    assert any(p["type"] == "image" and p["src"].startswith("data:image/png") for p in parts)
    assert any(p.get("text") == SCRIPT for p in parts)
    assert any(p.get("text") == LONG for p in parts)
    assert data["channels"]["turns"] == 3
    assert data["metadata"]["user"] == "alice"

    waiting = client.get("/api/checkpoint", params={"thread": "approval-1"}).json()
    assert waiting["interrupts"][0]["value"][0]["value"] == {"question": "approve refund?"}
    first = client.get("/api/thread", params={"id": "approval-1"}).json()["timeline"][-1]
    inputs = client.get(
        "/api/checkpoint", params={"thread": "approval-1", "id": first["checkpoint_id"]}
    ).json()
    assert {w["channel"] for w in inputs["pending_writes"]} >= {"request", "log"}
    missing = client.get("/api/checkpoint", params={"thread": "chat-alice", "id": "nosuch"})
    assert missing.status_code in (400, 404)


def test_diff_channels_messages_and_values(
    client: TestClient, built: tuple[Path, dict[str, Any]]
) -> None:
    rows = client.get("/api/thread", params={"id": "chat-alice"}).json()["timeline"]
    a = built[1]["fork_from"]  # after the first turn
    b = next(r for r in rows if r["lane"] == 0)["checkpoint_id"]  # after the third
    data = client.get("/api/diff", params={"thread": "chat-alice", "a": a, "b": b}).json()
    assert set(data["changed"]) >= {"messages", "turns"}
    by = {c["channel"]: c for c in data["channels"]}
    added = by["messages"]["messages"]["added"]
    assert any(p.get("text") == SCRIPT for m in added for p in m["parts"])
    assert by["messages"]["messages"]["removed"] == []
    assert by["turns"]["a"] == 1 and by["turns"]["b"] == 3
    assert "-1" in by["turns"]["value_diff"] and "+3" in by["turns"]["value_diff"]
    same = client.get("/api/diff", params={"thread": "chat-alice", "a": b, "b": b}).json()
    assert same["changed"] == []  # negative control: a checkpoint against itself


def test_health_verify_stats_tiers(client: TestClient) -> None:
    data = client.get("/api/health").json()
    assert data["verify"]["ok"] is True and data["verify"]["damaged"] == []
    stats = data["stats"]
    assert stats["threads"] == 58 and stats["checkpoints"] > 58
    assert stats["bytes_total"] > 0 and stats["bytes_on_disk"] > 0
    assert stats["dedup_ratio"] > 1  # the chats share their history between checkpoints
    assert data["tiered"] is False and "cold" in data["tiers"]
    assert "Dedup ratio" in client.get("/health").text


def test_snapshot_download_is_a_valid_lgps(client: TestClient, tmp_path: Path) -> None:
    response = client.get("/snapshot", params={"thread": "chat-alice"})
    assert response.status_code == 200
    assert "chat-alice.lgps" in response.headers["content-disposition"]
    (tmp_path / "t.lgps").write_bytes(response.content)
    info = verify_snapshot(tmp_path / "t.lgps")
    assert info.thread_id == "chat-alice" and info.checkpoint_count > 10
    assert client.get("/snapshot", params={"thread": "nosuch"}).status_code == 404


def test_script_in_a_message_is_escaped_in_the_html(client: TestClient) -> None:
    rows = client.get("/api/thread", params={"id": "chat-alice"}).json()["timeline"]
    tip = next(r for r in rows if r["lane"] == 0)["checkpoint_id"]  # the line with the script
    html = client.get("/checkpoint", params={"thread": "chat-alice", "id": tip}).text
    assert "&lt;script&gt;document.title=" in html
    assert SCRIPT not in html
    # the only <script> would be ours, and there is none: the CSP forbids inline ones anyway
    assert "<script" not in html.lower()
    csp = client.get("/").headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_token_checked_on_every_request(saver: PersistSaver) -> None:
    app = create_app(saver, token="s3cret-token")
    anon = TestClient(app, base_url="http://192.0.2.10")
    for path in ("/", "/api/threads", "/api/health", "/static/style.css", "/snapshot?thread=x"):
        assert anon.get(path).status_code == 401, path
    assert anon.get("/", headers={"Authorization": "Bearer wrong"}).status_code == 401
    wrong_cookie = TestClient(app, base_url="http://192.0.2.10", cookies={"lgp_token": "s3cret"})
    assert wrong_cookie.get("/").status_code == 401
    ok = anon.get("/api/threads", headers={"Authorization": "Bearer s3cret-token"})
    assert ok.status_code == 200
    # ?token= sets an HttpOnly cookie and redirects to the same page without it
    first = TestClient(app, base_url="http://192.0.2.10", follow_redirects=False)
    hop = first.get("/thread?id=chat-alice&token=s3cret-token")
    assert hop.status_code == 303 and hop.headers["location"] == "/thread?id=chat-alice"
    assert "HttpOnly" in hop.headers["set-cookie"]
    assert first.get("/thread?id=chat-alice").status_code == 200  # the cookie now
    # negative control: without a token the same remote request goes through the token check
    # (and is refused for its Host instead)
    open_app = TestClient(create_app(saver, check_host=False), base_url="http://192.0.2.10")
    assert open_app.get("/api/threads").status_code == 200


def test_without_token_only_loopback_host_names(saver: PersistSaver) -> None:
    app = create_app(saver)
    assert TestClient(app, base_url="http://127.0.0.1:8765").get("/").status_code == 200
    assert TestClient(app, base_url="http://localhost:8765").get("/").status_code == 200
    assert TestClient(app, base_url="http://127.0.0.2:8765").get("/").status_code == 200
    assert TestClient(app, base_url="http://[::1]:8765").get("/").status_code == 200
    for host in ("evil.example", "localhost.evil.example", "192.0.2.1", "[2001:db8::1]"):
        assert TestClient(app, base_url=f"http://{host}:8765").get("/").status_code == 421
    rebound = TestClient(app, base_url="http://evil.example:8765").get("/")
    assert rebound.status_code == 421


def test_read_only_by_default(saver: PersistSaver, client: TestClient) -> None:
    refused = client.post("/delete", data={"thread": "bulk-00", "confirm": "bulk-00"})
    assert refused.status_code == 403
    assert "Delete thread" not in client.get("/thread", params={"id": "bulk-00"}).text
    assert "bulk-00" in saver.threads()


def test_delete_needs_flag_csrf_and_confirmation_and_is_audited(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    with PersistSaver(tmp_path / "store", audit_log=audit) as writer:
        build_store(writer, bulk=55)
        app = create_app(writer, allow_writes=True)
        client = TestClient(app, base_url=LOCAL, follow_redirects=False)
        page = client.get("/thread", params={"id": "bulk-54"}).text
        assert "Delete thread" in page
        found = re.search(r'name="csrf" value="([^"]+)"', page)
        assert found is not None
        csrf = found.group(1)
        form = {"thread": "bulk-54", "confirm": "bulk-54", "csrf": csrf}
        assert client.post("/delete", data={**form, "csrf": "forged"}).status_code == 403
        assert client.post("/delete", data={**form, "confirm": "bulk-5"}).status_code == 400
        assert "bulk-54" in writer.threads()  # the refusals changed nothing
        assert not audit.exists() or "bulk-54" not in audit.read_text()
        done = client.post("/delete", data=form)
        assert done.status_code == 303
        assert "bulk-54" not in writer.threads()
        entries = [json.loads(line) for line in audit.read_text().splitlines()]
        assert any(e.get("op") == "delete_thread" for e in entries)
        assert client.post("/delete", data=form).status_code == 404


def test_thread_list_follows_new_checkpoints(tmp_path: Path) -> None:
    """The list caches thread_info per newest checkpoint id: a new checkpoint shows at once."""
    with PersistSaver(tmp_path / "store") as writer:
        graph = chat_graph().compile(checkpointer=writer)
        for name in ("old", "new"):
            graph.invoke(human("hi"), {"configurable": {"thread_id": name}})
        client = TestClient(create_app(writer), base_url=LOCAL)
        before = client.get("/api/threads").json()["threads"]
        assert [t["thread_id"] for t in before] == ["new", "old"]
        graph.invoke(human("again"), {"configurable": {"thread_id": "old"}})
        after = client.get("/api/threads").json()["threads"]
        assert [t["thread_id"] for t in after] == ["old", "new"]
        assert after[0]["checkpoints"] > before[1]["checkpoints"]


def test_damaged_checkpoint_named_on_health_and_marked_in_its_thread(tmp_path: Path) -> None:
    with PersistSaver(tmp_path / "store") as writer:
        graph = chat_graph().compile(checkpointer=writer)
        for name in ("good", "hurt"):
            graph.invoke(human("hi"), {"configurable": {"thread_id": name}})
        client = TestClient(create_app(writer), base_url=LOCAL)
        # negative control: before the damage, all is well
        assert client.get("/api/health").json()["verify"]["ok"] is True
        rows = client.get("/api/thread", params={"id": "hurt"}).json()["timeline"]
        victim = rows[1]["checkpoint_id"]
        damage(writer, checkpoint_key("hurt", victim, saver=writer), "flip")
        health = client.get("/api/health", params={"verify": "1"}).json()["verify"]
        assert health["ok"] is False
        assert [(d["thread_id"], d["checkpoint_id"]) for d in health["damaged"]] == [
            ("hurt", victim)
        ]
        page = client.get("/health").text
        assert "DAMAGED" in page and "/thread?id=hurt" in page
        after = client.get("/api/thread", params={"id": "hurt"}).json()["timeline"]
        marked = {r["checkpoint_id"]: r for r in after}
        assert "damaged" in marked[victim]
        assert all("damaged" not in r for cid, r in marked.items() if cid != victim)
        assert "good" in [t["thread_id"] for t in client.get("/api/threads").json()["threads"]]


def test_health_shows_the_hot_tier(tmp_path: Path, redis_url: str, redis_prefix: str) -> None:
    hot = HotTierOptions(key_prefix=redis_prefix)
    with PersistSaver(tmp_path / "store", redis=redis_url, hot=hot) as tiered:
        graph = chat_graph().compile(checkpointer=tiered)
        graph.invoke(human("hi"), {"configurable": {"thread_id": "t"}})
        data = TestClient(create_app(tiered), base_url=LOCAL).get("/api/health").json()
    assert data["tiered"] is True
    assert data["tiers"]["degraded"] is False and "hot" in data["tiers"]
    assert data["stats"]["checkpoints"] == 3
