"""Test kits for people who extend langgraph-persist (needs pytest: the ``test`` extra).

``StoreContract`` (``store_contract.py``) is the behaviour every ``Store`` must
share. Subclass it with a ``store`` fixture to run it against your own store;
the project runs the same class against every built-in store. See
``docs/testing.md``.

Nothing here is imported by ``import langgraph_persist``: pytest is only
needed once you import this package.
"""

from langgraph_persist.testing.store_contract import StoreContract, try_lock

__all__ = ["StoreContract", "try_lock"]
