#!/usr/bin/env python3
"""Run LangGraph's own checkpointer tests against PersistSaver, on every configuration.

LangGraph's source distribution ships its test suite; ``tests/conftest.py``
parametrizes the fixtures ``sync_checkpointer`` and ``async_checkpointer`` over
LangGraph's savers (memory, sqlite, postgres, ...). This script:

1. creates a separate virtual environment (``WORKDIR/venv``; WORKDIR defaults to
   ``../lgsuite`` beside the repository) with this package (the working tree,
   editable; or with ``--rev REV`` that commit, exported with ``git archive``,
   so others' uncommitted edits are not measured), the langgraph version
   installed here (and the same
   langgraph-checkpoint, langgraph-prebuilt and langchain-core), and what
   LangGraph's tests import (pytest, pytest-mock, syrupy, pytest-timeout, ...);
2. downloads LangGraph's sdist for that version (``pip download --no-binary``)
   and unpacks it afresh into ``WORKDIR/langgraph-VERSION``;
3. writes ``tests/conftest_persist.py`` there, which redefines both fixtures to
   yield one ``PersistSaver`` over a fresh directory per test, and imports it at
   the end of LangGraph's ``tests/conftest.py`` (the later definition wins), and
   deselects every test that uses neither fixture;
4. runs every test file that uses those fixtures, one configuration at a time:
   ``sqlite`` (``PersistSaver(tmp)``), ``files`` (``PersistSaver(tmp,
   layout="files")``) and ``redis`` (``PersistSaver(tmp, redis=URL)``, write-through,
   over a ``redis-server`` started here on a free loopback port and emptied
   before each test);
5. runs each failed test once more, alone: one that then passes is reported as
   flaky, not failed (LangGraph has timing-sensitive tests, docs/reliability.md);
6. prints passed/failed/skipped per configuration (and, for ``redis``, proof that
   the hot tier served reads) and writes the details (failures, skip reasons)
   to ``WORKDIR/results-CONFIG.json`` and the pytest output to ``WORKDIR/CONFIG.log``.

Run it from the project's virtual environment, whose langgraph version it tests::

    .venv/bin/python tools/run_langgraph_suite.py                   # all three
    .venv/bin/python tools/run_langgraph_suite.py --rev HEAD        # exactly a commit
    .venv/bin/python tools/run_langgraph_suite.py --config files -k time_travel

Arguments after ``--`` go to pytest. Tests run serially (no xdist), with
``-p no:cacheprovider -q`` and pytest-timeout. Exit status 0 when no test
failed in any configuration. Needs PyPI (the venv and the sdist) and, for the
``redis`` configuration, ``redis-server`` on PATH (or ``$LGP_REDIS_SERVER``).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CONFIGS = ("sqlite", "files", "redis")
FIXTURES = ("sync_checkpointer", "async_checkpointer")

# What LangGraph's tests import (its pyproject's "test" dependency group, less
# what only the tests we do not run need: xdist, the CLI dev server, uvloop, ...).
TEST_REQUIREMENTS = [
    "pytest",
    "pytest-mock",
    "pytest-timeout",
    "syrupy",
    "httpx",
    "redis",
    "pycryptodome",
    "langgraph-checkpoint-sqlite",
    "langgraph-checkpoint-postgres",
    "psycopg[binary]",
    "psycopg-pool",
]
# Pinned to the versions of the interpreter running this script, when it has them.
PINNED = ["langgraph", "langgraph-checkpoint", "langgraph-prebuilt", "langchain-core"]

PLUGIN = '''\
"""Written by langgraph-persist's tools/run_langgraph_suite.py: LangGraph's
checkpointer fixtures yield a PersistSaver (configuration in $LGP_SUITE_CONFIG).

Imported at the end of tests/conftest.py, so these definitions replace
LangGraph's. Each test gets a fresh store directory (and, for "redis", an
emptied Redis database), as LangGraph gives each test a fresh database.
"""

import contextlib
import json
import os
import shutil
import tempfile

import pytest

from langgraph_persist import PersistSaver

_CONFIG = os.environ["LGP_SUITE_CONFIG"]
_REDIS_URL = os.environ.get("LGP_SUITE_REDIS_URL", "")
_STORES = os.environ["LGP_SUITE_STORES"]
_FIXTURES = ("sync_checkpointer", "async_checkpointer")

__all__ = [
    *_FIXTURES,
    "pytest_collection_modifyitems",
    "pytest_collection_finish",
    "pytest_terminal_summary",
]


@contextlib.contextmanager
def _store_dir():
    os.makedirs(_STORES, exist_ok=True)
    path = tempfile.mkdtemp(prefix="store-", dir=_STORES)
    try:
        yield os.path.join(path, "checkpoints")
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _saver(path):
    if _CONFIG == "sqlite":
        return PersistSaver(path)
    if _CONFIG == "files":
        return PersistSaver(path, layout="files")
    if _CONFIG == "redis":
        import redis

        with redis.Redis.from_url(_REDIS_URL) as client:
            client.flushdb()
        return PersistSaver(path, redis=_REDIS_URL)
    raise ValueError(f"unknown configuration {_CONFIG!r}")


# For "redis": proof that the hot tier was in use (a degraded tier would silently
# leave every test to the cold tier alone).
_REDIS = {"tests": 0, "with_hits": 0, "with_keys": 0, "degraded": 0, "hits": 0, "misses": 0}


def _account(saver):
    if _CONFIG != "redis":
        return
    import redis

    stats = saver.store.stats()
    with redis.Redis.from_url(_REDIS_URL) as client:
        keys = client.dbsize()
    _REDIS["tests"] += 1
    _REDIS["with_hits"] += stats["hits"] > 0
    _REDIS["with_keys"] += keys > 0
    _REDIS["degraded"] += bool(stats["degraded"] or stats["outages"])
    _REDIS["hits"] += stats["hits"]
    _REDIS["misses"] += stats["misses"]


@pytest.fixture(scope="function", params=[f"persist_{_CONFIG}"])
def sync_checkpointer(request):
    with _store_dir() as path, _saver(path) as saver:
        yield saver
        _account(saver)


@pytest.fixture(scope="function", params=[f"persist_{_CONFIG}"])
async def async_checkpointer(request):
    with _store_dir() as path:
        async with _saver(path) as saver:
            yield saver
            _account(saver)


def pytest_collection_modifyitems(config, items):
    keep, drop = [], []
    for item in items:
        uses = any(f in getattr(item, "fixturenames", ()) for f in _FIXTURES)
        (keep if uses else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


_SELECTED = []


def pytest_collection_finish(session):
    _SELECTED.append(len(session.items))


def pytest_terminal_summary(terminalreporter):
    stats = terminalreporter.stats
    def reports(key):
        return [r for r in stats.get(key, []) if getattr(r, "nodeid", None) is not None]
    out = {
        "counts": {k: len(reports(k)) for k in
                   ("passed", "failed", "error", "skipped", "xfailed", "xpassed")},
        "selected": _SELECTED[-1] if _SELECTED else 0,
        "deselected": len(stats.get("deselected", [])),
        "passed": [r.nodeid for r in reports("passed")],
        "failed": [r.nodeid for r in reports("failed")],
        "error": [r.nodeid for r in reports("error")],
        "skipped": [
            [r.nodeid, str(r.longrepr[2]) if isinstance(r.longrepr, tuple) else str(r.longrepr)]
            for r in reports("skipped")
        ],
        "xfailed": [[r.nodeid, getattr(r, "wasxfail", "")] for r in reports("xfailed")],
        "redis": _REDIS if _CONFIG == "redis" else None,
    }
    with open(os.environ["LGP_SUITE_RESULTS"], "w") as f:
        json.dump(out, f, indent=1)
'''

CONFTEST_HOOK = """

# -- added by langgraph-persist's tools/run_langgraph_suite.py ----------------------------------
from tests.conftest_persist import *  # noqa: E402,F401,F403
"""


def log(msg: str) -> None:
    print(f"[langgraph-suite] {msg}", flush=True)


def installed(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def git(*args: str) -> str:
    done = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else ""


def package_source(workdir: Path, rev: str | None) -> tuple[Path, str]:
    """What to test, and its label: the working tree, or ``rev`` exported from git."""
    if rev is None:
        head = git("rev-parse", "--short", "HEAD") or "?"
        dirty = git("status", "--porcelain", "--", "langgraph_persist", "pyproject.toml")
        return REPO, head + (" + uncommitted changes" if dirty else "")
    sha = git("rev-parse", "--verify", f"{rev}^{{commit}}")
    if not sha:
        raise SystemExit(f"--rev {rev!r} is not a commit of {REPO}")
    dest = workdir / f"langgraph-persist-{sha[:12]}"
    if not (dest / "pyproject.toml").exists():
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", "--format=tar", sha],
            capture_output=True,
            check=True,
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(dest, filter="data")
    return dest, sha[:7]


def setup_venv(workdir: Path, version: str, package: Path) -> Path:
    """WORKDIR/venv with the package, langgraph==version and the test requirements.

    The working tree is installed editable; an exported revision as a copy.
    """
    venv = workdir / "venv"
    python = venv / "bin" / "python"
    pins = {name: installed(name) for name in PINNED}
    pins["langgraph"] = version
    editable = package == REPO
    reqs = ["-e", str(package)] if editable else [str(package)]
    reqs += [f"{name}=={v}" for name, v in pins.items() if v]
    reqs += TEST_REQUIREMENTS
    marker = venv / ".lgsuite-requirements"
    if python.exists() and marker.exists() and marker.read_text() == "\n".join(reqs):
        return python
    if not python.exists():
        log(f"creating {venv}")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    log("installing: " + " ".join(reqs))
    pip = [str(python), "-m", "pip", "install", "-q"]
    with open(workdir / "pip.log", "wb") as out:
        for cmd in (
            [*pip, *reqs],
            # the same version number from another source is not "already satisfied"
            [*pip, "--no-deps", "--force-reinstall", *reqs[: 2 if editable else 1]],
        ):
            if subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT).returncode:
                out.flush()
                tail = (workdir / "pip.log").read_text(errors="replace")[-4000:]
                raise SystemExit(f"pip install failed:\n{tail}")
    marker.write_text("\n".join(reqs))
    return python


def fetch_sdist(python: Path, workdir: Path, version: str) -> Path:
    """LangGraph's sdist for ``version``, unpacked afresh; returns the source root."""
    dist = workdir / "sdist"
    tarball = dist / f"langgraph-{version}.tar.gz"
    if not tarball.exists():
        log(f"downloading langgraph {version} sdist")
        subprocess.run(
            [str(python), "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
             "-d", str(dist), f"langgraph=={version}"],
            check=True,
        )  # fmt: skip
    src = workdir / f"langgraph-{version}"
    shutil.rmtree(src, ignore_errors=True)
    with tarfile.open(tarball) as tar:
        tar.extractall(workdir, filter="data")
    if not (src / "tests" / "conftest.py").exists():
        raise SystemExit(f"{tarball} has no tests/conftest.py: LangGraph's layout changed")
    return src


def install_plugin(src: Path) -> list[str]:
    """Write the fixture override; return the test files that use the fixtures."""
    tests = src / "tests"
    (tests / "conftest_persist.py").write_text(PLUGIN)
    with open(tests / "conftest.py", "a") as f:
        f.write(CONFTEST_HOOK)
    files = [
        f"tests/{p.name}"
        for p in sorted(tests.glob("test_*.py"))
        if any(fixture in p.read_text() for fixture in FIXTURES)
    ]
    if not files:
        raise SystemExit("no LangGraph test file uses sync_checkpointer/async_checkpointer")
    return files


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A private redis-server on a free loopback port, no persistence; stopped by its pid."""

    def __init__(self, workdir: Path) -> None:
        binary = os.environ.get("LGP_REDIS_SERVER") or shutil.which("redis-server")
        if not binary:
            raise SystemExit("the redis configuration needs redis-server on PATH")
        self.dir = tempfile.mkdtemp(prefix="redis-", dir=workdir)
        self.port = free_port()
        self.log = open(os.path.join(self.dir, "redis.log"), "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", self.dir,
             "--save", "", "--appendonly", "no", "--protected-mode", "yes"],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"redis-server did not start (see {self.dir}/redis.log)")
            time.sleep(0.05)
        self.url = f"redis://127.0.0.1:{self.port}/0"
        log(f"redis-server pid {self.proc.pid} on {self.url}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def pytest_run(
    python: Path,
    src: Path,
    workdir: Path,
    config: str,
    redis_url: str,
    timeout: int,
    args: list[str],
    name: str,
) -> dict[str, Any]:
    """One pytest process; returns what the plugin recorded (counts, node ids, reasons)."""
    results = workdir / f"results-{name}.json"
    results.unlink(missing_ok=True)
    env = dict(os.environ)
    env.update(
        # LangGraph's conftest then parametrizes its caches and stores without servers
        NO_DOCKER="true",
        LGP_SUITE_CONFIG=config,
        LGP_SUITE_REDIS_URL=redis_url,
        LGP_SUITE_STORES=str(workdir / "stores" / config),
        LGP_SUITE_RESULTS=str(results),
    )
    env.pop("LANGGRAPH_STRICT_MSGPACK", None)
    cmd = [str(python), "-m", "pytest", "-p", "no:cacheprovider", "-q",
           f"--timeout={timeout}", "-rfE", *args]  # fmt: skip
    log_path = workdir / f"{name}.log"
    log(f"[{name}] pytest -p no:cacheprovider -q --timeout={timeout} ... > {log_path}")
    started = time.monotonic()
    with open(log_path, "wb") as out:
        done = subprocess.run(cmd, cwd=src, env=env, stdout=out, stderr=subprocess.STDOUT)
    code = done.returncode
    if not results.exists():
        tail = log_path.read_text(errors="replace")[-4000:]
        raise SystemExit(f"[{name}] pytest exited {code} without results:\n{tail}")
    data: dict[str, Any] = json.loads(results.read_text())
    data["exit_code"] = code
    data["seconds"] = round(time.monotonic() - started)
    results.write_text(json.dumps(data, indent=1))
    return data


def run_config(
    python: Path,
    src: Path,
    workdir: Path,
    files: list[str],
    config: str,
    redis_url: str,
    timeout: int,
    extra: list[str],
) -> dict[str, Any]:
    """The configuration's run, then one serial rerun of what failed.

    A test that fails and then passes alone is reported as flaky, not failed: a
    few of LangGraph's tests race two tasks against a 10 ms sleep, and lose with
    LangGraph's own savers too on a loaded machine (see docs/reliability.md).
    """
    data = pytest_run(python, src, workdir, config, redis_url, timeout, [*extra, *files], config)
    first = data["failed"] + data["error"]
    data["flaky"] = []
    if first and len(first) <= 50:
        again = pytest_run(
            python, src, workdir, config, redis_url, timeout, first, f"{config}-rerun"
        )
        still = set(again["failed"] + again["error"])
        passed = set(again["passed"])
        data["flaky"] = [n for n in first if n not in still and n in passed]
        data["failed"] = [n for n in data["failed"] if n not in data["flaky"]]
        data["error"] = [n for n in data["error"] if n not in data["flaky"]]
        data["counts"]["passed"] += len(data["flaky"])
        data["counts"]["failed"] = len(data["failed"])
        data["counts"]["error"] = len(data["error"])
        (workdir / f"results-{config}.json").write_text(json.dumps(data, indent=1))
    return data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--workdir",
        type=Path,
        default=REPO.parent / "lgsuite",
        help="scratch directory outside the repo (default: %(default)s)",
    )
    parser.add_argument("--config", nargs="+", choices=CONFIGS, default=list(CONFIGS))
    parser.add_argument(
        "--langgraph-version",
        default=installed("langgraph"),
        help="default: the version installed in this interpreter",
    )
    parser.add_argument(
        "--rev",
        help="test this commit (exported with git archive) instead of the working tree",
    )
    parser.add_argument("--timeout", type=int, default=300, help="per test, seconds")
    parser.add_argument("-k", dest="keyword", help="pytest -k expression")
    parser.add_argument("pytest_args", nargs="*", help="after --: more pytest arguments")
    args = parser.parse_args()  # fmt: skip
    if not args.langgraph_version:
        parser.error("langgraph is not installed here: pass --langgraph-version")
    workdir = args.workdir.resolve()
    if workdir == REPO or REPO in workdir.parents:
        parser.error("--workdir must be outside the repository")
    workdir.mkdir(parents=True, exist_ok=True)

    package, head = package_source(workdir, args.rev)
    python = setup_venv(workdir, args.langgraph_version, package)
    src = fetch_sdist(python, workdir, args.langgraph_version)
    files = install_plugin(src)
    extra = list(args.pytest_args) + (["-k", args.keyword] if args.keyword else [])
    log(f"langgraph {args.langgraph_version}, langgraph-persist at {head}, "
        f"{len(files)} test files: {' '.join(Path(f).name for f in files)}")  # fmt: skip

    summary: dict[str, dict[str, Any]] = {}
    for config in args.config:
        server = RedisServer(workdir) if config == "redis" else None
        try:
            summary[config] = run_config(
                python, src, workdir, files, config, server.url if server else "",
                args.timeout, extra,
            )  # fmt: skip
        finally:
            if server:
                server.stop()
        c = summary[config]["counts"]
        log(f"[{config}] {c['passed']} passed, {c['failed'] + c['error']} failed, "
            f"{c['skipped']} skipped ({summary[config]['seconds']} s)")  # fmt: skip

    print()
    print(f"LangGraph {args.langgraph_version} checkpointer tests on PersistSaver "
          f"(langgraph-persist {head})")  # fmt: skip
    print(f"{'config':8} {'selected':>8} {'passed':>7} {'failed':>7} {'errors':>7} "
          f"{'skipped':>8} {'xfailed':>8} {'xpassed':>8} {'flaky':>6}")  # fmt: skip
    bad = 0
    for config, data in summary.items():
        c = data["counts"]
        total = data["selected"]
        bad += c["failed"] + c["error"]
        flaky = len(data["flaky"])
        print(f"{config:8} {total:8} {c['passed']:7} {c['failed']:7} {c['error']:7} "
              f"{c['skipped']:8} {c['xfailed']:8} {c['xpassed']:8} {flaky:6}")  # fmt: skip
        for nodeid in data["failed"]:
            print(f"    FAILED {nodeid}")
        for nodeid in data["error"]:
            print(f"    ERROR  {nodeid}")
        for nodeid in data["flaky"]:
            print(f"    flaky  {nodeid} (failed, then passed when run again alone)")
        for nodeid, reason in data["skipped"]:
            print(f"    skip   {nodeid}: {reason}")
        for nodeid, reason in data["xfailed"]:
            print(f"    xfail  {nodeid}: {reason}")
        r = data.get("redis")
        if r:
            print(f"    redis hot tier: keys in Redis after {r['with_keys']}/{r['tests']} tests, "
                  f"hits in {r['with_hits']} ({r['hits']} hits, {r['misses']} misses), "
                  f"degraded in {r['degraded']}")  # fmt: skip
    print(f"details: {workdir}/results-CONFIG.json, pytest output: {workdir}/CONFIG.log")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
