"""Channel values -> references + content-addressed blobs, and back.

This is what makes storage grow with what *changed* (issue: linear, not
quadratic). Every saver we know re-serializes and re-stores a whole
``messages`` list at every super-step; a 200-step conversation then stores
~100x its live state. Here:

* a value is serialized with the saver's ``serde`` (so LangGraph's
  allowlists, encryption and custom types apply unchanged), then stored
  under the hash of its bytes: the same bytes are stored once, whichever
  checkpoint, thread or fork they belong to;
* a plain ``list`` is serialized element by element, each element addressed
  by its own hash, so appending one message stores one message;
* the list of element addresses is cut into *segments* at content-defined
  boundaries (an element whose hash is 0 mod ``SEGMENT_SPREAD`` ends a
  segment, see segments.py). Closed segments are blobs themselves and are shared by every
  later version of the list; only the open tail lives in the checkpoint
  record. A 300-message list is ~19 segment addresses plus a tail of ~8;
* values whose serialization is under ``INLINE_MAX`` bytes are kept inside
  the referencing record: a file per ``None`` would cost more than it saves.

Exactness: every value is serialized afresh at every ``put``; nothing here
remembers Python objects, so a list mutated in place between two puts is
stored with its content at each put. Reconstruction rebuilds a ``list`` of
``serde.loads_typed`` of each element, which equals ``loads_typed`` of the
whole list for every serializer whose list encoding is element-wise (all of
LangGraph's are; the tests compare against ``InMemorySaver``).

Reference shapes (plain msgpack, see docs/format.md)::

    None                         the channel has a version but no value
    ["i", type, data]            inline value
    ["b", digest]                whole value in blob ``digest``
    ["l", [segment digests], [tail items]]
        item = digest (bin, 20 bytes)  |  [type, data] (inline element)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from langgraph.checkpoint.serde.base import SerializerProtocol

from langgraph_persist.lru import LRU
from langgraph_persist.records import Kind, content_digest, pack
from langgraph_persist.segments import (
    NewBlobs,
    Segmented,
    array_header,
    pack_array_header,
    split_body,
)

INLINE_MAX = 192
"""Serialized values up to this many bytes are stored inside the record."""

SPLIT_MIN_ITEMS = 2
"""Lists shorter than this are stored whole."""

ELEMENT_CACHE_BYTES = 32 * 1024 * 1024
"""Serialized list elements whose addresses are remembered (see ``_element``)."""

LIST_CACHE_BYTES = 64 * 1024 * 1024
"""Segmentations of lists remembered between puts (see segments.py)."""

JOINED_CACHE_BYTES = 64 * 1024 * 1024
"""Closed segments kept as one msgpack body of their elements (see ``decode_many``)."""

Ref = Any
"""A reference in the shapes listed in the module docstring."""

Hint = tuple[str, ...]
"""Where a value lives (thread, namespace, channel): whose last segmentation to resume."""

Fetch = Callable[[Iterable[bytes]], Mapping[bytes, Any]]
"""Load verified blob payloads (decoded msgpack) for a set of digests."""


class ValueCodec:
    """Encodes channel values into references; decodes references into values."""

    def __init__(self, serde: SerializerProtocol, hash_key: bytes = b"") -> None:
        self.serde = serde
        self.hash_key = hash_key
        self._elements = LRU(ELEMENT_CACHE_BYTES)
        self._lists = LRU(LIST_CACHE_BYTES)
        self._joined = LRU(JOINED_CACHE_BYTES)

    # -- encoding -------------------------------------------------------------------------------

    def encode(
        self,
        value: Any,
        new: NewBlobs,
        known: frozenset[bytes] = frozenset(),
        split_min: int = SPLIT_MIN_ITEMS,
        hint: Hint | None = None,
        hash_key: bytes | None = None,
    ) -> Ref:
        """Reference for ``value``; content it needs is added to ``new``.

        ``known`` holds digests already stored (those the parent checkpoint
        references): a closed segment found there is not re-added, and neither
        are its elements, so appending to a long list costs O(new elements).
        ``split_min=1`` (pending writes) splits even one-element lists, so a
        write ``[message]`` shares its element blob with the next checkpoint.
        ``hint`` names where the value lives, so a growing list's segmentation
        is resumed from the previous put's (segments.py). ``hash_key`` overrides
        the codec's address key (per-thread content sharing, engine/reader.py).
        """
        key = self.hash_key if hash_key is None else hash_key
        if type(value) is list and len(value) >= split_min:
            return self._encode_list(value, new, known, hint, key)
        typ, data = self.serde.dumps_typed(value)
        if len(data) <= INLINE_MAX:
            return ["i", typ, data]
        return ["b", self._blob(Kind.BLOB, [typ, data], new, key)]

    def _blob(self, kind: Kind, obj: Any, new: NewBlobs, hash_key: bytes) -> bytes:
        payload = pack(obj)
        digest = content_digest(kind, payload, hash_key)
        new[digest] = (kind, payload)
        return digest

    def _element(self, typ: str, data: bytes, hash_key: bytes) -> tuple[bytes, bytes | None]:
        """(address, blob payload or ``None`` when inlined) of one list element.

        Remembered by the element's *bytes* (and the address key), never by the
        Python object, so a cached address can never be stale.
        """
        hit: tuple[bytes, bytes | None] | None = self._elements.get((hash_key, typ, data))
        if hit is None:
            payload = pack([typ, data])
            digest = content_digest(Kind.BLOB, payload, hash_key)
            hit = (digest, None if len(data) <= INLINE_MAX else payload)
            self._elements.put((hash_key, typ, data), hit, len(data) + 96)
        return hit

    def _encode_list(
        self,
        value: list[Any],
        new: NewBlobs,
        known: frozenset[bytes],
        hint: Hint | None,
        hash_key: bytes,
    ) -> Ref:
        """Segments and open tail of a list; content not in ``known`` goes to ``new``.

        LangGraph's serializer packs a list as a msgpack array of its elements'
        own encodings, so the list is packed once (in C) and cut at element
        boundaries; with any other serializer, or bytes that do not parse as
        that array, each element is serialized on its own. Either way every
        element is serialized afresh at every put (exactness); only the work
        *after* serialization is resumed, and only for bytes found equal.
        """
        typ, data = self.serde.dumps_typed(value)
        header = array_header(data, len(value)) if typ == "msgpack" else None
        state, parts, body = self._resume(data, header, len(value), hint)
        if state is None or parts is None:
            state, parts, body = Segmented(), [self.serde.dumps_typed(e) for e in value], b""
        state.extend(parts, functools.partial(self._element, hash_key=hash_key), hash_key)
        if hint and body:
            state.body = body
            self._lists.put(hint, state.copy(), state.weight())
        for segment, payload, elements in state.closed:
            if segment not in known:  # known: stored, and so are its elements
                # elements first: a crash between them leaves self-contained garbage
                new.update(elements)
                new[segment] = (Kind.SEGMENT, payload)
        new.update(state.elements)
        return ["l", [segment for segment, _p, _e in state.closed], list(state.current)]

    def _resume(
        self, data: bytes, header: int | None, count: int, hint: Hint | None
    ) -> tuple[Segmented | None, list[tuple[str, bytes]] | None, bytes]:
        """(state to extend, the elements still to cut, the array body) for a packed list."""
        if header is None:
            return None, None, b""
        body = data[header:]
        previous: Segmented | None = self._lists.get(hint) if hint else None
        if previous and previous.count <= count and body.startswith(previous.body):
            tail = split_body(body[len(previous.body) :], count - previous.count)
            if tail is not None:
                return previous.copy(), [("msgpack", part) for part in tail], body
        whole = split_body(body, count)
        if whole is None:
            return None, None, b""
        return Segmented(), [("msgpack", part) for part in whole], body

    # -- what a reference needs -------------------------------------------------------------------

    @staticmethod
    def direct_digests(ref: Ref) -> list[bytes]:
        """Blobs a reference names directly (segments, whole values, tail elements)."""
        if ref is None or ref[0] == "i":
            return []
        if ref[0] == "b":
            return [ref[1]]
        return [*ref[1], *(i for i in ref[2] if isinstance(i, bytes))]

    @staticmethod
    def record_refs(kind: Kind | None, record: Any) -> list[Ref]:
        """The value references a checkpoint or writes record holds (none in others)."""
        if kind is Kind.CHECKPOINT:
            return [ref for _version, ref in record["refs"].values()]
        if kind is Kind.WRITES:
            return [ref for _idx, _channel, ref in record["w"]]
        return []

    @staticmethod
    def segment_digests(segment: list[Any]) -> list[bytes]:
        """Element blobs a segment names."""
        return [i for i in segment if isinstance(i, bytes)]

    # -- decoding -------------------------------------------------------------------------------

    def decode_many(self, refs: Mapping[Any, Ref], fetch: Fetch) -> dict[Any, Any]:
        """Decode many references with at most two batched fetches (segments, then elements).

        A list whose closed segments were all joined before (``_joined``) needs
        neither its segments nor their elements again: only its open tail is
        fetched. Every other list takes the full path, which joins its segments
        for the next read.
        """
        joined: dict[Any, tuple[int, list[bytes]]] = {}
        full: list[tuple[Any, Ref]] = []  # lists that take the full path
        first: set[bytes] = set()
        for key, ref in refs.items():
            if ref is None or ref[0] == "i":
                continue
            if ref[0] == "b":
                first.add(ref[1])
                continue
            hit = self._joined_segments(ref[1]) if ref[1] else None
            if hit is None:
                first.update(ref[1])
                full.append((key, ref))
            else:
                joined[key] = hit
            first.update([i for i in ref[2] if isinstance(i, bytes)])
        loaded = dict(fetch(first)) if first else {}
        second: set[bytes] = set()
        for _key, ref in full:
            for seg in ref[1]:
                second.update([d for d in self.segment_digests(loaded[seg]) if d not in loaded])
        if second:
            loaded.update(fetch(second))
        out: dict[Any, Any] = {}
        for key, ref in refs.items():
            if ref is None:
                continue
            hit = joined.get(key)
            value = _UNJOINED if hit is None else self._decode_joined(ref, hit, loaded)
            if value is _UNJOINED:
                if hit is not None:  # not decodable in one piece: element by element after all
                    loaded.update(self._load_list(ref, fetch))
                value = self._decode(ref, loaded)
            out[key] = value
        return out

    def _load_list(self, ref: Ref, fetch: Fetch) -> dict[bytes, Any]:
        """Every blob a list reference needs: its segments, then their elements."""
        loaded = dict(fetch(self.direct_digests(ref)))
        inner = {d for seg in ref[1] for d in self.segment_digests(loaded[seg])}
        loaded.update(fetch(inner - loaded.keys()))
        return loaded

    def _joined_segments(self, segments: list[bytes]) -> tuple[int, list[bytes]] | None:
        """(element count, msgpack bodies) of closed segments, if every one was joined before."""
        hits, missed = self._joined.get_many(segments)
        if missed:
            return None
        count = 0
        chunks: list[bytes] = []
        for seg in segments:
            n, body = hits[seg]
            count += n
            chunks.append(body)
        return count, chunks

    def _remember_joined(self, segment: bytes, pairs: list[Any]) -> None:
        """Keep a segment's elements as one msgpack body when all are msgpack-typed.

        Built only from payloads ``fetch`` verified, and keyed by the segment's
        content address, so like the blob cache it can never be stale: content
        at an address never changes. It holds bytes, never decoded objects."""
        if all(typ == "msgpack" for typ, _data in pairs):
            body = b"".join(data for _typ, data in pairs)
            self._joined.put(segment, (len(pairs), body), len(body) + 64)

    def _decode_joined(
        self, ref: Ref, hit: tuple[int, list[bytes]], loaded: Mapping[bytes, Any]
    ) -> Any:
        """A list from joined segments and its tail in one ``loads`` (see ``_decode_list``),
        or ``_UNJOINED`` when the tail is not all msgpack or the result is not that list."""
        count, chunks = hit
        parts = [b"", *chunks]  # the array header first, once the count is known
        for item in ref[2]:
            typ, data = loaded[item] if isinstance(item, bytes) else item
            if typ != "msgpack":
                return _UNJOINED
            parts.append(data)
        count += len(parts) - 1 - len(chunks)
        parts[0] = pack_array_header(count)
        whole = self.serde.loads_typed(("msgpack", b"".join(parts)))
        if type(whole) is list and len(whole) == count:
            return whole
        return _UNJOINED

    def _decode(self, ref: Ref, loaded: Mapping[bytes, Any]) -> Any:
        tag = ref[0]
        if tag == "i":
            return self.serde.loads_typed((ref[1], ref[2]))
        if tag == "b":
            typ, data = loaded[ref[1]]
            return self.serde.loads_typed((typ, data))
        items: list[Any] = []
        for seg in ref[1]:
            segment = loaded[seg]
            self._remember_joined(
                seg, [loaded[item] if isinstance(item, bytes) else item for item in segment]
            )
            items.extend(segment)
        items.extend(ref[2])
        pairs = [loaded[item] if isinstance(item, bytes) else item for item in items]
        return self._decode_list(pairs)

    def _decode_list(self, pairs: list[Any]) -> list[Any]:
        """A list from its elements' ``[type, bytes]``.

        Elements cut from one msgpack array (LangGraph's serializer, see
        ``_encode_list``) are put back into one array and decoded with one call,
        in C, instead of one call per element: the same objects, without the
        per-element overhead that dominates reading a long conversation. Any
        other shape is decoded element by element.
        """
        if len(pairs) > 1 and all(typ == "msgpack" for typ, _data in pairs):
            packed = pack_array_header(len(pairs)) + b"".join(data for _typ, data in pairs)
            whole = self.serde.loads_typed(("msgpack", packed))
            if type(whole) is list and len(whole) == len(pairs):
                return whole
        return [self.serde.loads_typed((typ, data)) for typ, data in pairs]


_UNJOINED = object()
"""A list the joined path could not decode (see ``ValueCodec.decode_many``)."""
