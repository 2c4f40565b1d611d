-- Prunes expired members (score <= now) from index sorted sets of one bucket.
-- KEYS[1] = bucket prefix; ARGV = index tags. Returns the number of members removed.
local p = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local pruned = 0
for _, tag in ipairs(ARGV) do
  pruned = pruned + redis.call('ZREMRANGEBYSCORE', p .. 'i:' .. tag, '-inf', now)
end
return pruned
