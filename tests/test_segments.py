"""Resuming a list's segmentation is exact: the same references as encoding it afresh."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from langgraph_persist.segments import NewBlobs, array_header, split_body
from langgraph_persist.values import ValueCodec

SERDE = JsonPlusSerializer()


def fresh(value: list[Any]) -> tuple[Any, NewBlobs]:
    new: NewBlobs = {}
    return ValueCodec(SERDE).encode(value, new), new


def test_a_growing_conversation_resumes_to_the_same_references() -> None:
    codec = ValueCodec(SERDE)
    messages: list[Any] = []
    for step in range(120):
        cls = HumanMessage if step % 2 else AIMessage
        messages = [*messages, cls(content=f"message {step} " * 30, id=f"m{step}")]
        new: NewBlobs = {}
        ref = codec.encode(messages, new, hint=("t", "=", "messages"))
        expected_ref, expected_new = fresh(messages)
        assert ref == expected_ref
        assert new == expected_new  # nothing known: every blob is offered


def test_an_element_mutated_in_place_is_stored_as_it_now_is() -> None:
    codec = ValueCodec(SERDE)
    messages = [HumanMessage(content=f"m{i} " * 50, id=str(i)) for i in range(40)]
    codec.encode(messages, {}, hint=("t", "=", "messages"))
    messages[3].content = "edited in place " * 20  # same object, new content
    new: NewBlobs = {}
    ref = codec.encode(messages, new, hint=("t", "=", "messages"))
    assert (ref, new) == fresh(messages)
    decoded = codec.decode_many({"m": ref}, lambda ds: {d: _load(new[d][1]) for d in ds})
    assert decoded["m"][3].content == "edited in place " * 20


def _load(payload: bytes) -> Any:
    import msgpack

    return msgpack.unpackb(payload, raw=False)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.integers(min_value=-(2**63), max_value=2**63 - 1),
            st.text(max_size=300),
            st.binary(max_size=300),
            st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=5),
        ),
        max_size=80,
    ),
    st.integers(min_value=0, max_value=80),
)
def test_any_list_resumed_from_any_prefix_matches(value: list[Any], cut: int) -> None:
    codec = ValueCodec(SERDE)
    codec.encode(value[:cut], {}, hint=("h",))
    new: NewBlobs = {}
    assert (codec.encode(value, new, hint=("h",)), new) == fresh(value)


def test_split_body_refuses_what_is_not_exactly_the_elements() -> None:
    _typ, data = SERDE.dumps_typed([1, "two", None])
    header = array_header(data, 3)
    assert header == 1 and array_header(data, 4) is None
    assert split_body(data[header:], 3) is not None
    assert split_body(data[header:], 2) is None  # bytes left over
    assert split_body(data[header:-1], 3) is None  # truncated
