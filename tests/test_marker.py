"""The FORMAT marker is read strictly: a hostile or future marker is a typed, explained error."""

from __future__ import annotations

import os

import pytest

from langgraph_persist import ConfigurationError, PersistSaver, UnsupportedFormatError
from langgraph_persist.store.marker import MARKER, marker_body

pytestmark = pytest.mark.timeout(60)

HOSTILE = [
    b"not json",
    b"[1, 2]",
    b'{"format": "langgraph-persist", "version": "2"}',
    b'{"format": "langgraph-persist", "version": null}',
    b'{"format": "langgraph-persist", "version": 1, "layout": 7}',
    b'{"format": "someone-else", "version": 1}',
    b"{" + b" " * 10_000 + b"}",
]


@pytest.fixture(params=["sqlite", "files"])
def store_dir(request: pytest.FixtureRequest, tmp_path: str) -> str:
    path = os.path.join(tmp_path, "store")
    saver = PersistSaver(path, layout=request.param)
    saver.close()
    return path


def _write_marker(path: str, body: bytes) -> None:
    with open(os.path.join(path, MARKER), "wb") as fh:
        fh.write(body)


@pytest.mark.parametrize("body", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_marker_is_a_configuration_error(store_dir: str, body: bytes) -> None:
    _write_marker(store_dir, body)
    with pytest.raises(ConfigurationError):
        PersistSaver(store_dir)


def test_future_version_is_refused_by_name(store_dir: str) -> None:
    _write_marker(store_dir, marker_body(99, "sqlite"))
    with pytest.raises(UnsupportedFormatError, match="format version 99"):
        PersistSaver(store_dir)


def test_control_the_marker_the_store_wrote_opens(store_dir: str) -> None:
    """Negative control: the tests above fail for the marker, not for the store."""
    with open(os.path.join(store_dir, MARKER), "rb") as fh:
        _write_marker(store_dir, fh.read())
    PersistSaver(store_dir).close()
