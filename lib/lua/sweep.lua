#!lua flags=allow-oom
-- Prunes expired members from index structures of one bucket.
-- KEYS[1] = bucket prefix; ARGV = nsorted, sorted-set tag*, page key suffix* (the <n> of p:<n>).
-- Returns the number of members removed.
-- A sorted set that grew large keeps its big hash table after shrinking; when pruning leaves a
-- small one, it moves back into its page, or is rewritten so Redis stores it compactly again
-- (the index memory comes back).
local p = KEYS[1]
local now = clock()
local pruned = 0
local nsorted = tonumber(ARGV[1])
for i = 2, 1 + nsorted do
  local index = p .. 'i:' .. ARGV[i]
  local removed = redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
  if removed > 0 then
    pruned = pruned + removed
    local card = redis.call('ZCARD', index)
    if card > 0 and card <= 128 and removed >= card then
      local members = redis.call('ZRANGE', index, 0, -1, 'WITHSCORES')
      redis.call('DEL', index)
      -- Back into its page if it fits again, else a fresh (compact) sorted set.
      local list = {}
      for j = 1, #members, 2 do
        list[#list + 1] = members[j]
        list[#list + 1] = (members[j + 1] == 'inf') and 0 or tonumber(members[j + 1])
      end
      local packed = cmsgpack.pack(list)
      if #ARGV[i] <= PAGE_BYTES and #packed <= PAGE_BYTES then
        redis.call('HSET', pageKey(p, ARGV[i]), ARGV[i], packed)
      else
        for j = 1, #members, 2 do redis.call('ZADD', index, members[j + 1], members[j]) end
      end
    end
  end
end
for i = 2 + nsorted, #ARGV do
  local page = p .. 'p:' .. ARGV[i]
  local fields = redis.call('HGETALL', page)
  for j = 1, #fields, 2 do
    local list = cmsgpack.unpack(fields[j + 1])
    local kept = livePairs(list, now)
    if #kept < #list then
      pruned = pruned + (#list - #kept) / 2
      if #kept == 0 then redis.call('HDEL', page, fields[j]) else redis.call('HSET', page, fields[j], cmsgpack.pack(kept)) end
    end
  end
end
return pruned
