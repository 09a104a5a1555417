"""Facets: the part of a checkpoint's metadata a store may filter on without decoding it.

``list(filter=...)`` matches metadata the Python way (``metadata.get(k) == v``
for every item). Decoding every checkpoint record of a long thread to find
the few that match costs one verification and one msgpack decode each. A
store that can search next to its data (SQLite) is handed, with each
unencrypted checkpoint record, a small JSON object of its *facets*, and narrows
a listing to the candidates whose facets may match.

The one rule everything here keeps: **a store's answer is a superset**. The
reader still decodes each candidate and applies the filter itself, so a facet
can only make a listing faster, never different. A false positive costs one
decode; a false negative would hide a checkpoint, so every choice below errs
towards "unknown":

* A store finds a filter item by its text (``needles``), so only values with
  one JSON spelling per Python equality class become facets: exact ``str``,
  ``bool``, ``None`` and ``int`` within +-2**53 (``True == 1`` and
  ``False == 0`` get both spellings; ``"1" != 1``; a missing key equals
  ``None``). An integral ``float`` is stored as the ``int`` it equals; other
  floats, which have many spellings, are left out, and a filter on a float is
  never pushed down.
* ``dict``, ``list`` and ``tuple`` values, and ints beyond +-2**53, are left
  out: none of them equals a value that is pushed down, so leaving them out
  cannot hide a match.
* Strings that are not valid Unicode (lone surrogates) or longer than
  ``MAX_TEXT`` are left out too, and never pushed down.
* Only keys made of letters, digits, ``_`` and ``-`` are used: a key's text
  then holds no quote, and cannot be confused with text inside a value.
* Encrypted stores get no facets at all: the metadata is sealed, and a
  plaintext copy beside it would leak it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

Scalar = str | int | bool | None
"""A facet value (see the module docstring for which values qualify)."""

MAX_TEXT = 256
"""Longer strings are left out of facets (a large string in metadata must not be
stored twice) and filters on them are not pushed down: no short string equals them."""

_SAFE_KEY = re.compile(r"[A-Za-z0-9_\-]{1,128}")
_EXACT_INT = 2**53
_CONTAINERS = (dict, list, tuple)


def _pushable_value(value: Any) -> bool:
    """Whether a store may compare this value by its JSON text (``needles``)."""
    t = type(value)
    if value is None or t is bool:
        return True
    if t is str:
        return len(value) <= MAX_TEXT and _utf8(value)
    return t is int and -_EXACT_INT <= value <= _EXACT_INT


def _utf8(text: str) -> bool:
    """Strings with lone surrogates cannot be bound to SQLite: never pushed, never
    stored (such a string equals no string that can be)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _facet(value: Any) -> tuple[bool, Scalar]:
    """(usable, facet) for a stored value; raises ``_Unknown`` for one whose
    equality with a pushed-down value Python may decide differently."""
    if _pushable_value(value):
        return True, value
    t = type(value)
    if t is float:
        if value.is_integer() and abs(value) <= _EXACT_INT:
            return True, int(value)
        return False, None
    if t is int or t is str or t in _CONTAINERS:
        return False, None
    raise _Unknown


class _Unknown(Exception):
    """A metadata value that makes a record's facets unknown."""


def facets_of(metadata: Mapping[str, Any]) -> str | None:
    """The JSON facets of a checkpoint's metadata, or ``None`` when they cannot be
    trusted to stand for it (see the module docstring)."""
    found: dict[str, Scalar] = {}
    for key, value in metadata.items():
        try:
            usable, facet = _facet(value)
        except _Unknown:
            return None
        if usable and type(key) is str and _SAFE_KEY.fullmatch(key):
            found[key] = facet
    return _dump(found)


def _dump(value: Any) -> str:
    """The one JSON spelling facets use, so a store can find a value by its text."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def needles(key: str, value: Scalar) -> tuple[list[str], bool]:
    """How a store finds, by text alone, the facets that may match ``key == value``.

    Returns (texts, absent): the facets of every record whose metadata has
    ``key`` equal to ``value`` contain one of ``texts`` (``"key":value``
    followed by ``,`` or ``}``), and when ``absent`` is true, so may facets
    without ``key`` at all (a missing key equals ``None``). No text can occur
    anywhere else: keys hold no quote, and every quote inside a JSON string is
    escaped. ``True == 1`` and ``False == 0`` in Python, so each has two spellings.
    """
    if value is None:
        forms = ["null"]
    elif value is True or (type(value) is int and value == 1):
        forms = ["true", "1"]
    elif value is False or (type(value) is int and value == 0):
        forms = ["false", "0"]
    else:
        forms = [_dump(value)]
    return [f"{_dump(key)}:{form}{end}" for form in forms for end in ",}"], value is None


def pushable(filter: Mapping[str, Any] | None) -> dict[str, Scalar]:
    """The items of a ``list`` filter a store may evaluate on facets (the others are
    checked only after decoding, like every item)."""
    if not filter:
        return {}
    return {
        key: value
        for key, value in filter.items()
        if type(key) is str and _SAFE_KEY.fullmatch(key) and _pushable_value(value)
    }
