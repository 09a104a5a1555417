-- Standalone only: the names of a level-1 (or top) index scored at least ARGV[1];
-- 'now' means the tags not yet expired, by the server's clock.
local lo = ARGV[1]
if lo == 'now' then
  local t = redis.call('TIME')
  lo = '(' .. tostring(tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
end
return redis.call('ZRANGEBYSCORE', KEYS[1], lo, '+inf')
