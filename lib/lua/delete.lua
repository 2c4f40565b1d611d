-- Deletes entries and their index members, in one bucket.
-- KEYS[1] = bucket prefix; ARGV = keys. Returns the number of entries that existed.
local p = KEYS[1]
local removed = 0
for _, key in ipairs(ARGV) do
  local dkey = p .. 'd:' .. key
  local deps = redis.call('GET', dkey)
  if deps then
    for _, tag in ipairs(cmsgpack.unpack(deps)) do redis.call('ZREM', p .. 'i:' .. tag, key) end
    redis.call('DEL', dkey)
  end
  removed = removed + redis.call('UNLINK', p .. 'v:' .. key)
end
return removed
