"""Security by default, encryption on request: each promise checked against real bytes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from langgraph_persist import ConfigurationError, CorruptRecordError, PersistSaver
from langgraph_persist.address import Address
from langgraph_persist.crypto import Encryption
from tests.damage import checkpoint_key
from tests.graphs import chat_graph, human

SECRET = "my card number is 4111-1111-1111-1111"


def cfg(thread_id: str, **extra: object) -> dict:
    return {"configurable": {"thread_id": thread_id, **extra}}


def all_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file())


@pytest.fixture
def key1() -> Encryption:
    return Encryption.from_keys({"k1": bytes(range(32))})


def run_chat(saver: PersistSaver, thread: str, text: str = SECRET) -> dict:
    graph = chat_graph().compile(checkpointer=saver)
    # metadata from the config is stored too: it must be encrypted as well
    return graph.invoke(human(text), cfg(thread, customer_email="alice@example.com"))


def test_plaintext_store_contains_the_secret_as_a_baseline(tmp_path: Path) -> None:
    run_chat(PersistSaver(tmp_path / "plain"), "t")
    assert SECRET.encode() in all_bytes(tmp_path / "plain") or b"4111" in all_bytes(
        tmp_path / "plain"
    )


def test_encrypted_store_holds_no_plaintext_values_writes_or_metadata(
    tmp_path: Path, key1: Encryption
) -> None:
    saver = PersistSaver(tmp_path / "enc", encryption=key1)
    out = run_chat(saver, "t")
    raw = all_bytes(tmp_path / "enc")
    # needles long enough that hex names and ciphertext cannot contain them by chance
    for needle in (b"4111-1111-1111", b"alice@example.com", b"customer_email", b"echo: "):
        assert needle not in raw, needle
    assert out["messages"][-1].content == f"echo: {SECRET}"
    again = PersistSaver(tmp_path / "enc", encryption=key1)
    state = chat_graph().compile(checkpointer=again).get_state(cfg("t"))
    assert state.values["messages"][0].content == SECRET
    assert state.metadata["customer_email"] == "alice@example.com"
    assert again.verify().ok


def test_wrong_or_missing_key_is_a_typed_error(tmp_path: Path, key1: Encryption) -> None:
    run_chat(PersistSaver(tmp_path / "enc", encryption=key1), "t")
    other = Encryption.from_keys({"k1": bytes(32)})
    with pytest.raises(ConfigurationError, match="not the key this store was encrypted with"):
        PersistSaver(tmp_path / "enc", encryption=other)
    with pytest.raises(ConfigurationError, match="is encrypted"):
        PersistSaver(tmp_path / "enc")  # a keyless writer would write plaintext
    keyless = PersistSaver(tmp_path / "enc", read_only=True)
    assert keyless.get_tuple(cfg("t")) is None  # names are keyed: "t" is not even findable
    with pytest.raises(CorruptRecordError, match="no encryption key"):
        keyless.threads()


def test_records_cannot_be_swapped_between_threads(tmp_path: Path, key1: Encryption) -> None:
    saver = PersistSaver(tmp_path / "enc", encryption=key1)
    run_chat(saver, "alice")
    run_chat(saver, "mallory", "nothing to see")
    stolen = saver.engine.latest_id(saver.engine.address("alice"))
    assert stolen is not None
    data = saver.store.read(checkpoint_key("alice", stolen, saver=saver))
    assert data is not None
    # now the newest record of mallory's thread
    forged = checkpoint_key("mallory", "f" * 8 + stolen[8:], saver=saver)
    saver.store.write_many([(forged, data)])
    with pytest.raises(CorruptRecordError, match="authentication") as info:
        PersistSaver(tmp_path / "enc", encryption=key1).get_tuple(cfg("mallory"))
    assert info.value.thread_id == "mallory"


def test_plaintext_record_injected_into_encrypted_store_is_refused(
    tmp_path: Path, key1: Encryption
) -> None:
    plain = PersistSaver(tmp_path / "plain")
    run_chat(plain, "t")
    enc = PersistSaver(tmp_path / "enc", encryption=key1)
    run_chat(enc, "t")
    forged = plain.engine.latest_id(Address.of("t", ""))
    assert forged is not None
    data = plain.store.read(checkpoint_key("t", forged))
    assert data is not None
    enc.store.write_many([(checkpoint_key("t", "z" + forged[1:], saver=enc), data)])
    with pytest.raises(CorruptRecordError, match="unencrypted record"):
        PersistSaver(tmp_path / "enc", encryption=key1).get_tuple(cfg("t"))


def test_key_rotation_and_reencrypt(tmp_path: Path, key1: Encryption) -> None:
    run_chat(PersistSaver(tmp_path / "enc", encryption=key1), "old")
    both = Encryption.from_keys({"k1": bytes(range(32)), "k2": bytes(range(1, 33))})
    rotated = PersistSaver(tmp_path / "enc", encryption=both)
    assert rotated.get_tuple(cfg("old")) is not None  # old key still decrypts
    run_chat(rotated, "new")
    assert rotated.reencrypt() > 0
    only_new = PersistSaver(
        tmp_path / "enc", encryption=Encryption.from_keys({"k2": bytes(range(1, 33))})
    )
    for thread in ("old", "new"):
        state = chat_graph().compile(checkpointer=only_new).get_state(cfg(thread))
        assert state.values["turns"] == 1
    assert only_new.verify().ok
    assert rotated.reencrypt() == 0  # idempotent


def test_reencrypt_encrypts_a_plain_store(tmp_path: Path, key1: Encryption) -> None:
    run_chat(PersistSaver(tmp_path / "s"), "t")
    assert PersistSaver(tmp_path / "s", encryption=key1).reencrypt() > 0
    assert b"4111-1111-1111" not in all_bytes(tmp_path / "s")
    state = (
        chat_graph()
        .compile(checkpointer=PersistSaver(tmp_path / "s", encryption=key1))
        .get_state(cfg("t"))
    )
    assert state.values["messages"][0].content == SECRET


def test_copy_thread_with_encryption_reseals(tmp_path: Path, key1: Encryption) -> None:
    saver = PersistSaver(tmp_path / "enc", encryption=key1)
    run_chat(saver, "src")
    saver.copy_thread("src", "dst")
    src = [t.checkpoint for t in saver.list(cfg("src"))]
    dst = [t.checkpoint for t in saver.list(cfg("dst"))]
    assert src == dst and len(src) == 3


def test_bad_keys_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError):
        Encryption.from_keys({"k": b"short"})
    with pytest.raises(ConfigurationError):
        Encryption(keys={"a": bytes(32)}, current="b")
    os.environ["LGP_TEST_KEY"] = "k1:" + bytes(range(32)).hex()
    assert Encryption.from_env("LGP_TEST_KEY").current == "k1"


def test_files_and_directories_are_private(tmp_path: Path) -> None:
    saver = PersistSaver(tmp_path / "s")
    run_chat(saver, "t")
    saver.delete_thread("nothing")
    for path in (tmp_path / "s").rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        if path.is_dir():
            assert mode == 0o700, (path, oct(mode))
        else:
            assert mode == 0o600, (path, oct(mode))


def test_pickle_serializers_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="pickle"):
        PersistSaver(tmp_path / "s", serde=JsonPlusSerializer(pickle_fallback=True))


def test_a_stored_pickle_is_never_loaded(tmp_path: Path) -> None:
    """A forged record holding a pickle payload fails to load; its code never runs."""
    import pickle

    from langgraph.checkpoint.base import empty_checkpoint

    class Boom:
        def __reduce__(self) -> tuple:
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    saver = PersistSaver(tmp_path / "s")
    stored = saver.put(cfg("t", checkpoint_ns=""), empty_checkpoint(), {}, {})
    cid = stored["configurable"]["checkpoint_id"]
    from langgraph_persist import keys, records
    from langgraph_persist.records import Kind

    key = keys.checkpoint("t", "=", cid)
    rec = records.decode(saver.store.read(key))
    rec["refs"] = {"evil": [1, ["i", "pickle", pickle.dumps(Boom())]]}
    saver.store.write_many([(key, records.encode(Kind.CHECKPOINT, rec))])
    with pytest.raises(Exception) as info:
        PersistSaver(tmp_path / "s").get_tuple(cfg("t"))
    assert "pickle" in str(info.value).lower() or isinstance(
        info.value, (NotImplementedError, ValueError)
    )
    assert not (tmp_path / "pwned").exists()


def test_allowlist_clone_is_independent(tmp_path: Path) -> None:
    saver = PersistSaver(tmp_path / "s")
    run_chat(saver, "t")
    clone = saver.with_allowlist([("tests.graphs", "Something")])
    assert isinstance(clone, PersistSaver)
    assert clone.get_tuple(cfg("t")) is not None
    assert clone.engine is not saver.engine or clone is saver


def test_audit_log_records_destructive_operations(tmp_path: Path) -> None:
    saver = PersistSaver(tmp_path / "s")
    run_chat(saver, "a")
    run_chat(saver, "b")
    saver.prune(["a"], strategy="keep_latest")
    saver.delete_thread("b")
    saver.delete_for_runs(["run-x"])
    saver.gc()
    entries = saver.audit.read()  # type: ignore[union-attr]
    assert [e["op"] for e in entries] == ["prune", "delete_thread", "delete_for_runs", "gc"]
    assert entries[1]["thread_id"] == "b"
    assert all({"ts", "pid", "user", "host"} <= e.keys() for e in entries)
    mode = stat.S_IMODE((tmp_path / "s" / "audit.jsonl").stat().st_mode)
    assert mode == 0o600


# -- no secrets in messages or reprs -----------------------------------------------------------

KEY = bytes(range(32))


def test_repr_of_encryption_shows_key_ids_only() -> None:
    enc = Encryption.from_keys({"2026-11": KEY, "2026-12": bytes(range(1, 33))})
    text = repr(enc) + str(enc) + f"{enc!r}"
    assert "2026-11" in text and "2026-12" in text
    for secret in (KEY, bytes(range(1, 33))):
        assert repr(secret) not in text and secret.hex() not in text
        assert repr(secret)[2:-1][:12] not in text  # not even a piece of the escaped bytes


@pytest.mark.parametrize(
    "value",
    [
        KEY.hex(),  # a bare key, no "id:"
        KEY.hex() + ":k1",  # id and key swapped
        "k1:" + KEY.hex()[:-1] + "z",  # not hex
        "k1:" + KEY.hex()[:40],  # too short
        "k1:" + KEY.hex() + "," + KEY.hex(),  # second entry bare
        ":" + KEY.hex(),  # empty id
    ],
)
def test_bad_key_variables_never_echo_the_key(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LGP_TEST_KEY", value)
    with pytest.raises(ConfigurationError) as info:
        Encryption.from_env("LGP_TEST_KEY")
    message = str(info.value)
    assert "LGP_TEST_KEY" in message and "entry" in message
    assert KEY.hex()[:16] not in message and KEY.hex()[-16:] not in message
    chained = info.value.__context__ is not None and not info.value.__suppress_context__
    assert info.value.__cause__ is None and not chained  # no ValueError quoting the text
