-- Standalone Redis: key names and arguments arrive as two msgpack arrays (see
-- store/redis.py, Packed): one argument each instead of hundreds, which redis-py
-- packs ~10x faster. K() and A() hand them out in order.
local KK, AA = cmsgpack.unpack(ARGV[1]), cmsgpack.unpack(ARGV[2])
local ki, ai = 0, 0
local function K() ki = ki + 1; return KK[ki] end
local function A() ai = ai + 1; return AA[ai] end
