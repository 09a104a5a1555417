"""``langgraph-persist serve``: the command itself, run as a user runs it (a subprocess).

It opens the store like every command (an encrypted store needs its key),
binds loopback, and requires a token for any other address.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import uvicorn  # noqa: F401  (the [ui] extra: a missing one fails here, loudly)
from click.testing import CliRunner

from langgraph_persist import Encryption, PersistSaver
from langgraph_persist.cli import cli
from langgraph_persist.cli.serve import is_loopback, token_for
from tests.graphs import chat_graph, human
from tests.ui_store import free_port

ROOT = Path(__file__).resolve().parent.parent


def encrypted_store(path: Path) -> str:
    key = Encryption.generate_key()
    with PersistSaver(path, encryption=Encryption.from_keys({"k1": key})) as saver:
        graph = chat_graph().compile(checkpointer=saver)
        graph.invoke(human("secret hello"), {"configurable": {"thread_id": "enc-1"}})
    return f"k1:{key.hex()}"


def test_loopback_binds_need_no_token_others_get_one() -> None:
    for host in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"):
        assert is_loopback(host), host
        assert token_for(host, None) is None
    for host in ("0.0.0.0", "192.0.2.7", "::", "example.com", "localhost.example.com"):
        assert not is_loopback(host), host
        made = token_for(host, None)
        assert made is not None and len(made) >= 24
    assert token_for("0.0.0.0", None) != token_for("0.0.0.0", None)
    assert token_for("127.0.0.1", "given") == "given"


def test_encrypted_store_without_key_is_refused(tmp_path: Path) -> None:
    encrypted_store(tmp_path / "enc")
    result = CliRunner().invoke(
        cli, ["serve", str(tmp_path / "enc")], env={"LANGGRAPH_PERSIST_KEY": ""}
    )
    assert result.exit_code == 2
    assert "is encrypted" in result.output


def test_serve_subprocess_with_key_and_token(tmp_path: Path) -> None:
    key = encrypted_store(tmp_path / "enc")
    port = free_port()
    env = {**os.environ, "LANGGRAPH_PERSIST_KEY": "", "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-m", "langgraph_persist", "serve", str(tmp_path / "enc")]
    proc = subprocess.Popen(
        [*args, "--port", str(port), "--token", "tok-123", "--key", key],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/?token=tok-123" in first, first
        url = f"http://127.0.0.1:{port}"
        for _ in range(400):  # poll until the server answers
            try:
                refused = httpx.get(url + "/api/threads", timeout=1.0)
                break
            except httpx.TransportError:
                time.sleep(0.025)
        else:
            raise AssertionError("the server never answered")
        assert refused.status_code == 401
        wrong = httpx.get(url + "/api/threads", headers={"Authorization": "Bearer tok-12"})
        assert wrong.status_code == 401
        ok = httpx.get(url + "/api/threads", headers={"Authorization": "Bearer tok-123"})
        assert ok.status_code == 200
        assert [t["thread_id"] for t in ok.json()["threads"]] == ["enc-1"]
        state = httpx.get(
            url + "/api/checkpoint",
            params={"thread": "enc-1"},
            headers={"Authorization": "Bearer tok-123"},
        ).json()
        texts = [p["text"] for m in state["messages"]["messages"] for p in m["parts"]]
        assert "secret hello" in texts  # decrypted with the key from --key
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


@pytest.mark.parametrize("module", ["uvicorn", "starlette", "jinja2"])
def test_missing_ui_extra_is_a_one_line_hint(
    module: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    encrypted_store(tmp_path / "s")
    for name in [m for m in sys.modules if m == module or m.startswith(f"{module}.")]:
        monkeypatch.delitem(sys.modules, name)
    for name in [m for m in sys.modules if m.startswith("langgraph_persist.ui")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, module, None)  # what an absent package looks like
    result = CliRunner().invoke(cli, ["serve", str(tmp_path / "s")])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"error: serve needs the {module!r} package: pip install 'langgraph-persist[ui]'"
    ]
