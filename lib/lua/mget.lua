#!lua flags=no-writes,allow-cross-slot-keys
-- The values of keys in several buckets served by this Redis process, in one call (a cluster
-- refuses MGET across slots, so this runs one MGET per bucket).
-- KEYS[1] = a key of the first bucket (routes the call)
-- ARGV = per bucket: n, then n keys. Returns the values in order (nil for a missing key).
local out, a = {}, 1
while a <= #ARGV do
  local n = tonumber(ARGV[a])
  local values = redis.call('MGET', unpack(ARGV, a + 1, a + n))
  for i = 1, n do out[#out + 1] = values[i] end
  a = a + 1 + n
end
return out
