#!lua flags=no-writes,allow-cross-slot-keys
-- The values of keys in several buckets served by this Redis process, in one call (a cluster
-- refuses MGET across slots). KEYS[1] = the first key (routes the call); ARGV = the others.
-- Returns the values in order (nil for a missing key).
local out = { redis.call('GET', KEYS[1]) }
for i = 1, #ARGV do out[i + 1] = redis.call('GET', ARGV[i]) end
return out
