"""The ``FORMAT`` marker: what says a directory (or an S3 prefix) holds a store, and which.

``{"format": "langgraph-persist", "version": N, "layout": "sqlite"}``. Every
store writes it when it creates a store (last, so a marker always means a
usable store) and checks it when it opens one: a version newer than the code
reads is refused instead of misread, and a layout other than the store's own
is named. The marker is read from disk someone else may have written, so it
is parsed strictly: anything but that shape is a ``ConfigurationError``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from langgraph_persist.errors import ConfigurationError, UnsupportedFormatError

MARKER = "FORMAT"
FORMAT_NAME = "langgraph-persist"
FILES = "files"
"""The layout of version-1 markers, which name none."""
_MAX_MARKER_BYTES = 4096


@dataclass(frozen=True)
class Marker:
    version: int
    layout: str


def marker_body(version: int, layout: str | None = None) -> bytes:
    info: dict[str, object] = {"format": FORMAT_NAME, "version": version}
    if layout is not None:
        info["layout"] = layout
    return json.dumps(info).encode()


def parse_marker(body: bytes, where: str, *, readable_up_to: int) -> Marker:
    """The marker in ``body`` (found at ``where``), refusing a newer format version."""
    try:
        info = json.loads(body)
    except ValueError:
        raise ConfigurationError(f"{where} is not a store marker") from None
    version = info.get("version") if isinstance(info, dict) else None
    layout = info.get("layout", FILES) if isinstance(info, dict) else None
    if (
        not isinstance(info, dict)
        or info.get("format") != FORMAT_NAME
        or type(version) is not int
        or not isinstance(layout, str)
    ):
        raise ConfigurationError(f"{where} does not describe a langgraph-persist store")
    if version > readable_up_to:
        raise UnsupportedFormatError(
            f"the store at {os.path.dirname(where) or where} has format version {version}; "
            f"this release reads up to {readable_up_to}: upgrade langgraph-persist"
        )
    return Marker(version, layout)


def read_marker(directory: str, *, readable_up_to: int) -> Marker | None:
    """The marker of the store in ``directory``; ``None`` when it has none."""
    path = os.path.join(directory, MARKER)
    try:
        with open(path, "rb") as fh:
            body = fh.read(_MAX_MARKER_BYTES + 1)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        raise ConfigurationError(
            f"checkpoint store path {directory} exists and is not a directory"
        ) from None
    except OSError as exc:
        raise ConfigurationError(f"cannot read store marker {path}: {exc.strerror}") from exc
    if len(body) > _MAX_MARKER_BYTES:
        raise ConfigurationError(f"{path} is not a store marker (too large)")
    return parse_marker(body, path, readable_up_to=readable_up_to)
