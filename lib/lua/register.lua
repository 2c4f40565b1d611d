-- Records how many buckets a namespace is spread over, the first time a store writes to it (or
-- after its data was wiped), and returns the recorded count: every process must use that one,
-- or their keys, invalidations and deletes would go to different buckets.
-- KEYS[1] = bucket 0's prefix "{ns:0}"; ARGV[1] = the count to record: the caller's, or the one its
-- other buckets are marked with (bucket 0's record can be lost alone, with its node's data).
-- Bucket 0's m: holds the record; the caller then marks its other buckets (see set.lua).
redis.call('SET', KEYS[1] .. 'm:', ARGV[1], 'NX')
return tonumber(redis.call('GET', KEYS[1] .. 'm:'))
