-- uses: io_packed common index_standalone tag
TOP = K(); local ttl = tonumber(A()); local ntags = tonumber(A())
for i = 1, ntags do
  local t = tag_block(); local n = tonumber(A())
  refresh_values(t, ttl, n)
end
return 1
