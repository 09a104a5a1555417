-- Child names below a prefix, from one registry or pending set (one slot):
-- KEYS[1] the set; ARGV: the range start ('[' .. prefix), its end, the prefix length.
local z = KEYS[1]; local cursor = ARGV[1]; local hi = ARGV[2]; local n = tonumber(ARGV[3])
local out = {}
while true do
  local chunk = redis.call('ZRANGEBYLEX', z, cursor, hi, 'LIMIT', 0, 64)
  if #chunk == 0 then break end
  local jumped = false
  for _, m in ipairs(chunk) do
    local rest = string.sub(m, n + 1)
    local slash = string.find(rest, '/', 1, true)
    if slash then
      -- a directory child: record it once and skip everything below it
      out[#out + 1] = string.sub(rest, 1, slash - 1)
      cursor = '[' .. string.sub(m, 1, n + slash) .. '\255'
      jumped = true
      break
    end
    if rest ~= '' then out[#out + 1] = rest end
    cursor = '(' .. m
  end
  if not jumped and #chunk < 64 then break end
end
return out
