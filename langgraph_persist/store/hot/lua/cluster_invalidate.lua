-- uses: io_keys common index_none tag
local t = tag_block()
local gen_ttl = tonumber(A()); local keep = flag(); local newgen = A()
local whole = flag(); local nranges = tonumber(A())
return invalidate_tag(t, gen_ttl, keep, newgen, whole, #KEYS - 5, nranges)
