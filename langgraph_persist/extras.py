"""Optional dependencies (pyproject extras) and the one-line hint when one is missing.

``redis`` (the Redis and Redis Cluster hot tiers) and ``boto3`` (the S3 cold
tier) are extras, so a file-only user neither installs nor imports them:
``import langgraph_persist`` loads neither. The modules that need them are
imported only when a saver is built with that tier, inside ``needs_extra``,
which turns the ``ImportError`` into a ``ConfigurationError`` naming the
``pip install`` line.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from langgraph_persist.errors import ConfigurationError

EXTRAS: dict[str, tuple[str, ...]] = {
    "redis": ("redis",),
    "s3": ("boto3", "botocore"),
}
"""Extra name -> the top-level modules it installs."""


def install_hint(extra: str) -> str:
    return f"pip install 'langgraph-persist[{extra}]'"


@contextlib.contextmanager
def needs_extra(extra: str, feature: str) -> Iterator[None]:
    """Import what ``feature`` needs inside this block; a module of ``extra`` that is
    not installed becomes one ``ConfigurationError`` line with the install command.

    Other import errors propagate unchanged: they are bugs, not a missing extra.
    """
    try:
        yield
    except ImportError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing not in EXTRAS[extra]:
            raise
        raise ConfigurationError(
            f"{feature} needs the {missing!r} package: {install_hint(extra)}"
        ) from None
