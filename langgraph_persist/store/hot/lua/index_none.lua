-- Redis Cluster: no global index (it would live in another slot); a tag is only
-- its own keys, and the index hooks of tag.lua do nothing.
local function tag_block()
  return {r = K(), q = K(), g = K(), p = K(), s = K()}
end
local function indexed(t, ttl) end
local function unindexed(t) end
local function refreshed(t, ttl) end
