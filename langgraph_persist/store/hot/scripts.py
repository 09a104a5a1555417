"""The hot tier's Lua scripts, kept as resource files in ``lua/`` and composed here.

Why files: Lua reads better, and is reviewed better, as Lua than inside Python
strings; and both adapters run the same per-tag logic (``tag.lua``), so it is
written once. A script's first line may name the fragments it needs
(``-- uses: io_packed common index_standalone tag``): they are prepended in
that order. The fragments differ only where the adapters do:

* ``io_packed`` / ``io_keys``: how key names and arguments arrive (two msgpack
  frames on a standalone server, plain ``KEYS``/``ARGV`` on a cluster);
* ``index_standalone`` / ``index_none``: the global indexes a standalone
  server keeps in step with a tag, which a cluster cannot (other slots).
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from importlib import resources

_USES = "-- uses:"
_PACKAGE = __name__.rpartition(".")[0]


@functools.cache
def _text(name: str) -> str:
    return resources.files(_PACKAGE).joinpath("lua", f"{name}.lua").read_text("utf-8")


def source(name: str) -> str:
    """The full source of script ``name``: its fragments, then its own body."""
    body = _text(name)
    first, _, _ = body.partition("\n")
    if not first.startswith(_USES):
        return body
    return "".join(_text(part) for part in first[len(_USES) :].split()) + body


@dataclass(frozen=True)
class Script:
    """A script's source and the sha1 ``EVALSHA`` names it by."""

    name: str
    body: str
    sha: str


def load(names: dict[str, str]) -> dict[str, Script]:
    """The scripts an adapter calls: ``{call name: resource name}``."""
    out: dict[str, Script] = {}
    for call, resource in names.items():
        body = source(resource)
        out[call] = Script(call, body, hashlib.sha1(body.encode()).hexdigest())
    return out
