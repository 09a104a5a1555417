-- uses: io_packed common index_standalone tag
-- Every tag of one call, atomically, with the write-behind queue entry (pending):
-- the entry and the values it names appear together or not at all. The epoch is
-- created on first write; a new one means Redis lost its data.
TOP = K(); local epoch, queue, writers = K(), K(), K()
local ttl = tonumber(A()); local fence = flag(); local pending = flag()
local entry, writer, candidate = A(), A(), A(); local ntags = tonumber(A())
redis.call('SET', epoch, candidate, 'NX')
local out = {}
for i = 1, ntags do
  local t = tag_block(); local expected = A(); local n = tonumber(A())
  local gen = redis.call('GET', t.g) or ''
  local ok = (not fence) or gen == expected
  write_values(t, ttl, ok, pending, n)
  out[#out + 1] = gen
  out[#out + 1] = ok and 1 or 0
end
if pending and entry ~= '' then
  redis.call('RPUSH', queue, entry)
  redis.call('SADD', writers, writer)
end
return {redis.call('GET', epoch), out}
