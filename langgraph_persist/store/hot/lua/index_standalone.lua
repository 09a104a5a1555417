-- Standalone Redis keeps global indexes next to a tag's keys: TOP (the root
-- names) and a level-1 index per root (its tags, scored by expiry). One script
-- may touch them because one server holds every slot.
local TOP
local function tag_block()
  return {r = K(), q = K(), g = K(), p = K(), s = K(), l = K(), c0 = A(), c1 = A()}
end
local function set_level1(t, score)
  if t.c1 ~= '' then redis.call('ZADD', t.l, score, t.c1) end
end
-- the tag's values changed; ttl > 0: the tag now expires in ttl ms, 0: it does not
local function indexed(t, ttl)
  if ttl > 0 then
    local now = now_ms()
    set_level1(t, now + ttl)
    if t.c1 ~= '' then redis.call('ZREMRANGEBYSCORE', t.l, '-inf', '(' .. now) end
  else
    set_level1(t, '+inf')
  end
  redis.call('ZADD', TOP, 0, t.c0)
end
-- the tag holds no value any more
local function unindexed(t)
  if t.c1 ~= '' then redis.call('ZREM', t.l, t.c1) end
end
-- the tag's registry got a new TTL of ttl ms
local function refreshed(t, ttl)
  set_level1(t, now_ms() + ttl)
end
