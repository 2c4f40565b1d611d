-- The live entries indexed under tags, in one bucket: keys whose value still lists the tag.
-- KEYS[1] = bucket prefix; ARGV = tags. Returns the keys (each once).
local p = KEYS[1]
local now = clock()
local out, seen = {}, {}
for _, tag in ipairs(ARGV) do
  local members = redis.call('ZRANGEBYSCORE', p .. 'i:' .. tag, '(' .. now, '+inf')
  if #members == 0 then
    local _, list = pageMembers(p, tag)
    if list then members = liveKeys(list, now) end
  end
  for _, key in ipairs(members) do
    if not seen[key] and lists(headerAt(p .. 'v:' .. key), tag) then
      seen[key] = true
      out[#out + 1] = key
    end
  end
end
return out
