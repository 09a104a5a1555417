"""Which local store a directory holds: the SQLite layout, or the v1 file-per-record one.

New stores are SQLite (``sqlite.py``). A directory written by langgraph-persist
0.1 (``FORMAT`` version 1, one file per record) keeps opening as a
``FileStore``, with every guarantee it had, until ``langgraph-persist upgrade``
converts it (``upgrade.py``). Users may also ask for the file layout
explicitly (``layout="files"``): it suits stores that other tools must read
file by file (rsync of single threads, inspection with ``ls``), at the cost
of speed and disk use (docs/operations.md).
"""

from __future__ import annotations

import logging
import os
from typing import Literal

from langgraph_persist import keys
from langgraph_persist.errors import ConfigurationError
from langgraph_persist.store.base import Store
from langgraph_persist.store.files import FileStore
from langgraph_persist.store.marker import read_marker
from langgraph_persist.store.sqlite import STORE_FORMAT, Durability, SqliteStore

log = logging.getLogger("langgraph_persist.store")

Layout = Literal["sqlite", "files"]
SQLITE: Layout = "sqlite"
FILES: Layout = "files"


def layout_of(path: str | os.PathLike[str]) -> Layout | None:
    """The layout of the store at ``path``; ``None`` when there is no store there yet."""
    marker = read_marker(os.fspath(path), readable_up_to=STORE_FORMAT)
    if marker is None:
        return None
    return SQLITE if marker.layout == SQLITE else FILES


def open_local(
    path: str | os.PathLike[str],
    *,
    durability: Durability = "fsync",
    read_only: bool = False,
    layout: Layout | None = None,
) -> Store:
    """The store at ``path``: its existing layout, else ``layout`` (SQLite by default)."""
    found = layout_of(path)
    if found is not None and layout is not None and found != layout:
        raise ConfigurationError(
            f"{os.fspath(path)} holds a store in the {found!r} layout, not {layout!r}"
            + ("; convert it with `langgraph-persist upgrade`" if found == FILES else "")
        )
    if (found or layout or SQLITE) == FILES:
        if found == FILES and layout is None:
            log.info(
                "%s is a version 1 (file-per-record) store; `langgraph-persist upgrade %s` "
                "converts it to the faster SQLite layout",
                path,
                path,
            )
        return FileStore(
            path, durability=durability, read_only=read_only, premade=keys.blob_shards()
        )
    return SqliteStore(path, durability=durability, read_only=read_only)
