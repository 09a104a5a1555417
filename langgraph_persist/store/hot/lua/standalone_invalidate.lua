-- uses: io_packed common index_standalone tag
TOP = K()
local gen_ttl = tonumber(A()); local keep = flag(); local ntags = tonumber(A())
local removed = 0
for i = 1, ntags do
  local t = tag_block(); local newgen = A(); local whole = flag()
  local nexact = tonumber(A()); local nranges = tonumber(A())
  removed = removed + invalidate_tag(t, gen_ttl, keep, newgen, whole, nexact, nranges)
end
return removed
