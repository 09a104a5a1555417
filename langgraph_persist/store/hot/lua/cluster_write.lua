-- uses: io_keys common index_none tag
-- One tag; the queue entry is pushed by the adapter before (another slot).
local t = tag_block()
local ttl = tonumber(A()); local fence = flag(); local expected = A(); local pending = flag()
local gen = redis.call('GET', t.g) or ''
local ok = (not fence) or gen == expected
write_values(t, ttl, ok, pending, #KEYS - 5)
return {gen, ok and 1 or 0}
