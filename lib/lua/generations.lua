-- Reads tag generations (0 when absent) in one bucket.
-- KEYS[1] = bucket prefix; ARGV = tags.
local p = KEYS[1]
local reply = {}
for i, tag in ipairs(ARGV) do reply[i] = tonumber(redis.call('GET', p .. 'g:' .. tag) or '0') end
return reply
