"""Untrusted data never runs code: the strict serializer, and every path that decodes with it.

Each attack is a value that, if anything built the type it names, calls
``os.mkdir`` on a fresh path: the evidence (``tests/forge.py``). Every test
asserts the evidence is absent. The negative controls decode the same value
with a permissive decoder, or read the same store with LangGraph's default,
and assert the evidence IS there: the payloads are live, so a test here that
passed without our fix would have shown it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import decimal
import enum
import ipaddress
import json
import os
import pathlib
import pickle
import re
import subprocess
import sys
import threading
import uuid
from collections import deque
from pathlib import Path
from typing import Any

import ormsgpack
import pytest
from click.testing import CliRunner
from langchain_core.documents import Document
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.serde import _msgpack
from langgraph.checkpoint.serde.encrypted import EncryptedSerializer
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command, Send
from pydantic import BaseModel

from langgraph_persist import BlockedTypeError, ConfigurationError, CorruptRecordError, PersistSaver
from langgraph_persist.cli import cli
from langgraph_persist.snapshot import restore, snapshot, verify_snapshot
from langgraph_persist.untrusted import (
    BlockedType,
    UntrustedSerializer,
    parse_type,
    untrusted_serde,
)
from tests.forge import ATTACKS, MARKER, Forging, attack, permissive, read_body, snapshot_bytes
from tests.graphs import chat_graph, human

ROOT = Path(__file__).resolve().parent.parent
PERMISSIVE_DEFAULT = not _msgpack.STRICT_MSGPACK_ENABLED


class Order(BaseModel):
    id: str
    qty: int


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Color(enum.Enum):
    RED = "red"


def blocked_as(kind: str) -> BlockedType:
    return BlockedType("os", "mkdir", "__call__" if kind == "ext3" else "")


# -- the serializer --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ATTACKS)
def test_strict_serializer_runs_nothing_and_reports_the_type(kind: str, tmp_path: Path) -> None:
    strict = UntrustedSerializer(on_blocked="record")
    strict.loads_typed(attack(kind, tmp_path / "evidence"))
    assert not (tmp_path / "evidence").exists()
    assert strict.blocked == {blocked_as(kind)}


@pytest.mark.parametrize("kind", ATTACKS)
def test_negative_control_a_permissive_decoder_runs_the_same_payload(
    kind: str, tmp_path: Path
) -> None:
    permissive(kind).loads_typed(attack(kind, tmp_path / "evidence"))
    assert (tmp_path / "evidence").is_dir()


@pytest.mark.parametrize("kind", ATTACKS)
def test_raise_mode_names_the_type_and_how_to_allow_it(kind: str, tmp_path: Path) -> None:
    with pytest.raises(BlockedTypeError) as info:
        UntrustedSerializer().loads_typed(attack(kind, tmp_path / "evidence"))
    assert not (tmp_path / "evidence").exists()
    assert info.value.types == (str(blocked_as(kind)),)
    assert "nothing was run" in str(info.value)
    if kind == "ext3":
        assert "never allowed" in str(info.value)
    else:
        assert "--allow-type os:mkdir" in str(info.value)


def test_a_blocked_type_nested_inside_an_allowed_one_is_caught(tmp_path: Path) -> None:
    inner = ormsgpack.Ext(0, ormsgpack.packb(["os", "mkdir", str(tmp_path / "evidence")]))
    outer = ormsgpack.packb(ormsgpack.Ext(0, ormsgpack.packb(["builtins", "frozenset", [inner]])))
    strict = UntrustedSerializer(on_blocked="record")
    assert strict.loads_typed(("msgpack", outer)) == frozenset([str(tmp_path / "evidence")])
    assert not (tmp_path / "evidence").exists()
    assert strict.blocked == {BlockedType("os", "mkdir")}


def test_lc1_envelopes_revive_chat_messages_only(tmp_path: Path) -> None:
    message = {
        "lc": 1,
        "type": "constructor",
        "id": ["langchain", "schema", "messages", "HumanMessage"],
        "kwargs": {"content": "hi"},
    }
    prompt = {
        "lc": 1,
        "type": "constructor",
        "id": ["langchain", "prompts", "prompt", "PromptTemplate"],
        "kwargs": {"template": "{x}", "input_variables": ["x"]},
    }
    strict = UntrustedSerializer(on_blocked="record")
    assert strict.loads_typed(("json", json.dumps(message).encode())) == HumanMessage("hi")
    assert strict.loads_typed(("json", json.dumps(prompt).encode())) == prompt  # inert
    assert strict.blocked == {BlockedType("langchain.prompts.prompt", "PromptTemplate")}


def test_secrets_are_never_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LGP_TEST_SECRET", "s3cret")
    envelope = {"lc": 1, "type": "secret", "id": ["LGP_TEST_SECRET"]}
    assert UntrustedSerializer().loads_typed(("json", json.dumps(envelope).encode())) is None


def test_pickle_and_unknown_types_are_refused_as_damage(tmp_path: Path) -> None:
    class Boom:
        def __reduce__(self) -> Any:
            return (os.mkdir, (str(tmp_path / "evidence"),))

    for value in [("pickle", pickle.dumps(Boom())), ("nonsense", b"x"), ("msgpack", b"\xc1")]:
        with pytest.raises(CorruptRecordError, match="undecodable value"):
            UntrustedSerializer().loads_typed(value)
    assert not (tmp_path / "evidence").exists()


SAFE_VALUES = [
    datetime.datetime(2026, 11, 22, 9, 30, tzinfo=datetime.timezone.utc),
    datetime.date(2026, 11, 22),
    datetime.timedelta(days=2, seconds=3),
    uuid.UUID(int=42),
    decimal.Decimal("1.10"),
    {1, 2},
    frozenset({"a"}),
    deque([1, 2]),
    ipaddress.IPv4Address("10.0.0.1"),
    pathlib.Path("/tmp/x"),
    re.compile("a+b", re.I),
    [HumanMessage("hi", id="1"), AIMessage("yo", id="2", tool_calls=[])],
    ToolMessage("ok", tool_call_id="c1"),
    Document(page_content="doc", metadata={"k": 1}),
    Send("node", {"x": 1}),
    Command(goto="node"),
    {"nested": [1, 2.5, "three", None, True, b"bytes"]},
]


@pytest.mark.parametrize("value", SAFE_VALUES, ids=lambda v: type(v).__name__)
def test_langgraph_safe_types_round_trip_without_reports(value: Any) -> None:
    strict = UntrustedSerializer()
    assert strict.loads_typed(JsonPlusSerializer().dumps_typed(value)) == value
    assert not strict.blocked


def test_user_types_need_allowing_and_then_round_trip() -> None:
    values = [Order(id="a", qty=1), Point(1, 2), Color.RED]
    typed = [JsonPlusSerializer().dumps_typed(v) for v in values]
    strict = UntrustedSerializer(on_blocked="record")
    assert [strict.loads_typed(t) for t in typed] == [
        {"id": "a", "qty": 1},
        {"x": 1, "y": 2},
        "red",
    ]
    assert {str(b) for b in strict.blocked} == {
        "tests.test_untrusted.Order",
        "tests.test_untrusted.Point",
        "tests.test_untrusted.Color",
    }
    allowed = UntrustedSerializer(
        [Order, "tests.test_untrusted:Point", ("tests.test_untrusted", "Color")]
    )
    assert [allowed.loads_typed(t) for t in typed] == values
    assert not allowed.blocked


def test_allowed_type_specs_are_validated() -> None:
    assert parse_type("myapp.state:Order") == ("myapp.state", "Order")
    assert parse_type(Order) == ("tests.test_untrusted", "Order")
    for bad in ["Order", "a:b:c", "os:system()", "my app:X", ":X", "m:", "m:a.b"]:
        with pytest.raises(ConfigurationError):
            parse_type(bad)


def test_reports_never_cross_between_threads(tmp_path: Path) -> None:
    bad = attack("ext0", tmp_path / "evidence")
    good = JsonPlusSerializer().dumps_typed([1, 2, 3])
    a, b = UntrustedSerializer(on_blocked="record"), UntrustedSerializer(on_blocked="record")

    def decode(serde: UntrustedSerializer, value: tuple[str, bytes]) -> None:
        for _ in range(200):
            serde.loads_typed(value)

    threads = [
        threading.Thread(target=decode, args=(a, bad)),
        threading.Thread(target=decode, args=(b, good)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert a.blocked == {BlockedType("os", "mkdir")} and not b.blocked


def test_encrypted_values_are_decrypted_then_decoded_strictly(tmp_path: Path) -> None:
    from langgraph.checkpoint.serde.base import CipherProtocol

    class Rot(CipherProtocol):
        def encrypt(self, plaintext: bytes) -> tuple[str, bytes]:
            return "rot", bytes((b + 1) % 256 for b in plaintext)

        def decrypt(self, ciphername: str, ciphertext: bytes) -> bytes:
            return bytes((b - 1) % 256 for b in ciphertext)

    target_serde = EncryptedSerializer(Rot())
    serde = untrusted_serde(like=target_serde, on_blocked="record")
    assert isinstance(serde, EncryptedSerializer)
    assert serde.loads_typed(target_serde.dumps_typed({"a": [1]})) == {"a": [1]}
    typ, data = attack("ext0", tmp_path / "evidence")
    sealed = (f"{typ}+rot", Rot().encrypt(data)[1])
    serde.loads_typed(sealed)
    assert not (tmp_path / "evidence").exists()


# -- snapshots: import, inspect ----------------------------------------------------------------


def hostile_snapshot(tmp_path: Path, kind: str, evidence: Path) -> Path:
    """A real chat thread's snapshot whose first value was replaced by an attack."""
    saver = PersistSaver(tmp_path / "source")
    chat_graph().compile(checkpointer=saver).invoke(
        human("hi"), {"configurable": {"thread_id": "t"}}
    )
    snapshot(saver, "t", tmp_path / "good.lgps")
    body = read_body((tmp_path / "good.lgps").read_bytes())
    body["values"][0] = list(attack(kind, evidence))
    path = tmp_path / f"{kind}.lgps"
    path.write_bytes(snapshot_bytes(body, header={"thread_id": "t"}))
    return path


@pytest.mark.parametrize("kind", ATTACKS)
def test_restore_and_verify_of_a_hostile_snapshot_run_nothing(kind: str, tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    path = hostile_snapshot(tmp_path, kind, evidence)
    target = PersistSaver(tmp_path / "target")
    with pytest.raises(BlockedTypeError, match=r"os\.mkdir"):
        verify_snapshot(path)
    with pytest.raises(BlockedTypeError, match=r"os\.mkdir") as info:
        restore(path, target)
    assert str(path) in str(info.value)
    assert not evidence.exists()
    assert list(target.list(None)) == []  # nothing written


@pytest.mark.parametrize("kind", ["ext0", "ext1", "ext2", "json-lc2"])
def test_negative_control_allowing_the_type_reaches_the_payload(kind: str, tmp_path: Path) -> None:
    """The same file with os:mkdir allowed does run it: the allowlist is all that stands between."""
    evidence = tmp_path / "evidence"
    path = hostile_snapshot(tmp_path, kind, evidence)
    with contextlib.suppress(Exception):  # what becomes of the value is not the point
        restore(path, PersistSaver(tmp_path / "target"), allowed_types=["os:mkdir"])
    assert evidence.is_dir()


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize("kind", ATTACKS)
def test_cli_import_and_inspect_refuse_a_hostile_snapshot(kind: str, tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    path = hostile_snapshot(tmp_path, kind, evidence)
    store = tmp_path / "store"
    imported = run("--store", str(store), "import", str(path))
    assert imported.exit_code == 5, imported.output
    assert "os.mkdir" in imported.stderr
    if kind != "ext3":
        assert "--allow-type os:mkdir" in imported.stderr
    inspected = run("inspect", str(path))
    assert inspected.exit_code == 5
    assert "verified     NO: values of type(s) not allowed: os.mkdir" in inspected.stdout
    as_json = run("inspect", str(path), "--json")
    assert as_json.exit_code == 5
    report = json.loads(as_json.stdout)
    assert report["verified"] is False and report["blocked_types"] == [str(blocked_as(kind))]
    assert not evidence.exists()
    assert not (store / "threads" / "t").exists()


def test_cli_allow_type_lets_trusted_user_types_through(tmp_path: Path) -> None:
    saver = PersistSaver(tmp_path / "store")
    checkpoint = empty_checkpoint()
    checkpoint["channel_values"] = {"order": Order(id="a", qty=3)}
    checkpoint["channel_versions"] = {"order": "1"}
    saver.put({"configurable": {"thread_id": "t", "checkpoint_ns": ""}}, checkpoint, {}, {})
    refused = run("--store", str(tmp_path / "store"), "show", "t")
    assert refused.exit_code == 0
    assert "tests.test_untrusted.Order" in refused.stderr
    assert "--allow-type tests.test_untrusted:Order" in refused.stderr
    allowed = run(
        "--store",
        str(tmp_path / "store"),
        "show",
        "t",
        "--json",
        "--allow-type",
        "tests.test_untrusted:Order",
    )
    assert allowed.exit_code == 0 and not allowed.stderr
    assert json.loads(allowed.stdout)["values"]["order"] == {"id": "a", "qty": 3}
    snapshot(saver, "t", tmp_path / "t.lgps")
    assert run("inspect", str(tmp_path / "t.lgps")).exit_code == 5
    ok = run("inspect", str(tmp_path / "t.lgps"), "--allow-type", "tests.test_untrusted:Order")
    assert ok.exit_code == 0 and "verified     ok" in ok.stdout
    bad = run("--store", str(tmp_path / "store"), "show", "t", "--allow-type", "Order")
    assert bad.exit_code == 2 and "MODULE:CLASS" in bad.output


# -- stores the CLI reads, migration sources ----------------------------------------------------


def hostile_store(path: Path, kind: str, evidence: Path) -> None:
    saver = PersistSaver(path, serde=Forging(attack(kind, evidence)))
    graph = chat_graph().compile(checkpointer=saver)
    graph.invoke(human("hi"), {"configurable": {"thread_id": "t"}})
    checkpoint = empty_checkpoint()
    checkpoint["channel_values"] = {"evil": MARKER, "turns": 1}
    checkpoint["channel_versions"] = {"evil": "1", "turns": "1"}
    saver.put(
        {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}, checkpoint, {"step": 9}, {}
    )


@pytest.mark.parametrize("kind", ATTACKS)
def test_cli_views_of_a_hostile_store_run_nothing_and_warn(kind: str, tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    hostile_store(tmp_path / "store", kind, evidence)
    store = str(tmp_path / "store")
    for args in (
        ["show", "t"],
        ["show", "t", "--json"],
        ["history", "t"],
        ["diff", "t", "latest", "latest"],
    ):
        result = run("--store", store, *args)
        assert result.exit_code == 0, (args, result.output)
        assert "not allowed for untrusted data: " + str(blocked_as(kind)) in result.stderr, args
        assert "Nothing was run" in result.stderr
    exported = run("--store", store, "export", "t", "-o", str(tmp_path / "out.lgps"))
    assert exported.exit_code == 5 and not (tmp_path / "out.lgps").exists()
    assert not evidence.exists()


@pytest.mark.skipif(
    not PERMISSIVE_DEFAULT, reason="the negative control needs LangGraph's permissive default"
)
def test_negative_control_the_default_saver_runs_what_the_hostile_store_holds(
    tmp_path: Path,
) -> None:
    evidence = tmp_path / "evidence"
    hostile_store(tmp_path / "store", "ext0", evidence)
    PersistSaver(tmp_path / "store").get_tuple({"configurable": {"thread_id": "t"}})
    assert evidence.is_dir()


@pytest.mark.parametrize("kind", ["ext0", "ext2", "json-lc2"])
def test_cli_migrate_from_a_hostile_sqlite_database_runs_nothing(kind: str, tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    db = tmp_path / "old.db"
    with SqliteSaver.from_conn_string(str(db)) as old:
        old.serde = Forging(attack(kind, evidence))  # a pending write: serialized on its own
        stored = old.put(
            {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}, empty_checkpoint(), {}, {}
        )
        old.put_writes(stored, [("evil", MARKER)], "task-1")
    result = run("--store", str(tmp_path / "new"), "migrate", "--from", f"sqlite:///{db}")
    assert result.exit_code == 5, result.output
    assert "os.mkdir" in result.stderr
    assert not evidence.exists()
    if PERMISSIVE_DEFAULT and kind != "json-lc2":  # negative control: SqliteSaver runs it
        # (LangGraph's default already refuses JSON constructors: nothing to show there)
        with SqliteSaver.from_conn_string(str(db)) as old:
            old.get_tuple({"configurable": {"thread_id": "t"}})
        assert evidence.is_dir()


# -- the saver's own default: LangGraph's serializer, strict when LANGGRAPH_STRICT_MSGPACK is set


def run_strict_mode_graph(tmp_path: Path, strict: bool) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "LANGGRAPH_STRICT_MSGPACK"}
    if strict:
        env["LANGGRAPH_STRICT_MSGPACK"] = "true"
    (tmp_path / "marks").mkdir()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.strict_mode_graph",
            str(tmp_path / "store"),
            str(tmp_path / "marks"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def test_strict_mode_real_graph_with_pydantic_dataclass_enum_round_trips(tmp_path: Path) -> None:
    report = run_strict_mode_graph(tmp_path, strict=True)
    assert report["strict"] is True
    assert report["round_trip"] is True  # through the allowlist LangGraph derived from the schema
    assert report["original_untouched"] is True  # with_allowlist gave the graph a clone
    assert report["plain_types"] == ["dict", "dict", "str"]  # no allowlist, no custom types
    assert report["evidence"] is False  # a crafted constructor in the store did not run


def test_negative_control_without_strict_mode_the_crafted_payload_runs(tmp_path: Path) -> None:
    """What the saver's default does without LANGGRAPH_STRICT_MSGPACK (docs/security.md says so)."""
    report = run_strict_mode_graph(tmp_path, strict=False)
    assert report["strict"] is False
    assert report["round_trip"] is True
    assert report["plain_types"] == ["Order", "Point", "Priority"]
    assert report["evidence"] is True
