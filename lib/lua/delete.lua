#!lua flags=allow-oom
-- Deletes entries and their index members, in one bucket.
-- KEYS[1] = bucket prefix; ARGV = keys. Returns the number of entries that existed.
local p = KEYS[1]
local removed = 0
for _, key in ipairs(ARGV) do
  local dkey = p .. 'd:' .. key
  local deps = redis.call('GET', dkey)
  if deps then
    for _, tag in ipairs(cmsgpack.unpack(deps)) do redis.call('ZREM', p .. 'i:' .. tag, key) end
    -- d: exists, so UNLINK counts it besides the value
    removed = removed + redis.call('UNLINK', dkey, p .. 'v:' .. key) - 1
  else
    removed = removed + redis.call('UNLINK', p .. 'v:' .. key)
  end
end
return removed
