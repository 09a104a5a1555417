"""The one strict serializer for data this process did not write itself.

LangGraph's default ``JsonPlusSerializer`` (langgraph-checkpoint 4.x) rebuilds
*any* type a payload names, ``os.system`` included, and only logs a warning
unless ``LANGGRAPH_STRICT_MSGPACK=true`` or an explicit allowlist is given;
``with_allowlist`` on top of that permissive default changes nothing. Fine for
a graph reading back its own checkpoints; not for a snapshot file someone sent,
a store the CLI is pointed at, or a database we migrate from. Every such path
decodes with ``untrusted_serde()`` instead:

* ``snapshot.restore`` and ``snapshot.verify_snapshot`` (``allowed_types=``),
  so ``langgraph-persist import`` and ``inspect``;
* every store the CLI opens (``show``, ``history``, ``diff``, ``threads``,
  ``export``, ``import``, ``prune``, ...) and both sides of ``migrate``
  (``--allow-type``).

What is allowed, exactly what LangGraph allows in strict mode plus what the
user names:

* msgpack constructors (extension codes 0-2, 4, 5): the ``(module, name)``
  pairs of ``langgraph.checkpoint.serde._msgpack.SAFE_MSGPACK_TYPES`` (datetime
  types, UUID, Decimal, set/frozenset/deque, ip addresses, paths, ZoneInfo,
  ``re.compile``, LangChain messages and ``Document``, LangGraph's ``Send``,
  ``Command``, ``Interrupt``, ...), plus ``allowed_types``;
* msgpack method calls (code 3): ``SAFE_MSGPACK_METHODS`` only
  (``datetime.datetime.fromisoformat``); the user cannot add any;
* legacy ``"json"`` values: ``lc: 2`` constructors of the same types; ``lc: 1``
  (LangChain) constructors of chat-message classes only (LangChain's
  ``allowed_objects="messages"``, its choice for untrusted input); secrets are
  never read from the environment;
* pickle: never.

A blocked type is never imported, let alone called. LangGraph's decoder then
returns the payload's raw arguments in its place (a JSON envelope stays the
inert dict it is). That substitution must not go unnoticed: the serializer
collects every blocked type, nested ones included, and either raises
``BlockedTypeError`` (``on_blocked="raise"``: restore, export, migrate, where a
degraded value would be written somewhere) or keeps them in ``.blocked`` for
the caller to report (``"record"``: the CLI's read-only views, which warn).

How blocked types are seen: LangGraph emits a ``msgpack_blocked`` serde event
from inside its extension hook for each one, at any depth; one listener,
registered once, hands the event to whichever serializer is decoding in this
thread or task (a context variable), so concurrent decoders never mix up
their reports. JSON envelopes are checked in ``_reviver`` directly.

Sizes are bounded too: a msgpack value is walked by ``bounded.scan`` (its
extension payloads included) against ``MAX_VALUE_ITEMS`` before ormsgpack,
which has no limits of its own, builds it; a legacy JSON value's separators
are counted against the same limit before ``json.loads``.
"""

from __future__ import annotations

import contextvars
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from langgraph.checkpoint.serde._msgpack import SAFE_MSGPACK_METHODS, SAFE_MSGPACK_TYPES
from langgraph.checkpoint.serde.base import SerializerProtocol
from langgraph.checkpoint.serde.encrypted import EncryptedSerializer
from langgraph.checkpoint.serde.event_hooks import SerdeEvent, register_serde_event_listener
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from langgraph_persist import bounded
from langgraph_persist.errors import (
    BlockedTypeError,
    ConfigurationError,
    CorruptRecordError,
    PersistError,
)

__all__ = [
    "MAX_VALUE_ITEMS",
    "SAFE_MSGPACK_METHODS",
    "SAFE_MSGPACK_TYPES",
    "AllowedTypes",
    "BlockedType",
    "OnBlocked",
    "UntrustedSerializer",
    "parse_type",
    "untrusted_serde",
]

MAX_VALUE_ITEMS = 1 << 23
"""Most msgpack objects one untrusted value may hold (8,388,608), extension payloads
included: a list of ~300,000 LangChain messages. ormsgpack has no limit of its own."""

AllowedTypes = Iterable["str | type | tuple[str, str]"]
"""``"module:Class"``, a class, or a ``(module, name)`` pair."""

OnBlocked = Literal["raise", "record"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


@dataclass(frozen=True, order=True)
class BlockedType:
    """A type (or method call) a payload asked for and the strict serializer refused."""

    module: str
    name: str
    method: str = ""

    def __str__(self) -> str:
        dotted = f"{self.module}.{self.name}"
        return f"{dotted}.{self.method}()" if self.method else dotted

    @property
    def spec(self) -> str:
        """How to allow it: ``module:Class`` (``--allow-type``, ``allowed_types=``)."""
        return f"{self.module}:{self.name}"


def parse_type(spec: str | type | tuple[str, str]) -> tuple[str, str]:
    """``"module:Class"``, a class or ``(module, name)`` → ``(module, name)``."""
    if isinstance(spec, type):
        module, name = spec.__module__, spec.__qualname__
    elif isinstance(spec, tuple) and len(spec) == 2:
        module, name = spec
    elif isinstance(spec, str) and spec.count(":") == 1:
        module, name = spec.split(":")
    else:
        raise ConfigurationError(f"allowed type {spec!r} is not 'module:Class'")
    if not (
        isinstance(module, str)
        and isinstance(name, str)
        and _NAME.match(module)
        and _NAME.match(name)
        and "." not in name
    ):
        raise ConfigurationError(f"allowed type {spec!r} is not 'module:Class'")
    return module, name


# -- who is decoding: blocked-type events go to the serializer of this thread/task ------------

_collecting: contextvars.ContextVar[list[BlockedType] | None] = contextvars.ContextVar(
    "langgraph_persist_untrusted_blocked", default=None
)


def _on_serde_event(event: SerdeEvent) -> None:
    found = _collecting.get()
    if found is None:
        return
    if event["kind"] == "msgpack_blocked":
        found.append(BlockedType(str(event["module"]), str(event["name"])))
    elif event["kind"] == "msgpack_method_blocked":
        method = str(event.get("method", ""))
        found.append(BlockedType(str(event["module"]), str(event["name"]), method))


register_serde_event_listener(_on_serde_event)

_messages_reviver: Any = None


def _lc1_reviver() -> Any:
    """LangChain's reviver limited to chat messages (created once, on first use)."""
    global _messages_reviver
    if _messages_reviver is None:
        from langchain_core.load.load import Reviver

        _messages_reviver = Reviver(allowed_objects="messages")
    return _messages_reviver


class UntrustedSerializer(JsonPlusSerializer):
    """``JsonPlusSerializer`` in strict mode whatever the environment, reporting what it blocks.

    Encoding is LangGraph's own (``dumps_typed`` is inherited), so values
    written after a strict decode are byte-for-byte what the default
    serializer writes.
    """

    def __init__(self, allowed_types: AllowedTypes = (), *, on_blocked: OnBlocked = "raise"):
        pairs = sorted({parse_type(t) for t in allowed_types})
        super().__init__(
            pickle_fallback=False,
            allowed_msgpack_modules=pairs or None,  # None: SAFE_MSGPACK_TYPES only
            allowed_json_modules=[(*m.split("."), n) for m, n in pairs] or None,
        )
        self.allowed_types: frozenset[tuple[str, str]] = frozenset(pairs)
        self.on_blocked: OnBlocked = on_blocked
        self.blocked: set[BlockedType] = set()
        self._lock = threading.Lock()

    def allows(self, module: str, name: str) -> bool:
        return (module, name) in SAFE_MSGPACK_TYPES or (module, name) in self.allowed_types

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        """Decode, bounded; anything undecodable is a ``CorruptRecordError``, never a crash."""
        type_, payload = data
        found: list[BlockedType] = []
        token = _collecting.set(found)
        try:
            if type_ == "msgpack" and len(payload) > bounded.SCAN_MIN:
                bounded.scan(payload, MAX_VALUE_ITEMS, extensions=True)
            elif type_ == "json" and len(payload) > bounded.SCAN_MIN:
                _check_json_size(payload)
            value = super().loads_typed(data)
        except PersistError:
            raise
        except MemoryError:  # exhaustion is not damage: the limits exist so it never happens
            raise
        except Exception as exc:  # ormsgpack, json, unknown types ("pickle"): all "damaged"
            what = type(exc).__name__  # not its text: decoder messages quote the data
            if isinstance(exc, bounded.LimitError):
                what += f": {exc}"
            raise CorruptRecordError(
                f"undecodable value of type {str(type_)[:40]!r} ({what})"
            ) from None
        finally:
            _collecting.reset(token)
        if found:
            with self._lock:
                self.blocked.update(found)
            if self.on_blocked == "raise":
                raise blocked_error(found)
        return value

    def _reviver(self, value: dict[str, Any]) -> Any:
        """JSON envelopes: ``lc: 2`` only for allowed types, ``lc: 1`` for messages only."""
        ident = value.get("id")
        if (
            value.get("type") == "constructor"
            and value.get("lc") in (1, 2)
            and isinstance(ident, list)
            and ident
            and all(isinstance(part, str) for part in ident)
        ):
            found = BlockedType(".".join(ident[:-1]), ident[-1])
            if value["lc"] == 2 and self.allows(found.module, found.name):
                return super()._reviver(value)
            if value["lc"] == 1:
                try:
                    return _lc1_reviver()(value)
                except ValueError:  # not a message class: LangChain refused it
                    pass
            found_list = _collecting.get()
            if found_list is not None:
                found_list.append(found)
            return value  # the inert envelope, as LangGraph leaves a refused one
        if value.get("lc") == 2:
            return value
        return _lc1_reviver()(value)


def _check_json_size(payload: bytes) -> None:
    """A JSON document has at most one value per ``,``/``[``/``{`` plus one: count them
    (C speed, an over-estimate when strings hold them) before ``json.loads`` builds any."""
    items = 1 + payload.count(b",") + payload.count(b"[") + payload.count(b"{")
    if items > MAX_VALUE_ITEMS:
        raise bounded.LimitError(f"may hold {items} JSON values, over {MAX_VALUE_ITEMS}")


def blocked_error(found: Iterable[BlockedType]) -> BlockedTypeError:
    """One error naming every blocked type and how to allow it."""
    kinds = sorted(set(found))
    names = ", ".join(str(k) for k in kinds)
    constructors = [k.spec for k in kinds if not k.method]
    hint = ""
    if constructors:
        flags = " ".join(f"--allow-type {s}" for s in constructors)
        hint = (
            f"; if you trust this data, allow them: {flags} (CLI) or allowed_types={constructors!r}"
        )
    if any(k.method for k in kinds):
        hint += "; method calls other than datetime.fromisoformat are never allowed"
    return BlockedTypeError(
        f"refused to decode {len(kinds)} type(s) not allowed for untrusted data: {names} "
        f"(nothing was run){hint}",
        types=tuple(str(k) for k in kinds),
    )


def untrusted_serde(
    allowed_types: AllowedTypes = (),
    *,
    like: SerializerProtocol | None = None,
    on_blocked: OnBlocked = "raise",
) -> SerializerProtocol:
    """The strict serializer, wrapped like ``like`` when that encrypts values.

    LangGraph's ``EncryptedSerializer`` only decrypts and delegates: the
    decrypted bytes are decoded strictly with its cipher kept, so a snapshot
    of an encrypted saver restores into it.
    """
    strict = UntrustedSerializer(allowed_types, on_blocked=on_blocked)
    if isinstance(like, EncryptedSerializer):
        return EncryptedSerializer(like.cipher, strict)
    return strict


def blocked_of(serde: SerializerProtocol) -> list[BlockedType]:
    """What an ``untrusted_serde`` (or its encrypted wrapper) has blocked so far, sorted."""
    inner = serde.serde if isinstance(serde, EncryptedSerializer) else serde
    if isinstance(inner, UntrustedSerializer):
        with inner._lock:
            return sorted(inner.blocked)
    return []
