-- Writes entries with their dependency index, atomically, in one bucket.
-- KEYS[1] = bucket prefix "{ns:b}"; every key is built from it so all share one slot.
-- ARGV = n, then per entry:
--   key, value, ttl (ms, 0 = none), ntags, tag*, nschemes, (table, scheme)*, nguards, (tag, generation)*,
--   unlock token ('' = none: else the fill lock l:<key> is released if this token holds it)
-- Layout: v:<key> value, d:<key> msgpack list of the key's tags, i:<tag> sorted set of keys scored
-- by expiry (ms, +inf for none), s:<table> set of schemes, g:<tag> generation counter.
-- Invariant: while d:<key> exists, every tag it lists has <key> in i:<tag>, scored at or past d:'s
-- own expiry, which is at or past v:'s. A rewrite that keeps the tags and whose d: already
-- outlives the new value therefore has nothing to rewrite but v:.
-- Returns one 1/0 per entry: written, or refused because a guarded generation moved.
local p = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = tonumber(ARGV[1])

-- Every entry's previous tag list (d:) in a few MGETs rather than one GET per entry.
local starts, dkeys = {}, {}
local a = 2
for e = 1, n do
  starts[e] = a
  dkeys[e] = p .. 'd:' .. ARGV[a]
  a = a + 4 + tonumber(ARGV[a + 3])
  a = a + 1 + 2 * tonumber(ARGV[a])
  a = a + 2 + 2 * tonumber(ARGV[a])
end
local previous = {}
for s = 1, n, 500 do -- slices stay far below Lua's unpack limit
  local got = redis.call('MGET', unpack(dkeys, s, math.min(s + 499, n)))
  for i = 1, #got do previous[s + i - 1] = got[i] end
end
-- d: as this call left it, for keys written twice in one call (false = none)
local rewritten = {}

local result = {}
for e = 1, n do
  a = starts[e]
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
  if unlock ~= '' and redis.call('GET', p .. 'l:' .. key) == unlock then redis.call('DEL', p .. 'l:' .. key) end

  if ok then
    local vkey, dkey = p .. 'v:' .. key, dkeys[e]
    if ttl > 0 then redis.call('SET', vkey, value, 'PX', ttl) else redis.call('SET', vkey, value) end
    local old = rewritten[key]
    if old == nil then old = previous[e] end
    if ntags > 0 then
      local packed = cmsgpack.pack(tags)
      rewritten[key] = packed
      local current = false
      if old == packed then
        local left = redis.call('PTTL', dkey)
        if ttl > 0 then current = left >= ttl else current = left == -1 end
      end
      if not current then
        if old and old ~= packed then
          -- Drop the edges of the previous value that the new one no longer has.
          local keep = {}
          for i = 1, ntags do keep[tags[i]] = true end
          for _, tag in ipairs(cmsgpack.unpack(old)) do
            if not keep[tag] then redis.call('ZREM', p .. 'i:' .. tag, key) end
          end
        end
        -- d: and the scores outlive the value by up to 1/32 of its ttl, so that rewrites within
        -- that slack (hot keys) find them current and skip this block.
        local score = '+inf'
        if ttl > 0 then
          local life = ttl + math.floor(ttl / 32)
          score = now + life
          redis.call('SET', dkey, packed, 'PX', life)
        else
          redis.call('SET', dkey, packed)
        end
        for i = 1, ntags do
          local index = p .. 'i:' .. tags[i]
          -- Prune expired members only when the index grows: bounded under churn, free on rewrites.
          if redis.call('ZADD', index, score, key) == 1 then redis.call('ZREMRANGEBYSCORE', index, '-inf', now) end
        end
      end
      for i = 0, nschemes - 1 do
        redis.call('SADD', p .. 's:' .. ARGV[schemesAt + 2 * i], ARGV[schemesAt + 2 * i + 1])
      end
    elseif old then
      for _, tag in ipairs(cmsgpack.unpack(old)) do redis.call('ZREM', p .. 'i:' .. tag, key) end
      redis.call('DEL', dkey)
      rewritten[key] = false
    end
    result[e] = 1
  else
    result[e] = 0
  end
end
return result
