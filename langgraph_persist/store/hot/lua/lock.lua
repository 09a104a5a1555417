-- KEYS: readers (ZSET token -> expiry ms), writer (token, PX), intent (PX)
-- ARGV: op (shared | exclusive | release), token, lease ms
local readers, writer, intent = KEYS[1], KEYS[2], KEYS[3]
local op, token, lease = ARGV[1], ARGV[2], tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', readers, '-inf', now)  -- holders that died
if op == 'release' then
  redis.call('ZREM', readers, token)
  if redis.call('GET', writer) == token then redis.call('DEL', writer) end
  if redis.call('GET', intent) == token then redis.call('DEL', intent) end
  return 1
end
local w = redis.call('GET', writer)
if op == 'shared' then
  local i = redis.call('GET', intent)
  if w or (i and i ~= token) then return 0 end
  redis.call('ZADD', readers, now + lease, token)
  redis.call('PEXPIRE', readers, lease)
  return 1
end
if w or redis.call('ZCARD', readers) > 0 then
  redis.call('SET', intent, token, 'PX', 1000)  -- new readers wait: no writer starvation
  return 0
end
redis.call('SET', writer, token, 'PX', lease)
redis.call('DEL', intent)
return 1
