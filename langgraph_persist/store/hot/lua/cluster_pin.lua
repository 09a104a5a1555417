-- uses: io_keys common index_none tag
local t = tag_block(); local ttl = tonumber(A()); local pin = flag()
pin_tag(t, ttl, pin)
return 1
