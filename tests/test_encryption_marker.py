"""Encryption cannot be bypassed by accident, names reveal nothing, erasure erases.

Security issue items 4, 5 and 6: the store records that it is encrypted (with
key check values), ids never appear in store keys of an encrypted store,
``delete_thread`` + ``gc`` leave no trace of the id, snapshots of encrypted
stores are sealed and authenticated, and swapped content is caught.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from langgraph_persist import (
    ConfigurationError,
    CorruptRecordError,
    Encryption,
    PersistSaver,
    keys,
    records,
)
from langgraph_persist.errors import SnapshotError
from langgraph_persist.snapshot import get_metadata, restore, snapshot, verify_snapshot
from tests.graphs import chat_graph, human

ID = "alice@example.com"
SECRET = "card 4111-1111-1111-1111"
K1 = Encryption.from_keys({"k1": bytes(range(32))})


def cfg(thread_id: str) -> dict:
    return {"configurable": {"thread_id": thread_id}}


def raw_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file())


def traces(root: Path, thread_id: str = ID) -> list[bytes]:
    """Forms of the id that would betray it: as given, and as 0.1's file names spelled it."""
    forms = [thread_id.encode(), keys.encode_name(thread_id).encode()]
    data = raw_bytes(root)
    return [f for f in forms if f in data]


def test_a_keyless_writer_is_refused_and_nothing_plain_is_written(tmp_path: Path) -> None:
    store = tmp_path / "s"
    chat_graph().compile(checkpointer=PersistSaver(store, encryption=K1)).invoke(
        human(SECRET), cfg(ID)
    )
    with pytest.raises(ConfigurationError, match="is encrypted"):
        PersistSaver(store)
    PersistSaver(store, read_only=True)  # inspecting is allowed: nothing is written


def test_negative_control_without_the_marker_a_keyless_writer_gets_through(
    tmp_path: Path,
) -> None:
    """With meta/store removed (and no thread yet), nothing tells a keyless saver."""
    store = tmp_path / "s"
    PersistSaver(store, encryption=K1).store.delete_many([keys.meta("store")])
    PersistSaver(store)  # not refused: the marker is what refuses it above


def test_a_store_of_0_1_is_recognised_as_encrypted_by_its_records(tmp_path: Path) -> None:
    store = tmp_path / "s"
    saver = PersistSaver(store, encryption=K1)
    chat_graph().compile(checkpointer=saver).invoke(human(SECRET), cfg("t"))
    saver.store.delete_many([keys.meta("store")])  # as a store written before the marker
    with pytest.raises(ConfigurationError, match="is encrypted"):
        PersistSaver(store)


def test_a_wrong_key_and_a_foreign_key_are_refused(tmp_path: Path) -> None:
    store = tmp_path / "s"
    PersistSaver(store, encryption=K1)
    with pytest.raises(ConfigurationError, match="not the key"):
        PersistSaver(store, encryption=Encryption.from_keys({"k1": bytes(32)}))
    with pytest.raises(ConfigurationError, match="none of the keys"):
        PersistSaver(store, encryption=Encryption.from_keys({"k9": bytes(32)}))


def test_rotation_keeps_every_thread_reachable(tmp_path: Path) -> None:
    store = tmp_path / "s"
    chat_graph().compile(checkpointer=PersistSaver(store, encryption=K1)).invoke(
        human(SECRET), cfg(ID)
    )
    both = Encryption.from_keys({"k1": bytes(range(32)), "k2": bytes(range(1, 33))})
    assert PersistSaver(store, encryption=both).reencrypt() > 0
    only_new = PersistSaver(store, encryption=Encryption.from_keys({"k2": bytes(range(1, 33))}))
    state = chat_graph().compile(checkpointer=only_new).get_state(cfg(ID))
    assert state.values["messages"][0].content == SECRET
    assert only_new.threads() == [ID] and only_new.verify().ok


def test_ids_appear_nowhere_in_an_encrypted_store(tmp_path: Path) -> None:
    store = tmp_path / "s"
    saver = PersistSaver(store, encryption=K1)
    graph = chat_graph().compile(checkpointer=saver)
    graph.invoke(human(SECRET), {"configurable": {"thread_id": ID, "run_id": "run-" + ID}})
    saver.close()
    assert traces(store) == []
    assert SECRET.encode() not in raw_bytes(store)
    # negative control: the same graph in a plaintext store spells the id out
    plain = tmp_path / "plain"
    chat_graph().compile(checkpointer=PersistSaver(plain)).invoke(human(SECRET), cfg(ID))
    assert traces(plain) != []


@pytest.mark.parametrize("encrypted", [True, False])
def test_delete_thread_and_gc_erase_the_id(tmp_path: Path, encrypted: bool) -> None:
    store = tmp_path / "s"
    saver = PersistSaver(store, encryption=K1 if encrypted else None, audit_ids="hashed")
    graph = chat_graph().compile(checkpointer=saver)
    config = {"configurable": {"thread_id": ID, "run_id": "run-" + ID}}
    graph.invoke(human(SECRET), config)
    graph.invoke(human("other"), cfg("bystander"))
    saver.delete_thread(ID)
    report = saver.gc(tombstone_grace=timedelta(0))
    assert report.bookkeeping_deleted >= 2  # the tombstone and the run index entry
    saver.close()
    assert traces(store) == []
    assert SECRET.encode() not in raw_bytes(store)
    assert PersistSaver(store, encryption=K1 if encrypted else None).threads() == ["bystander"]
    log = (store / "audit.jsonl").read_text()
    assert ID not in log and json.loads(log.splitlines()[0])["thread_id"].startswith("h:")


def test_a_deleted_thread_stays_deleted_within_the_grace(tmp_path: Path) -> None:
    saver = PersistSaver(tmp_path / "s")
    graph = chat_graph().compile(checkpointer=saver)
    graph.invoke(human("hi"), cfg("t"))
    saver.delete_thread("t")
    assert saver.gc().bookkeeping_deleted == 0  # the default grace keeps the tombstone
    assert any(k[0] == keys.TOMBSTONES for k, _s, _m in saver.store.walk(()))


def test_swapped_content_is_caught_by_its_address(tmp_path: Path) -> None:
    saver = PersistSaver(tmp_path / "s")
    graph = chat_graph().compile(checkpointer=saver)
    graph.invoke(human("first " + "x" * 300), cfg("t"))
    graph.invoke(human("second " + "y" * 300), cfg("t"))
    blobs = sorted(k for k, _s, _m in saver.store.walk((keys.BLOBS,)))
    a, b = (saver.store.read(k) for k in blobs[:2])
    assert a and b and records.intact(a) and records.intact(b)
    saver.store.write_many([(blobs[0], b), (blobs[1], a)])  # each intact, each misplaced
    fresh = PersistSaver(tmp_path / "s")
    with pytest.raises(CorruptRecordError, match="does not match its address"):
        fresh.get_tuple(cfg("t"))
    reasons = {d.reason.split("; ")[0] for d in fresh.verify().damaged}
    assert reasons == {"corrupt record: content does not match its address"}


def test_snapshots_of_encrypted_stores_are_sealed_and_authenticated(tmp_path: Path) -> None:
    saver = PersistSaver(tmp_path / "s", encryption=K1)
    chat_graph().compile(checkpointer=saver).invoke(human(SECRET), cfg(ID))
    path = tmp_path / "t.lgps"
    info = snapshot(saver, ID, path)
    assert info.sealed == "k1" and SECRET.encode() not in path.read_bytes()
    assert verify_snapshot(path, encryption=K1).authenticated is True
    assert get_metadata(path).authenticated is None  # no key: accidents only
    with pytest.raises(SnapshotError, match="encrypted with key 'k1'"):
        verify_snapshot(path)
    other = PersistSaver(tmp_path / "other", encryption=K1)
    restore(path, other)
    state = chat_graph().compile(checkpointer=other).get_state(cfg(ID))
    assert state.values["messages"][0].content == SECRET


def test_an_edited_snapshot_with_recomputed_digests_fails_authentication(tmp_path: Path) -> None:
    """Digests anyone can recompute; the keyed MAC only the key holder can."""
    from langgraph_persist import snapshot as snap

    saver = PersistSaver(tmp_path / "s", encryption=K1)
    chat_graph().compile(checkpointer=saver).invoke(human(SECRET), cfg(ID))
    path = tmp_path / "t.lgps"
    snapshot(saver, ID, path, description="original")
    data = path.read_bytes()
    header, start = snap._read_header(str(path), data)
    header["description"] = "forged"  # re-framed with a fresh, valid digest
    forged = snap.PREFIX.pack(snap.MAGIC, snap.SNAPSHOT_FORMAT)
    forged += records.encode(records.Kind.SNAPSHOT_ENTRY, header) + data[start:]
    path.write_bytes(forged)
    assert get_metadata(path).description == "forged"  # intact as far as digests go
    with pytest.raises(SnapshotError, match="fails authentication"):
        verify_snapshot(path, encryption=K1)


def _redis_bytes(url: str) -> bytes:
    """Every key and value in the test's own Redis database (a test-started server)."""
    import redis

    client = redis.Redis.from_url(url)
    out = bytearray()
    for key in client.scan_iter(count=1000):
        out += key
        kind = client.type(key)
        if kind == b"string":
            out += client.get(key) or b""
        elif kind == b"zset":
            out += b"".join(client.zrange(key, 0, -1))
        elif kind == b"hash":
            out += b"".join(b"".join(kv) for kv in client.hgetall(key).items())
        elif kind == b"list":
            out += b"".join(client.lrange(key, 0, -1))
        elif kind == b"set":
            out += b"".join(client.smembers(key))
    client.close()
    return bytes(out)


@pytest.mark.parametrize("mode", ["write-through", "write-behind"])
def test_erasure_reaches_the_hot_tier(tmp_path: Path, redis_url: str, mode: str) -> None:
    """After delete_thread + gc, neither the store nor Redis holds the id or the value."""
    from langgraph_persist.store.tiered import HotTierOptions

    store = tmp_path / "s"
    saver = PersistSaver(
        store, encryption=K1, redis=redis_url, hot=HotTierOptions(mode=mode), audit_ids="hashed"
    )
    graph = chat_graph().compile(checkpointer=saver)
    graph.invoke(human(SECRET), {"configurable": {"thread_id": ID, "run_id": "run-" + ID}})
    graph.invoke(human("other"), cfg("bystander"))
    saver.flush()
    forms = [ID.encode(), keys.encode_name(ID).encode(), SECRET.encode()]
    assert not any(f in _redis_bytes(redis_url) for f in forms)  # names are keyed even hot
    saver.delete_thread(ID)
    saver.gc(tombstone_grace=timedelta(0))
    saver.close()
    assert traces(store) == [] and SECRET.encode() not in raw_bytes(store)
    assert not any(f in _redis_bytes(redis_url) for f in forms)
    # negative control: a plaintext tiered store spells the id out in Redis's key names
    plain = PersistSaver(tmp_path / "plain", redis=redis_url)
    chat_graph().compile(checkpointer=plain).invoke(human("x"), cfg(ID))
    plain.flush()
    assert keys.encode_name(ID).encode() in _redis_bytes(redis_url)
    plain.close()


def test_cli_migrate_to_or_into_an_encrypted_store_without_the_key_is_refused(
    tmp_path: Path,
) -> None:
    from click.testing import CliRunner

    from langgraph_persist.cli import cli

    chat_graph().compile(checkpointer=PersistSaver(tmp_path / "enc", encryption=K1)).invoke(
        human(SECRET), cfg("t")
    )
    chat_graph().compile(checkpointer=PersistSaver(tmp_path / "plain")).invoke(
        human("plain"), cfg("u")
    )
    runner = CliRunner()
    env = {"LANGGRAPH_PERSIST_KEY": ""}
    out = runner.invoke(
        cli, ["--store", str(tmp_path / "plain"), "migrate", "--to", str(tmp_path / "enc")], env=env
    )
    assert out.exit_code == 2 and "is encrypted" in out.output
    into = runner.invoke(
        cli,
        ["--store", str(tmp_path / "enc"), "migrate", "--from", str(tmp_path / "plain")],
        env=env,
    )
    assert into.exit_code == 2 and "is encrypted" in into.output
    assert PersistSaver(tmp_path / "enc", encryption=K1).threads() == ["t"]  # nothing written
