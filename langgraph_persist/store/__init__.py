"""Storage tiers behind one narrow port (``Store``).

The engine above speaks only this port, so a tier is a few hundred lines:
``FileStore`` (the embedded default), ``RedisStore`` (hot tier), and
``TieredStore``, which is itself a ``Store`` built from two stores.
"""

from langgraph_persist.store.base import Store
from langgraph_persist.store.files import FileStore

__all__ = ["FileStore", "Store"]
