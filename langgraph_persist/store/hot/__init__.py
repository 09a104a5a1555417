"""The hot tier: one port (``port.HotTier``) and what both Redis adapters share.

``layout.py`` names every Redis key; ``primitives.py`` is what the fenced
primitives take and return; ``entries.py`` the write-behind queue entries;
``scripts.py`` loads the Lua in ``lua/``. The adapters themselves are
``store/redis.py`` (one server) and ``store/redis_cluster.py`` (a cluster).
"""
