"""The hot tier is authenticated: each attack on a shared Redis, and its negative control.

Every finding of the security review is reproduced here as an attack by
another client of the same Redis (``attacker``: a plain client on the same
database, as another application with another key prefix has). Each attack
test asserts the attack fails; its negative control runs the same attack with
the MAC check switched off (``without_the_mac``: verification accepts
anything) and asserts the attack then succeeds, so the attack test is known to
test something. The last tests check the Redis ACL setup ``docs/tiers.md``
recommends, on a server of their own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from langchain_core.runnables import RunnableConfig

from langgraph_persist import CorruptRecordError, PersistSaver, keys, records
from langgraph_persist.crypto import Encryption
from langgraph_persist.keys import Key
from langgraph_persist.records import Kind
from langgraph_persist.store import hot_auth
from langgraph_persist.store.files import FileStore
from langgraph_persist.store.hot.entries import encode_entry
from langgraph_persist.store.hot.layout import RedisKeys
from langgraph_persist.store.hot.primitives import PendingEntry
from langgraph_persist.store.hot_auth import HotAuth, store_secret
from langgraph_persist.store.tiered import HotTierOptions, TieredStore, build_tiered
from langgraph_persist.store.tiered_writebehind import WriteBehind
from tests.damage import checkpoint_key
from tests.graphs import chat_graph, human
from tests.redis_server import RedisServer

MODES = ["write-through", "write-behind"]
FAKE_WRITER = "0123456789abcdef" * 2
"""A writer id of the right shape, chosen by the attacker."""


def cfg(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}}


def options(mode: str, prefix: str, **extra: Any) -> HotTierOptions:
    base: dict[str, Any] = {
        "mode": mode,
        "key_prefix": prefix,
        "timeout": timedelta(seconds=1),
        "probe_interval": timedelta(milliseconds=100),
        "flush_lease": timedelta(seconds=1),
    }
    return HotTierOptions(**{**base, **extra})


def messages(saver: PersistSaver, thread: str) -> list[str]:
    state = chat_graph().compile(checkpointer=saver).get_state(cfg(thread))
    return [m.content for m in state.values.get("messages", [])]


def tier(saver: PersistSaver) -> TieredStore:
    assert isinstance(saver.store, TieredStore)
    return saver.store


def latest_key(saver: PersistSaver, thread: str) -> Key:
    latest = saver.get_tuple(cfg(thread))
    assert latest is not None
    return checkpoint_key(thread, latest.config["configurable"]["checkpoint_id"], saver=saver)


# -- switching the MAC off, for the negative controls ---------------------------------------------


def _strip(stored: bytes) -> bytes:
    """What a reader that does not verify takes out of an envelope (or the bytes as they are)."""
    if stored[:4] == hot_auth.MAGIC:
        return stored[6 + stored[5] + hot_auth.MAC_SIZE :]
    return stored


@pytest.fixture
def without_the_mac(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Call it to make every verification accept anything (values and queue entries)."""

    def switch_off() -> None:
        monkeypatch.setattr(HotAuth, "open", lambda self, key, stored: _strip(stored))
        monkeypatch.setattr(HotAuth, "open_entry", lambda self, writer, stored: _strip(stored))

    return switch_off


@pytest.fixture
def release_flusher(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Call it to make the write-behind flusher overwrite, as the last release did."""

    def switch_off() -> None:
        monkeypatch.setattr(
            WriteBehind, "cold_write", lambda self, items: self.cold.write_many(items)
        )

    return switch_off


# -- the victim and the attacker ------------------------------------------------------------------


@pytest.fixture
def make_saver(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> Iterator[Callable[..., PersistSaver]]:
    """Savers on one store directory and one Redis prefix (each one is 'a process')."""
    made: list[PersistSaver] = []

    def make(mode: str = "write-through", **extra: Any) -> PersistSaver:
        encryption = extra.pop("encryption", None)
        saver = PersistSaver(
            tmp_path / "store",
            redis=redis_url,
            hot=options(mode, redis_prefix, **extra),
            encryption=encryption,
        )
        made.append(saver)
        return saver

    yield make
    for saver in made:
        saver.close()


@pytest.fixture
def attacker(redis_url: str) -> Iterator[redis.Redis]:
    """Another client of the same Redis database (no ACL yet: see the last tests)."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def chat(saver: PersistSaver, thread: str, *texts: str) -> None:
    graph = chat_graph().compile(checkpointer=saver)
    for text in texts:
        graph.invoke(human(text), cfg(thread))
    saver.flush()


def forged_state(tmp_path: Path, thread: str, text: str) -> tuple[bytes, dict[Key, bytes]]:
    """A validly framed checkpoint record for ``thread`` whose state the attacker chose,
    and the content it references, made with langgraph-persist itself."""
    own = PersistSaver(tmp_path / "attacker")
    chat(own, thread, text)
    record = own.store.read(latest_key(own, thread))
    assert record is not None
    blobs = {k: own.store.read(k) or b"" for k, _, _ in own.store.walk((keys.BLOBS,))}
    own.close()
    return record, blobs


def plant(client: redis.Redis, prefix: str, items: dict[Key, bytes]) -> None:
    """SET raw bytes at our keys' Redis names (what any client of the database can do)."""
    names = RedisKeys(prefix)
    for key, data in items.items():
        client.set(names.value(key), data)


# -- finding: a replaced hot copy was served (and ran the attacker's code in a test) --------------


def _forge_latest(
    make_saver: Callable[..., PersistSaver],
    attacker: redis.Redis,
    prefix: str,
    tmp_path: Path,
    mode: str,
) -> tuple[list[str], PersistSaver]:
    victim = make_saver(mode)
    chat(victim, "alice", "hello")
    record, blobs = forged_state(tmp_path, "alice", "pwned")
    plant(attacker, prefix, {latest_key(victim, "alice"): record, **blobs})
    reader = make_saver(mode)  # a fresh reader: nothing cached in memory
    return messages(reader, "alice"), reader


@pytest.mark.parametrize("mode", MODES)
def test_a_forged_hot_copy_is_never_served(
    make_saver: Callable[..., PersistSaver],
    attacker: redis.Redis,
    redis_prefix: str,
    tmp_path: Path,
    mode: str,
) -> None:
    seen, reader = _forge_latest(make_saver, attacker, redis_prefix, tmp_path, mode)
    assert seen == ["hello", "echo: hello"]
    store = tier(reader)
    assert store.stats()["corrupt"] >= 1
    key = latest_key(reader, "alice")
    # the forged copy was replaced by the cold one, sealed under our MAC
    stored = attacker.get(store.hot.keys.value(key))
    assert stored is not None and store.auth.open(key, stored) == store.cold.read(key)
    assert reader.verify().ok


def test_control_a_forged_hot_copy_is_served_without_the_mac(
    make_saver: Callable[..., PersistSaver],
    attacker: redis.Redis,
    redis_prefix: str,
    tmp_path: Path,
    without_the_mac: Callable[[], None],
) -> None:
    without_the_mac()
    seen, reader = _forge_latest(make_saver, attacker, redis_prefix, tmp_path, "write-through")
    assert seen == ["pwned", "echo: pwned"]
    assert reader.verify().ok  # verify reads the cold tier: it never saw the forgery


# -- finding: swapping two threads' hot copies served thread B's state for thread A ---------------


def _swap(make_saver: Callable[..., PersistSaver], attacker: redis.Redis) -> list[str]:
    victim = make_saver()
    chat(victim, "alice", "alice's secret")
    chat(victim, "bob", "bob's note")
    names = tier(victim).hot.keys
    a, b = names.value(latest_key(victim, "alice")), names.value(latest_key(victim, "bob"))
    copy_a, copy_b = attacker.get(a), attacker.get(b)
    assert copy_a is not None and copy_b is not None
    attacker.set(a, copy_b)
    attacker.set(b, copy_a)
    return messages(make_saver(), "alice")


def test_swapped_hot_copies_are_refused(
    make_saver: Callable[..., PersistSaver], attacker: redis.Redis
) -> None:
    assert _swap(make_saver, attacker) == ["alice's secret", "echo: alice's secret"]


def test_control_swapped_hot_copies_are_served_without_the_mac(
    make_saver: Callable[..., PersistSaver],
    attacker: redis.Redis,
    without_the_mac: Callable[[], None],
) -> None:
    without_the_mac()
    assert _swap(make_saver, attacker) == ["bob's note", "echo: bob's note"]


# -- finding: a fake write-behind queue was flushed to disk ---------------------------------------


def fake_queue(
    client: redis.Redis, prefix: str, entry_keys: list[Key], writer: str = FAKE_WRITER
) -> None:
    """A queue entry as the last release wrote them, for a 'dead writer' the attacker made up."""
    names = RedisKeys(prefix)
    client.rpush(names.queue(writer), encode_entry(0, False, entry_keys))
    client.sadd(names.writers(), writer)


def _revive(
    make_saver: Callable[..., PersistSaver], attacker: redis.Redis, prefix: str, tmp_path: Path
) -> PersistSaver:
    victim = make_saver("write-behind")
    chat(victim, "alice", "delete me")
    cold = tier(victim).cold
    thread_dir = keys.thread_dir(victim.engine.address("alice").t)
    captured = {k: cold.read(k) or b"" for k, _, _ in cold.walk(thread_dir)}
    victim.delete_thread("alice")
    victim.close()  # one recovering process only: outcomes do not depend on who ran first
    assert PersistSaver(tmp_path / "store").get_tuple(cfg("alice")) is None
    plant(attacker, prefix, captured)  # copies seen before (or made up: they need no key)
    fake_queue(attacker, prefix, sorted(captured))
    recoverer = make_saver("write-behind")
    tier(recoverer).recover_orphans()  # after its background thread's run, if that came first
    return recoverer


def test_a_fake_queue_cannot_revive_a_deleted_thread(
    make_saver: Callable[..., PersistSaver],
    attacker: redis.Redis,
    redis_prefix: str,
    tmp_path: Path,
) -> None:
    recoverer = _revive(make_saver, attacker, redis_prefix, tmp_path)
    assert tier(recoverer).stats()["recovered"] == 0
    assert tier(recoverer).stats()["rejected"] == 1
    assert PersistSaver(tmp_path / "store").get_tuple(cfg("alice")) is None
    assert recoverer.get_tuple(cfg("alice")) is None
    # left alone, and not retried by this process (it logged once)
    assert attacker.llen(tier(recoverer).hot.keys.queue(FAKE_WRITER)) == 1
    assert tier(recoverer).recover_orphans() == 0


def test_control_a_fake_queue_revives_a_deleted_thread_without_the_mac(
    make_saver: Callable[..., PersistSaver],
    attacker: redis.Redis,
    redis_prefix: str,
    tmp_path: Path,
    without_the_mac: Callable[[], None],
) -> None:
    without_the_mac()
    recoverer = _revive(make_saver, attacker, redis_prefix, tmp_path)
    assert tier(recoverer).stats()["recovered"] > 0
    assert messages(PersistSaver(tmp_path / "store"), "alice") == ["delete me", "echo: delete me"]


def _overwrite(
    make_saver: Callable[..., PersistSaver], attacker: redis.Redis, prefix: str, tmp_path: Path
) -> list[str]:
    """A fake queue naming the latest checkpoint, whose Redis copy the attacker replaced."""
    victim = make_saver("write-behind")
    chat(victim, "alice", "hello")
    key = latest_key(victim, "alice")
    victim.close()
    record, blobs = forged_state(tmp_path, "alice", "pwned")
    plant(attacker, prefix, {key: record, **blobs})
    fake_queue(attacker, prefix, [*blobs, key])
    tier(make_saver("write-behind")).recover_orphans()
    return messages(PersistSaver(tmp_path / "store"), "alice")  # what the disk says


def test_a_fake_queue_cannot_overwrite_a_checkpoint_on_disk(
    make_saver: Callable[..., PersistSaver],
    attacker: redis.Redis,
    redis_prefix: str,
    tmp_path: Path,
) -> None:
    assert _overwrite(make_saver, attacker, redis_prefix, tmp_path) == ["hello", "echo: hello"]


def test_control_create_only_flush_still_protects_the_disk_without_the_mac(
    make_saver: Callable[..., PersistSaver],
    attacker: redis.Redis,
    redis_prefix: str,
    tmp_path: Path,
    without_the_mac: Callable[[], None],
) -> None:
    """Defence in depth: with the MAC off, the flusher still never overwrites."""
    without_the_mac()
    assert _overwrite(make_saver, attacker, redis_prefix, tmp_path) == ["hello", "echo: hello"]


def test_control_a_fake_queue_overwrites_a_checkpoint_without_both(
    make_saver: Callable[..., PersistSaver],
    attacker: redis.Redis,
    redis_prefix: str,
    tmp_path: Path,
    without_the_mac: Callable[[], None],
    release_flusher: Callable[[], None],
) -> None:
    without_the_mac()
    release_flusher()
    assert _overwrite(make_saver, attacker, redis_prefix, tmp_path) == ["pwned", "echo: pwned"]


def _dead_writers_queue(store: TieredStore) -> Key:
    """A genuine queue of a writer that died: sealed with our MAC, pending in Redis."""
    key = keys.checkpoint("orphan", "=", "1ef-0001")
    data = records.encode(Kind.BLOB, "unflushed")
    entry = store.auth.seal_entry(FAKE_WRITER, encode_entry(0, False, [key]))
    store.hot.put_values([(key, data)], pending=PendingEntry(FAKE_WRITER, entry))
    return key


def test_a_write_through_process_never_flushes_a_queue(
    make_saver: Callable[..., PersistSaver],
) -> None:
    store = tier(make_saver("write-through"))
    key = _dead_writers_queue(store)
    assert store.recover_orphans() == 0
    assert store.cold.read(key) is None


def test_control_a_write_behind_process_flushes_that_queue(
    make_saver: Callable[..., PersistSaver],
) -> None:
    key = _dead_writers_queue(tier(make_saver("write-through")))
    store = tier(make_saver("write-behind"))
    store.recover_orphans()
    assert store.stats()["recovered"] == 1
    assert store.cold.read(key) == records.encode(Kind.BLOB, "unflushed")


def test_a_writer_id_not_of_ours_is_rejected(
    make_saver: Callable[..., PersistSaver], attacker: redis.Redis, redis_prefix: str
) -> None:
    store = tier(make_saver("write-behind"))
    fake_queue(attacker, redis_prefix, [keys.thread_info("x")], writer="x}:{threads/y")
    assert store.recover_orphans() == 0
    assert store.stats()["rejected"] == 1


# -- pending names are bare names: planted ones must not change listings or existence ----------


def _plant_pending(store: TieredStore, attacker: redis.Redis, key: Key, data: bytes) -> None:
    names = store.hot.keys
    tag = names.tag_of(key)
    attacker.set(names.value(key), data)
    attacker.zadd(names.registry(tag), {names.value(key): 0})
    attacker.zadd(names.pending(tag), {names.value(key): 0})
    attacker.zadd(names.level1(tag.c0), {tag.c1: float("inf")})


def _listings(
    make_saver: Callable[..., PersistSaver], attacker: redis.Redis
) -> tuple[list[str], list[str], bool]:
    store = tier(make_saver("write-behind"))
    phantom = keys.checkpoint("mallory", "=", "1ef-0666")
    blob = keys.blob(bytes(20))
    _plant_pending(store, attacker, phantom, records.encode(Kind.CHECKPOINT, {"x": 1}))
    _plant_pending(store, attacker, blob, records.encode(Kind.BLOB, "fake"))
    return (
        store.list(keys.threads_root()),
        store.list(keys.checkpoints_dir("mallory", "=")),
        store.exists_many([blob])[0],  # True would make the engine skip writing this content
    )


def test_planted_pending_names_are_not_listed(
    make_saver: Callable[..., PersistSaver], attacker: redis.Redis
) -> None:
    assert _listings(make_saver, attacker) == ([], [], False)


def test_control_planted_pending_names_are_listed_without_the_mac(
    make_saver: Callable[..., PersistSaver],
    attacker: redis.Redis,
    without_the_mac: Callable[[], None],
) -> None:
    without_the_mac()
    assert _listings(make_saver, attacker) == (["mallory"], ["1ef-0666"], True)


# -- finding: in an encrypted store a poisoned copy made reads fail, and extended its TTL ---------


KEY = Encryption.from_keys({"k1": bytes(range(32))})


def _poison_encrypted(
    make_saver: Callable[..., PersistSaver], attacker: redis.Redis
) -> PersistSaver:
    victim = make_saver(encryption=KEY)
    chat(victim, "alice", "sealed")
    key = latest_key(victim, "alice")
    own_key = Encryption.from_keys({"k1": bytes(32)})  # the attacker's own: framing needs none
    poisoned = records.encode(Kind.CHECKPOINT, {"x": 1}, sealer=own_key, aad="/".join(key).encode())
    attacker.set(tier(victim).hot.keys.value(key), poisoned)
    return make_saver(encryption=KEY)


def test_a_poisoned_copy_in_an_encrypted_store_falls_back_to_disk(
    make_saver: Callable[..., PersistSaver], attacker: redis.Redis
) -> None:
    reader = _poison_encrypted(make_saver, attacker)
    assert messages(reader, "alice") == ["sealed", "echo: sealed"]
    assert tier(reader).stats()["corrupt"] >= 1


def test_control_a_poisoned_copy_breaks_reads_without_the_mac(
    make_saver: Callable[..., PersistSaver],
    attacker: redis.Redis,
    without_the_mac: Callable[[], None],
) -> None:
    without_the_mac()
    reader = _poison_encrypted(make_saver, attacker)
    with pytest.raises(CorruptRecordError):
        messages(reader, "alice")


def _ttl_after_reads(
    make_saver: Callable[..., PersistSaver], attacker: redis.Redis
) -> tuple[bytes | None, int]:
    store = tier(make_saver(ttl=timedelta(minutes=10)))
    key = keys.checkpoint("mallory", "=", "1ef-0666")  # only in Redis: nothing replaces it
    name = store.hot.keys.value(key)
    attacker.set(name, records.encode(Kind.CHECKPOINT, {"x": 1}), px=60_000)  # < 90% of the TTL
    value = None
    for _ in range(3):
        value = store.read(key)
    return value, int(attacker.pttl(name))


def test_a_bad_copy_never_gets_a_longer_ttl(
    make_saver: Callable[..., PersistSaver], attacker: redis.Redis
) -> None:
    value, ttl_ms = _ttl_after_reads(make_saver, attacker)
    assert value is None
    assert 0 < ttl_ms <= 60_000


def test_control_a_bad_copy_gets_a_longer_ttl_without_the_mac(
    make_saver: Callable[..., PersistSaver],
    attacker: redis.Redis,
    without_the_mac: Callable[[], None],
) -> None:
    without_the_mac()
    value, ttl_ms = _ttl_after_reads(make_saver, attacker)
    assert value is not None and ttl_ms > 60_000


def test_a_copy_replaced_after_verification_is_not_refreshed(
    make_saver: Callable[..., PersistSaver], attacker: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refresh extends only the bytes that verified, even if swapped in between."""
    store = tier(make_saver(ttl=timedelta(minutes=10)))
    key = keys.checkpoint("alice", "=", "1ef-0001")
    store.write_many([(key, records.encode(Kind.CHECKPOINT, {"x": 1}))])
    name = store.hot.keys.value(key)
    attacker.pexpire(name, 60_000)  # due for a refresh
    refresh = type(store.hot)._refresh

    def swap_then_refresh(hot: Any, seen: Any) -> None:
        attacker.set(name, b"swapped in between", keepttl=True)
        refresh(hot, seen)

    monkeypatch.setattr(type(store.hot), "_refresh", swap_then_refresh)
    assert store.hot.fetch([key]).values[0] is not None
    assert 0 < attacker.pttl(name) <= 60_000


# -- the MAC itself ---------------------------------------------------------------------------


def test_the_mac_binds_key_store_prefix_and_key_id() -> None:
    secret = bytes(range(32))
    auth = HotAuth.derive(secret, "app:")
    key = keys.checkpoint("alice", "=", "1ef-0001")
    record = records.encode(Kind.CHECKPOINT, {"x": 1})
    sealed = auth.seal(key, record)
    assert auth.open(key, sealed) == record
    assert auth.seal(key, record) == sealed  # deterministic: repairs and acks compare sha1
    assert auth.open(keys.checkpoint("bob", "=", "1ef-0001"), sealed) is None  # another key
    assert auth.open(("threads", "alice/ns", "=", "c", "1ef-0001"), sealed) is None
    assert HotAuth.derive(secret, "other:").open(key, sealed) is None  # another prefix
    assert HotAuth.derive(bytes(32), "app:").open(key, sealed) is None  # another store
    flipped = bytearray(sealed)
    flipped[-1] ^= 1
    assert auth.open(key, bytes(flipped)) is None
    assert auth.open(key, record) is None and auth.open(key, b"") is None
    # queue entries are bound to their writer, and are not values
    entry = auth.seal_entry("w1", b"entry")
    assert auth.open_entry("w1", entry) == b"entry"
    assert auth.open_entry("w2", entry) is None and auth.open(key, entry) is None


def test_rotation_keys_by_id_and_never_the_aes_key_itself() -> None:
    secret = bytes(range(32))
    old = Encryption.from_keys({"k1": bytes([1]) * 32})
    both = Encryption.from_keys({"k1": bytes([1]) * 32, "k2": bytes([2]) * 32})
    key = keys.thread_info("alice")
    sealed_old = HotAuth.derive(secret, "p:", old).seal(key, b"x")
    rotated = HotAuth.derive(secret, "p:", both)
    assert rotated.open(key, sealed_old) == b"x"  # old envelopes verify with the key they name
    assert rotated.seal(key, b"x")[6:8] == b"k2"  # new ones use the current key
    assert HotAuth.derive(secret, "p:").open(key, sealed_old) is None  # no encryption, no key
    assert bytes([1]) * 32 not in sealed_old
    plain = HotAuth.derive(secret, "p:")
    assert HotAuth.derive(secret, "p:", old).open(key, plain.seal(key, b"x")) is None


def test_the_store_secret_lives_in_the_cold_store_only(
    make_saver: Callable[..., PersistSaver], attacker: redis.Redis, tmp_path: Path
) -> None:
    saver = make_saver("write-behind")
    chat(saver, "alice", "hi")
    secret = store_secret(tier(saver).cold)
    assert store_secret(tier(make_saver()).cold) == secret  # created once
    assert saver.store.read(keys.hot_secret()) is not None  # served by the cold tier ...
    everything = [attacker.dump(name) or b"" for name in attacker.keys("*")]
    assert everything and not any(secret in value for value in everything)  # ... never by Redis
    assert not any(b"meta" in name for name in attacker.keys("*"))


@pytest.mark.parametrize("mode", MODES)
def test_reencrypt_through_the_tier(
    make_saver: Callable[..., PersistSaver], tmp_path: Path, mode: str
) -> None:
    """reencrypt rewrites records in place: written through in both modes."""
    chat(make_saver(mode), "alice", "to be sealed")
    sealed = make_saver(mode, encryption=KEY)
    assert sealed.reencrypt() > 0
    sealed.flush()
    cold = tier(sealed).cold
    for key, _, _ in cold.walk(()):
        data = cold.read(key)
        if key[0] != keys.META and data is not None and data[:4] == records.MAGIC:
            assert data[6] & records.FLAG_ENCRYPTED, key  # meta/: readable without a key
    assert messages(make_saver(mode, encryption=KEY), "alice") == [
        "to be sealed",
        "echo: to be sealed",
    ]


# -- isolation: one Redis ACL user per application, restricted to its prefix ---------------------

TIERS_MD = Path(__file__).resolve().parent.parent / "docs" / "tiers.md"


def documented_acl() -> list[str]:
    """The ``ACL SETUSER`` line docs/tiers.md gives users, split into arguments."""
    found = re.search(r"^ACL SETUSER app (.*)$", TIERS_MD.read_text(), re.M)
    assert found, "docs/tiers.md lost its ACL SETUSER line"
    return found.group(1).split()


def acl_user(admin: redis.Redis, name: str, password: str, prefix: str, *extra: str) -> None:
    """The documented user, for ``name`` with its own password and prefix."""
    rules = [
        f">{password}" if rule == ">app-password" else f"~{prefix}*" if rule == "~app:*" else rule
        for rule in documented_acl()
    ]
    assert f">{password}" in rules and f"~{prefix}*" in rules
    admin.execute_command("ACL", "SETUSER", name, "reset", *rules, *extra)


@pytest.fixture
def acl_server(private_redis: Callable[..., RedisServer]) -> Iterator[RedisServer]:
    """A server of our own: ACL users are server-wide, the shared one stays untouched."""
    server = private_redis()
    admin = server.client()
    acl_user(admin, "app", "app-pw", "app:")
    acl_user(admin, "other", "other-pw", "other:")
    admin.close()
    yield server


def user_url(server: RedisServer, user: str, password: str) -> str:
    return f"redis://{user}:{password}@127.0.0.1:{server.port}/0"


def app_saver(acl_server: RedisServer, tmp_path: Path, mode: str = "write-through") -> PersistSaver:
    """A saver whose hot tier logs in as the ACL user ``app``, confined to ``app:`` keys."""
    return PersistSaver(
        tmp_path / "store", redis=user_url(acl_server, "app", "app-pw"), hot=options(mode, "app:")
    )


@pytest.mark.parametrize("mode", MODES)
def test_a_tiered_saver_works_through_a_restricted_acl_user(
    acl_server: RedisServer, tmp_path: Path, mode: str
) -> None:
    saver = app_saver(acl_server, tmp_path, mode)
    graph = chat_graph().compile(checkpointer=saver)
    for text in ("one", "two"):
        graph.invoke(human(text), cfg("alice"))
    saver.pin_thread("alice")
    saver.unpin_thread("alice")
    saver.flush()
    reader = app_saver(acl_server, tmp_path, mode)
    assert messages(reader, "alice")[-1] == "echo: two"
    assert len(list(reader.list(cfg("alice")))) == 6  # three per turn
    reader.delete_thread("alice")
    assert saver.get_tuple(cfg("alice")) is None
    for store in (tier(saver), tier(reader)):
        stats = store.stats()
        assert (stats["errors"], stats["degraded"]) == (0, False)  # no NOPERM anywhere
        assert stats["hits"] + stats["backfills"] > 0
    saver.close()
    reader.close()


def test_another_acl_user_cannot_read_or_write_our_keys(
    acl_server: RedisServer, tmp_path: Path
) -> None:
    saver = app_saver(acl_server, tmp_path)
    chat(saver, "alice", "private")
    ours = tier(saver).hot.keys.value(latest_key(saver, "alice"))
    other = redis.Redis.from_url(user_url(acl_server, "other", "other-pw"))
    with pytest.raises(redis.exceptions.NoPermissionError):
        other.get(ours)
    with pytest.raises(redis.exceptions.NoPermissionError):
        other.set(ours, b"forged")
    with pytest.raises(redis.exceptions.NoPermissionError):
        other.scan()  # key names (thread ids) are not listed either
    sha = other.script_load("return redis.call('GET', KEYS[1])")
    with pytest.raises(redis.exceptions.ResponseError, match=r"(?i)permission|NOPERM"):
        other.evalsha(sha, 1, ours)  # nor through a script
    other.set("other:mine", b"fine")  # its own prefix works
    other.close()
    saver.close()


def test_control_without_acl_users_any_client_reads_our_keys(
    acl_server: RedisServer, tmp_path: Path
) -> None:
    saver = app_saver(acl_server, tmp_path)
    chat(saver, "alice", "private")
    ours = tier(saver).hot.keys.value(latest_key(saver, "alice"))
    default = acl_server.client()  # the unrestricted default user: another app without ACL
    stored = default.get(ours)
    assert stored is not None and tier(saver).auth.open(latest_key(saver, "alice"), stored)
    default.close()
    saver.close()


def test_build_tiered_keys_the_mac_from_the_encryption_key(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    plain = build_tiered(
        FileStore(tmp_path / "s"), redis_url, options("write-through", redis_prefix)
    )
    sealed = build_tiered(
        FileStore(tmp_path / "s"), redis_url, options("write-through", redis_prefix), encryption=KEY
    )
    key = keys.thread_info("alice")
    assert plain.auth.current == "" and sealed.auth.current == "k1"
    assert sealed.auth.open(key, plain.auth.seal(key, b"x")) is None
    plain.close()
    sealed.close()


def test_write_behind_flush_replaces_a_head_and_creates_the_rest(
    make_saver: Callable[..., PersistSaver],
) -> None:
    """The one key the engine rewrites through ``commit`` (a namespace's head) is
    replaced by the flusher; checkpoints, writes and content are only created."""
    saver = make_saver("write-behind")
    chat(saver, "alice", "one", "two", "three")
    a = saver.engine.address("alice")
    cold = tier(saver).cold
    head = records.decode(cold.read(keys.head(a.t, a.n)) or b"", expect=Kind.HEAD)
    latest = saver.get_tuple(cfg("alice"))
    assert latest is not None and head["latest"] == latest.config["configurable"]["checkpoint_id"]
    assert saver.verify().ok
