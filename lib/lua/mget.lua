#!lua flags=no-writes,allow-cross-slot-keys
-- The values of keys in several buckets served by this Redis process, in one call (a cluster
-- refuses MGET across slots, so this runs MGETs per bucket, of at most 500 keys: far below
-- Lua's unpack limit).
-- KEYS[1] = a key of the first bucket (routes the call)
-- ARGV = per bucket: n, then n keys. Returns the values in order (nil for a missing key).
local out, a = {}, 1
while a <= #ARGV do
  local n = tonumber(ARGV[a])
  for s = a + 1, a + n, 500 do
    local values = redis.call('MGET', unpack(ARGV, s, math.min(s + 499, a + n)))
    for i = 1, #values do out[#out + 1] = values[i] end
  end
  a = a + 1 + n
end
return out
