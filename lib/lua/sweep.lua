#!lua flags=allow-oom
-- Prunes expired members (score <= now) from index sorted sets of one bucket.
-- KEYS[1] = bucket prefix; ARGV = index tags. Returns the number of members removed.
-- A sorted set that grew large keeps its big hash table after shrinking; when pruning leaves a
-- small one, it is rewritten so Redis stores it compactly again (the index memory comes back).
local p = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local pruned = 0
for _, tag in ipairs(ARGV) do
  local index = p .. 'i:' .. tag
  local removed = redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
  if removed > 0 then
    pruned = pruned + removed
    local card = redis.call('ZCARD', index)
    if card > 0 and card <= 128 and removed >= card then
      local members = redis.call('ZRANGE', index, 0, -1, 'WITHSCORES')
      redis.call('DEL', index)
      for i = 1, #members, 2 do redis.call('ZADD', index, members[i + 1], members[i]) end
    end
  end
end
return pruned
