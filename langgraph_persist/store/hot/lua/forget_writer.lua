-- Standalone only (three slots): KEYS writer set, queue, lease; ARGV[1] the writer.
-- Dropped from the set only if its queue is empty and unleased.
if redis.call('LLEN', KEYS[2]) == 0 and redis.call('EXISTS', KEYS[3]) == 0 then
  redis.call('SREM', KEYS[1], ARGV[1])
  return 1
end
return 0
