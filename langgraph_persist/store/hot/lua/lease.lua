-- The flusher lease of a write-behind queue. KEYS[1] the lease;
-- ARGV: holder, lease ms, 'take' (acquire or extend) or 'release'.
local cur = redis.call('GET', KEYS[1])
if ARGV[3] == 'take' then
  if not cur then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]); return 1 end
  if cur == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]); return 1 end
  return 0
end
if cur == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
