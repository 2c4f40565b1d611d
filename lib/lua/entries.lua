-- The live entries indexed under tags, in one bucket: keys whose value still lists the tag.
-- KEYS[1] = bucket prefix; ARGV = tags. Returns the keys (each once).
p = KEYS[1]
local now = clock()
local out, seen = {}, {}
for _, tag in ipairs(ARGV) do
  local members = redis.call('ZRANGEBYSCORE', p .. 'i:' .. tag, '(' .. now, '+inf')
  if #members == 0 then
    local _, list = pageMembers(tag)
    for i = 1, #(list or {}), 2 do
      if list[i + 1] == 0 or list[i + 1] > now then members[#members + 1] = list[i] end
    end
  end
  for _, key in ipairs(members) do
    if not seen[key] and lists(headerAt(p .. 'v:' .. key), tag) then
      seen[key] = true
      out[#out + 1] = key
    end
  end
end
return out
