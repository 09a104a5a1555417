-- uses: io_packed common index_standalone tag
-- A value gone since the flush observed its tag's generation was deleted,
-- unless the epoch changed (Redis lost its data: nothing was deleted).
TOP = K(); local epoch, queue = K(), K()
local ttl = tonumber(A()); local entry = A(); local expected_epoch = A()
local ntags = tonumber(A())
local same_epoch = (redis.call('GET', epoch) or '') == expected_epoch
local compensate = {}
for i = 1, ntags do
  local t = tag_block(); local expected = A(); local n = tonumber(A())
  local gen = redis.call('GET', t.g) or ''
  ack_values(t, ttl, n, same_epoch and gen ~= expected, compensate)
end
if entry ~= '' then redis.call('LREM', queue, 1, entry) end
return compensate
