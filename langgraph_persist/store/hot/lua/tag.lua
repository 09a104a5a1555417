-- What both adapters do to one tag. A tag ``t`` holds its key names (r registry,
-- q pending set, g generation, p pin flag, s sweep cursor), built by the
-- adapter's tag_block(); the adapter's indexed/unindexed/refreshed keep its own
-- indexes in step. Value keys and their arguments are taken in order, K() and A().
--
-- Invariants (why deletes can never miss a value): every live value key is a
-- member of its tag's registry; the registry's TTL is never shorter than any of
-- its values' (pinned or pending tags have none); a value is either pending (no
-- TTL, not yet in the cold tier) or a copy of what the cold tier holds.

-- Registry members checked per write for expired values. Each put adds ~3
-- members and checks 8, so dead members stay below ~40% of a registry.
local SWEEP_BATCH = 8

local function sweep(t, ttl)
  local cur = redis.call('GET', t.s)
  local lo = cur and ('(' .. cur) or '-'
  local batch = redis.call('ZRANGEBYLEX', t.r, lo, '+', 'LIMIT', 0, SWEEP_BATCH)
  for _, m in ipairs(batch) do
    if redis.call('EXISTS', m) == 0 then
      redis.call('ZREM', t.r, m)
      redis.call('ZREM', t.q, m)
    end
  end
  if #batch < SWEEP_BATCH then redis.call('DEL', t.s)
  else redis.call('SET', t.s, batch[#batch], 'PX', ttl) end
end

-- After values of a tag changed: the registry's TTL covers every value's (or
-- there is none: pinned or pending), and the index says until when the tag lives.
local function settle(t, ttl)
  local bounded = ttl > 0 and redis.call('EXISTS', t.p) == 0 and redis.call('EXISTS', t.q) == 0
  if bounded then redis.call('PEXPIRE', t.r, ttl) else redis.call('PERSIST', t.r) end
  if ttl > 0 then sweep(t, ttl) end
  indexed(t, bounded and ttl or 0)
end

-- n values (K) appended to vals; positions of hits whose TTL is due for a refresh
-- (less than 90% left) appended to due. Returns whether any value was missing.
local function read_values(n, ttl, vals, due)
  local missed = false
  for j = 1, n do
    local k = K()
    local v = redis.call('GET', k)
    vals[#vals + 1] = v
    if not v then
      missed = true
    elseif ttl > 0 then
      local left = redis.call('PTTL', k)
      if left > 0 and left < ttl * 0.9 then due[#due + 1] = #vals end
    end
  end
  return missed
end

-- Extend the TTL of n values (K, each with A the sha1 of the bytes the caller
-- verified) and of their registry, together. Only the exact bytes verified: a
-- copy replaced since the read (by a client without our key, say) never has its
-- TTL extended. Pinned and pending values have no TTL and keep none.
local function refresh_values(t, ttl, n)
  local touched = false
  for j = 1, n do
    local k = K(); local sha = A()
    local v = redis.call('GET', k)
    if v and redis.sha1hex(v) == sha and redis.call('PTTL', k) > 0 then
      redis.call('PEXPIRE', k, ttl)
      touched = true
    end
  end
  -- together with its values: a registry never expires before them
  if touched and redis.call('PTTL', t.r) > 0 then
    redis.call('PEXPIRE', t.r, ttl)
    refreshed(t, ttl)
  end
end

-- Write n values (K, then A the condition and A the bytes) unless fenced out
-- (ok false: the tag's generation moved since the caller observed it). The
-- condition: '*' overwrite, '-' only if absent, else the sha1 of the bytes that
-- must still be there. Pending values get no TTL and join the pending set.
local function write_values(t, ttl, ok, pending, n)
  local pinned = redis.call('EXISTS', t.p) == 1
  local wrote = 0
  for j = 1, n do
    local k = K(); local old = A(); local data = A()
    if ok then
      local go = true
      if old == '-' then go = redis.call('EXISTS', k) == 0
      elseif old ~= '*' then
        local cur = redis.call('GET', k)
        go = (cur ~= false) and redis.sha1hex(cur) == old
      end
      if go then
        redis.call('SET', k, data)
        redis.call('ZADD', t.r, 0, k)
        if pending then redis.call('ZADD', t.q, 0, k)
        elseif ttl > 0 and not pinned then redis.call('PEXPIRE', k, ttl) end
        wrote = wrote + 1
      end
    end
  end
  if wrote > 0 then settle(t, ttl) end
end

-- Delete nexact values (K), the registry ranges (A lo, A hi) and, if whole,
-- every value of the tag; then replace the generation token, which fences out
-- every writer that observed the old one. keep spares pending values. Returns
-- the number of values deleted.
local function invalidate_tag(t, gen_ttl, keep, newgen, whole, nexact, nranges)
  local removed = 0
  local function drop(m)
    if keep and redis.call('ZSCORE', t.q, m) then return end
    removed = removed + redis.call('DEL', m)
    redis.call('ZREM', t.r, m)
    redis.call('ZREM', t.q, m)
  end
  for j = 1, nexact do drop(K()) end
  for j = 1, nranges do
    local lo, hi = A(), A()
    for _, m in ipairs(redis.call('ZRANGEBYLEX', t.r, lo, hi)) do drop(m) end
  end
  if whole then
    for _, m in ipairs(redis.call('ZRANGE', t.r, 0, -1)) do drop(m) end
  end
  redis.call('SET', t.g, newgen, 'PX', gen_ttl)
  if redis.call('EXISTS', t.r) == 0 then
    redis.call('DEL', t.s)
    unindexed(t)
  end
  return removed
end

-- End the pending state of n flushed values (K, with A the sha1 of the bytes
-- flushed). A value gone since was deleted after the flush observed the
-- generation when ``deleted`` says so (the adapter tells a delete from lost
-- data): it is appended to out, and the caller deletes its cold copy again.
local function ack_values(t, ttl, n, deleted, out)
  local pinned = redis.call('EXISTS', t.p) == 1
  for j = 1, n do
    local k = K(); local sha = A()
    local v = redis.call('GET', k)
    if not v then
      if deleted then out[#out + 1] = k end
      redis.call('ZREM', t.q, k)
      redis.call('ZREM', t.r, k)
    elseif redis.sha1hex(v) == sha then
      redis.call('ZREM', t.q, k)
      if ttl > 0 and not pinned then redis.call('PEXPIRE', k, ttl) end
    end
    -- else: a newer write of the key is pending; it stays pending
  end
  if redis.call('EXISTS', t.r) == 1 then settle(t, ttl) end
end

-- Pin (no TTL on any value of the tag) or unpin (TTLs back, except pending ones).
local function pin_tag(t, ttl, pin)
  if pin then
    redis.call('SET', t.p, '1')
    for _, m in ipairs(redis.call('ZRANGE', t.r, 0, -1)) do redis.call('PERSIST', m) end
  else
    redis.call('DEL', t.p)
    if ttl > 0 then
      for _, m in ipairs(redis.call('ZRANGE', t.r, 0, -1)) do
        if not redis.call('ZSCORE', t.q, m) then redis.call('PEXPIRE', m, ttl) end
      end
    end
  end
  if redis.call('EXISTS', t.r) == 1 then settle(t, ttl) end
end
