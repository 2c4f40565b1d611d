#!lua flags=allow-cross-slot-keys
-- Writes entries with their dependency index, atomically, in one call.
-- KEYS[1] = the first bucket prefix "{ns:b}" (routes the call); every key is built from a prefix.
-- ARGV = ngroups, (prefix, bucket count)* (one per bucket group), then per group: nruns, then per
--   run of entries of one kind, in the order they were issued: kind, n, then n entries:
--   'p' (no dependencies, guards or lock): key, value, ttl (ms, 0 = none)
--   't' (dependencies only):               key, value, ttl, tagText
--   'f' (any):                             key, value, ttl, ntags, [tagText, if ntags > 0],
--                                          nschemes, (table, scheme)*, nguards, (tag, generation)*,
--                                          unlock token ('' = none: else the fill lock l:<key> is
--                                          released if this token holds it)
--   tagText is the tags as the value's header lists them (escaped, one per line): the tags are
--   read from it only when the index has to change.
-- Each entry's keys share its bucket's slot; the buckets of one call are served by one Redis
-- process (on a cluster, one node: the client groups them so).
-- Layout (see edges.lua): v:<key> the value behind its tag-list header, p:<page> / i:<tag> the
-- index, s:<table> set of schemes, g:<tag> generation counter, l:<key> fill lock.
-- Invariant: every tag in a value's header indexes its key with a score at or past the header's
-- indexedUntil, which is at or past the value's expiry. A rewrite with the same tags whose
-- indexedUntil already covers the new expiry therefore writes the value only.
-- Returns one 1/0 per entry, in order: written, or refused because a guarded generation moved;
-- or, with nothing written, { -1, the bucket's recorded count or 0 } when a bucket does not hold
-- the caller's bucket count in m: (see register.lua): the caller registers and sends again.
local now = clock()
local ngroups = tonumber(ARGV[1])
-- Checked for every bucket before the first write. On a cluster, a bucket whose slot moved to
-- another node also fails here, before anything is written: the client then sends each bucket on
-- its own.
for g = 1, ngroups do
  local recorded = redis.call('GET', ARGV[2 * g] .. 'm:')
  if recorded ~= ARGV[2 * g + 1] then return { -1, tonumber(recorded or '0') } end
end

-- The tags listed in a header's text (see frame.ts headerText), unescaped.
local function tagsOf(tagText)
  local tags, at = {}, 0
  while true do
    local nxt = string.find(tagText, '\n', at + 1, true)
    tags[#tags + 1] = unesc(string.sub(tagText, at + 1, (nxt or 0) - 1))
    if not nxt then return tags end
    at = nxt
  end
end

local function write(p, key, value, ttl, tagText)
  local vkey = p .. 'v:' .. key
  if not tagText then
    -- A value written without tags leaves the old value's index members behind: harmless, as
    -- invalidation checks the header, and pruned when they expire or their tag is invalidated.
    value = framePlain(value)
    if ttl > 0 then redis.call('SET', vkey, value, 'PX', ttl) else redis.call('SET', vkey, value) end
    return
  end
  local untilMs, stored = nil, nil
  -- The index outlives the value by up to 1/32 of its ttl, so that rewrites within that slack
  -- (hot keys) find it current and skip the index work.
  if ttl > 0 then untilMs = now + ttl + math.floor(ttl / 32) end
  -- The old value's header alone: a rewrite reads no more of the old value than that.
  local probe = redis.call('GETRANGE', vkey, 0, #tagText + 40)
  local oldTags = {}
  if string.byte(probe, 1) == 1 then
    local close = string.find(probe, '\2', 2, true)
    local nl = string.find(probe, '\n', 2, true)
    -- Same tags (the header's text compares whole) and an index that covers the new expiry:
    -- the old header is the new one.
    if close and nl and nl < close and string.sub(probe, nl + 1, close - 1) == tagText then
      local oldUntil = tonumber(string.sub(probe, 2, nl - 1))
      if (ttl > 0 and oldUntil ~= nil and oldUntil >= now + ttl) or (ttl == 0 and oldUntil == nil) then
        stored = string.sub(probe, 1, close) .. value
      end
    end
    if not stored then oldTags = close and header(probe) or headerAt(vkey) end
  end
  if not stored then
    local tags = tagsOf(tagText)
    if #oldTags > 0 then
      -- Drop the edges of the previous value that the new one no longer has.
      local keep = {}
      for i = 1, #tags do keep[tags[i]] = true end
      for _, tag in ipairs(oldTags) do
        if not keep[tag] then edgeRemove(p, tag, key) end
      end
    end
    for i = 1, #tags do edgeAdd(p, tags[i], key, untilMs, now) end
    stored = frameTagged(value, tagText, untilMs)
  end
  if ttl > 0 then redis.call('SET', vkey, stored, 'PX', ttl) else redis.call('SET', vkey, stored) end
end

local result = {}
local a = 2 + 2 * ngroups
for g = 1, ngroups do
  local p = ARGV[2 * g]
  local nruns = tonumber(ARGV[a])
  a = a + 1
  for _ = 1, nruns do
    local kind, n = ARGV[a], tonumber(ARGV[a + 1])
    a = a + 2
    if kind == 'p' then
      for _ = 1, n do
        write(p, ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2]), nil)
        result[#result + 1] = 1
        a = a + 3
      end
    elseif kind == 't' then
      for _ = 1, n do
        write(p, ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2]), ARGV[a + 3])
        result[#result + 1] = 1
        a = a + 4
      end
    else
      for _ = 1, n do
        local key, value, ttl = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2])
        local tagText = nil
        if tonumber(ARGV[a + 3]) > 0 then
          tagText = ARGV[a + 4]
          a = a + 5
        else
          a = a + 4
        end
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
          write(p, key, value, ttl, tagText)
          if tagText then
            for i = 0, nschemes - 1 do
              redis.call('SADD', p .. 's:' .. ARGV[schemesAt + 2 * i], ARGV[schemesAt + 2 * i + 1])
            end
          end
          result[#result + 1] = 1
        else
          result[#result + 1] = 0
        end
      end
    end
  end
end
return result
