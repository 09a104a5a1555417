-- Redis Cluster: every key is declared in KEYS (so the cluster routes the script
-- and checks that all its keys share one slot). K() and A() hand out KEYS and
-- ARGV in order, as io_packed does for the standalone adapter.
local ki, ai = 0, 0
local function K() ki = ki + 1; return KEYS[ki] end
local function A() ai = ai + 1; return ARGV[ai] end
