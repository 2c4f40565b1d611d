-- Writes entries with their dependency index, atomically, in one bucket.
-- KEYS[1] = bucket prefix "{ns:b}"; every key is built from it so all share one slot.
-- ARGV = n, then per entry:
--   key, value, ttl (ms, 0 = none), ntags, tag*, nschemes, (table, scheme)*, nguards, (tag, generation)*,
--   unlock token ('' = none: else the fill lock l:<key> is released if this token holds it)
-- Layout: v:<key> value, d:<key> msgpack list of the key's tags, i:<tag> sorted set of keys scored
-- by expiry (ms, +inf for none), s:<table> set of schemes, g:<tag> generation counter.
-- Returns one 1/0 per entry: written, or refused because a guarded generation moved.
local p = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local result = {}
local a = 2
for e = 1, tonumber(ARGV[1]) do
  local key, value, ttl = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2])
  local ntags = tonumber(ARGV[a + 3])
  local tags = {}
  for i = 1, ntags do tags[i] = ARGV[a + 3 + i] end
  a = a + 4 + ntags
  local nschemes = tonumber(ARGV[a])
  local schemesAt = a + 1
  a = a + 1 + 2 * nschemes
  local nguards = tonumber(ARGV[a])
  local ok = true
  for i = 0, nguards - 1 do
    local current = tonumber(redis.call('GET', p .. 'g:' .. ARGV[a + 1 + 2 * i]) or '0')
    if current ~= tonumber(ARGV[a + 2 + 2 * i]) then ok = false end
  end
  a = a + 1 + 2 * nguards
  local unlock = ARGV[a]
  a = a + 1
  if unlock ~= '' and redis.call('GET', p .. 'l:' .. key) == unlock then redis.call('DEL', p .. 'l:' .. key) end

  if ok then
    local vkey, dkey = p .. 'v:' .. key, p .. 'd:' .. key
    -- Drop the edges of the previous value that the new one no longer has.
    local old = redis.call('GET', dkey)
    if old then
      local keep = {}
      for i = 1, ntags do keep[tags[i]] = true end
      for _, tag in ipairs(cmsgpack.unpack(old)) do
        if not keep[tag] then redis.call('ZREM', p .. 'i:' .. tag, key) end
      end
    end
    local score = '+inf'
    if ttl > 0 then
      score = now + ttl
      redis.call('SET', vkey, value, 'PX', ttl)
    else
      redis.call('SET', vkey, value)
    end
    if ntags > 0 then
      if ttl > 0 then redis.call('SET', dkey, cmsgpack.pack(tags), 'PX', ttl)
      else redis.call('SET', dkey, cmsgpack.pack(tags)) end
      for i = 1, ntags do
        local index = p .. 'i:' .. tags[i]
        redis.call('ZREMRANGEBYSCORE', index, '-inf', now) -- prune expired members on every touch
        redis.call('ZADD', index, score, key)
      end
      for i = 0, nschemes - 1 do
        redis.call('SADD', p .. 's:' .. ARGV[schemesAt + 2 * i], ARGV[schemesAt + 2 * i + 1])
      end
    elseif old then
      redis.call('DEL', dkey)
    end
    result[e] = 1
  else
    result[e] = 0
  end
end
return result
