-- uses: io_keys common index_none tag
local t = tag_block(); local ttl = tonumber(A())
refresh_values(t, ttl, #KEYS - 5)
return 1
