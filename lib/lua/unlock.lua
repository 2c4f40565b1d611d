#!lua flags=allow-oom
-- Releases a fill lock if this caller still holds it (a lock that expired and was taken by
-- someone else is left alone). KEYS[1] = bucket prefix; ARGV = key, token.
local lock = KEYS[1] .. 'l:' .. ARGV[1]
if redis.call('GET', lock) == ARGV[2] then return redis.call('DEL', lock) end
return 0
