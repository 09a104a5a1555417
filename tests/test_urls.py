"""One way to build a saver: the store URL grammar (urls.py), ``from_conn_string``,
refused combinations, and the optional ``redis``/``boto3`` extras."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from langgraph_persist import ConfigurationError, PersistSaver, StoreError, urls
from langgraph_persist.store.sqlite import SqliteStore
from tests.graphs import chat_graph, human
from tests.s3_server import CREDENTIALS, REGION, shared_server

ROOT = Path(__file__).resolve().parent.parent


def cfg(thread_id: str) -> dict[str, dict[str, str]]:
    return {"configurable": {"thread_id": thread_id}}


# -- the grammar ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("./checkpoints", urls.LocalSpec("./checkpoints")),
        ("/abs/dir", urls.LocalSpec("/abs/dir")),
        ("file:///abs/dir", urls.LocalSpec("/abs/dir")),
        ("file:./rel?layout=files", urls.LocalSpec("./rel", layout="files")),
        ("file:///d?durability=none", urls.LocalSpec("/d", durability="none")),
        ("file:///a%20b", urls.LocalSpec("/a b")),
        ("s3://bucket", urls.S3Spec("bucket")),
        ("s3://bucket/agents/prod/", urls.S3Spec("bucket", "agents/prod")),
        (
            "s3://b/p?endpoint_url=http://localhost:9000&region=eu-west-1",
            urls.S3Spec("b", "p", "http://localhost:9000", "eu-west-1"),
        ),
        (
            "redis://localhost:6379/0?cold=./checkpoints",
            urls.HotSpec("redis://localhost:6379/0", False, urls.LocalSpec("./checkpoints")),
        ),
        (
            "rediss://u:pw@h:6380/1?cold=/d&layout=files&mode=write-behind&ttl=60"
            "&key_prefix=app:&ssl_cert_reqs=none",
            urls.HotSpec(
                "rediss://u:pw@h:6380/1?ssl_cert_reqs=none",
                False,
                urls.LocalSpec("/d", layout="files"),
                {"mode": "write-behind", "ttl": timedelta(seconds=60), "key_prefix": "app:"},
            ),
        ),
        (
            "redis+cluster://node:7000?cold=s3://bucket/prefix",
            urls.HotSpec("redis://node:7000", True, urls.S3Spec("bucket", "prefix")),
        ),
        (
            "rediss+cluster://node:7000/?cold=s3%3A%2F%2Fb%2Fp&region=r",
            urls.HotSpec("rediss://node:7000/", True, urls.S3Spec("b", "p", region="r")),
        ),
    ],
)
def test_the_grammar(url: str, expected: urls.StoreSpec) -> None:
    assert urls.parse(url) == expected


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("redis://localhost:6379/0", "names no cold tier"),
        ("rediss+cluster://n:7000", "names no cold tier"),
        ("redis://h?cold=redis://other", "a cold tier is a directory"),
        ("redis://h?cold=/d&region=x", "do not apply|do\\(es\\) not apply"),
        ("redis://h?cold=s3://b&layout=files", "do\\(es\\) not apply"),
        ("redis://h?cold=/d&ttl=soon", "ttl is in seconds"),
        ("redis://h?cold=/d&cold=/e", "given twice"),
        ("mysql://db/x", "unsupported store URL scheme"),
        ("file:///d?layout=tar", "layout must be"),
        ("file:///d?colour=red", "unknown parameter"),
        ("file://server/share", "only local paths"),
        ("s3://", "names no bucket"),
        ("s3://b?layout=files", "unknown parameter"),
        ("", "empty store location"),
    ],
)
def test_what_the_grammar_refuses(url: str, why: str) -> None:
    with pytest.raises(ConfigurationError, match=why):
        urls.parse(url)


def test_errors_never_print_a_password() -> None:
    with pytest.raises(ConfigurationError) as caught:
        urls.parse("redis://user:hunter2@h:6379/0")
    assert "hunter2" not in str(caught.value) and "***" in str(caught.value)


# -- a URL where a path is expected --------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["redis://localhost:6379/0", "rediss://h/0", "s3://bucket/p", "file:///tmp/x"]
)
def test_a_url_is_never_turned_into_a_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError, match=r"is a URL, not a directory.*from_conn_string"):
        PersistSaver(url)
    assert list(tmp_path.iterdir()) == []  # no "redis:" directory


# -- silently ignored combinations are refused ---------------------------------------------------


def test_ignored_keywords_are_refused(tmp_path: Path) -> None:
    other = SqliteStore(tmp_path / "other")
    try:
        for kwargs in (
            {"path": tmp_path / "x", "s3": other},
            {"durability": "none", "s3": other},
            {"layout": "files", "s3": other},
            {"path": tmp_path / "x", "store": other},
            {"durability": "fsync", "store": other},
            {"store": other, "read_only": True},
            {"read_only": True, "durability": "none", "path": tmp_path / "other"},
        ):
            with pytest.raises(ConfigurationError, match=r"ignored|on its own"):
                PersistSaver(**kwargs)  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError, match="once"):
            PersistSaver(other, store=other)
        assert not (tmp_path / "x").exists()
        with PersistSaver(other) as saver:  # store_or_path: a store positionally
            assert saver.store is other
    finally:
        other.close()


# -- from_conn_string ----------------------------------------------------------------------------


def test_from_conn_string_is_a_context_manager_like_langgraphs(tmp_path: Path) -> None:
    with PersistSaver.from_conn_string(str(tmp_path / "c")) as saver:
        graph = chat_graph().compile(checkpointer=saver)
        graph.invoke(human("hi"), cfg("t"))
        store = saver.store
    with pytest.raises(StoreError, match="closed"):
        store.read(("meta", "store"))  # the context closed it
    with PersistSaver.from_url(f"file://{tmp_path / 'c'}") as again:
        assert again.threads() == ["t"]


def test_from_conn_string_file_url_options(tmp_path: Path) -> None:
    with PersistSaver.from_conn_string(f"file://{tmp_path / 'f'}?layout=files&durability=none"):
        pass
    assert not (tmp_path / "f" / "store.db").exists()
    assert (tmp_path / "f" / "FORMAT").exists()  # the one-file-per-record layout
    with PersistSaver.from_conn_string(str(tmp_path / "f"), read_only=True) as ro:
        assert ro.read_only


def test_from_conn_string_redis_over_a_directory(tmp_path: Path, redis_url: str) -> None:
    url = f"{redis_url}?cold={tmp_path / 'cold'}&key_prefix=urltest:&ttl=120"
    with PersistSaver.from_conn_string(url) as saver:
        assert saver.store.pins_threads
        chat_graph().compile(checkpointer=saver).invoke(human("hi"), cfg("t"))
        stats = saver.stats().tiers
        assert stats["ttl_seconds"] == 120 and stats["mode"] == "write-through"
        assert saver.store.source_of_truth().local_root() == str(tmp_path / "cold")
    with PersistSaver(tmp_path / "cold", read_only=True) as cold:
        assert cold.threads() == ["t"]  # write-through: the cold tier has it


def test_from_conn_string_s3(monkeypatch: pytest.MonkeyPatch) -> None:
    server = shared_server()
    bucket = server.new_bucket()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CREDENTIALS["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CREDENTIALS["aws_secret_access_key"])
    url = f"s3://{bucket}/agents/prod?endpoint_url={server.endpoint}&region={REGION}"
    with PersistSaver.from_conn_string(url) as saver:
        chat_graph().compile(checkpointer=saver).invoke(human("hi"), cfg("t"))
        assert saver.stats().bytes_on_disk is None  # not on a local disk
    with PersistSaver.from_conn_string(url) as again:
        assert again.threads() == ["t"]
    with pytest.raises(ConfigurationError, match="read_only opens a store directory"):
        PersistSaver.from_conn_string(url, read_only=True)


# -- optional extras -----------------------------------------------------------------------------

_WITHOUT = """
import sys

class Missing:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, Missing())
"""


def run_without(blocked: set[str], code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter where the ``blocked`` packages cannot be imported."""
    script = _WITHOUT.format(blocked=sorted(blocked)) + textwrap.dedent(code)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_importing_the_package_loads_neither_redis_nor_boto3(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, langgraph_persist, langgraph_persist.cli\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('redis', 'boto3', 'botocore')))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_missing_extra_is_one_line_with_the_install_command(tmp_path: Path) -> None:
    done = run_without(
        {"redis", "boto3", "botocore"},
        f"""
        from langgraph_persist import ConfigurationError, PersistSaver
        from tests.graphs import chat_graph, human
        with PersistSaver({str(tmp_path / "s")!r}) as saver:  # file-only users need neither
            chat_graph().compile(checkpointer=saver).invoke(
                human("hi"), {{"configurable": {{"thread_id": "t"}}}}
            )
        for build in (
            lambda: PersistSaver({str(tmp_path / "s")!r}, redis="redis://localhost:1/0"),
            lambda: PersistSaver.from_conn_string("s3://bucket/prefix"),
            lambda: __import__("langgraph_persist").HotTierOptions,
        ):
            try:
                build()
            except ConfigurationError as exc:
                print(str(exc))
        """,
        ROOT,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 3, done.stdout
    assert "pip install 'langgraph-persist[redis]'" in lines[0]
    assert "pip install 'langgraph-persist[s3]'" in lines[1]
    assert "pip install 'langgraph-persist[redis]'" in lines[2]


def test_the_cli_runs_without_the_extras(tmp_path: Path) -> None:
    with PersistSaver(tmp_path / "s") as saver:
        chat_graph().compile(checkpointer=saver).invoke(human("hi"), cfg("t"))
    done = run_without(
        {"redis", "boto3", "botocore"},
        f"""
        import sys
        from langgraph_persist.cli import main
        sys.argv = ["langgraph-persist", "--store", {str(tmp_path / "s")!r}, "threads", "--json"]
        main()
        """,
        ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert '"thread_id": "t"' in done.stdout


def test_the_blocker_really_blocks(tmp_path: Path) -> None:
    """Negative control: the harness above must make a plain ``import redis`` fail."""
    done = run_without({"redis"}, "import redis", ROOT)
    assert done.returncode != 0 and "No module named 'redis'" in done.stderr
