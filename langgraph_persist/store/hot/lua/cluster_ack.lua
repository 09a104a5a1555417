-- uses: io_keys common index_none tag
-- No epoch on a cluster: a delete always sets a new, non-empty token, and a node
-- that lost its data has none. So a value gone counts as deleted only when the
-- token changed to a non-empty one. The adapter removes the queue entry after.
local t = tag_block(); local ttl = tonumber(A()); local expected = A()
local gen = redis.call('GET', t.g) or ''
local compensate = {}
ack_values(t, ttl, #KEYS - 5, gen ~= expected and gen ~= '', compensate)
return compensate
