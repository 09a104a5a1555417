-- uses: io_keys common index_none tag
-- The values of one tag, its generation, and the positions of values whose TTL
-- is due for a refresh (refreshed by cluster_refresh once they verified).
local t = tag_block(); local ttl = tonumber(A())
local vals, due = {}, {}
read_values(#KEYS - 5, ttl, vals, due)
return {redis.call('GET', t.g) or '', vals, due}
