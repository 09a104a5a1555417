-- uses: io_packed common index_standalone tag
-- Per tag only its generation key; per key its value key. Returns the values,
-- the generations of tags with a miss (or all), and the positions of hits whose
-- TTL is due for a refresh, refreshed by standalone_refresh: rarely, so the
-- common read sends no per-tag structures at all.
local epoch = K()
local ttl = tonumber(A()); local all_gens = flag(); local ntags = tonumber(A())
local gens, vals, due = {}, {}, {}
for i = 1, ntags do
  local g = K(); local n = tonumber(A())
  local missed = read_values(n, ttl, vals, due)
  gens[#gens + 1] = (missed or all_gens) and (redis.call('GET', g) or '') or false
end
return {redis.call('GET', epoch) or '', gens, vals, due}
