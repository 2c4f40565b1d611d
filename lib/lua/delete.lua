#!lua flags=allow-oom
-- Deletes entries and their index members, in one bucket.
-- KEYS[1] = bucket prefix; ARGV = keys. Returns { the number of entries that existed, the
-- bucket count recorded in the bucket (0 = none) }: a caller using another count deletes again.
local p = KEYS[1]
local removed = 0
for _, key in ipairs(ARGV) do
  local vkey = p .. 'v:' .. key
  local tags = headerAt(vkey)
  for _, tag in ipairs(tags) do edgeRemove(p, tag, key) end
  removed = removed + redis.call('UNLINK', vkey)
end
return { removed, tonumber(redis.call('GET', p .. 'm:') or '0') }
