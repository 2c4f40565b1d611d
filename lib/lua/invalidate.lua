#!lua flags=allow-oom
-- Invalidates tags in one bucket: deletes every entry listed under them, with all of its index
-- members, and bumps the tags' generations. Works in chunks so no call blocks Redis for long.
-- KEYS[1] = bucket prefix
-- ARGV = limit, raceWindow (ms, 0 = no generations), ntags, tag*, nrows, (table, nfields, (field, value)*)*
--   A row is a changed row image: its conjunction tags are built here from the schemes in use,
--   with the same rules as tags.ts (rowChangeTags), so no client-side scheme cache can go stale.
-- A field missing from a row reaches every entry of the schemes that need it (a:<table>|<scheme>).
-- Returns { removed, tag* still holding members (call again with those, no rows) }.
local p = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local tags, seen = {}, {}
local function add(tag)
  if not seen[tag] then
    seen[tag] = true
    tags[#tags + 1] = tag
  end
end
local ntags = tonumber(ARGV[3])
for i = 1, ntags do add(ARGV[3 + i]) end
local a = 4 + ntags
for _ = 1, tonumber(ARGV[a]) do
  local tbl, nfields = ARGV[a + 1], tonumber(ARGV[a + 2])
  local row = {}
  for i = 0, nfields - 1 do row[ARGV[a + 3 + 2 * i]] = ARGV[a + 4 + 2 * i] end
  a = a + 2 + 2 * nfields
  add('t:' .. tbl)
  for _, scheme in ipairs(redis.call('SMEMBERS', p .. 's:' .. tbl)) do
    local tag, complete = 'c:' .. tbl .. '|', true
    local first = true
    for field in string.gmatch(scheme, '[^&]+') do
      local v = row[field]
      if v == nil then complete = false break end
      if not first then tag = tag .. '&' end
      tag = tag .. field .. '=' .. v
      first = false
    end
    if complete then add(tag) else add('a:' .. tbl .. '|' .. scheme) end
  end
end

if window > 0 then
  for _, tag in ipairs(tags) do
    local g = p .. 'g:' .. tag
    redis.call('INCR', g)
    redis.call('PEXPIRE', g, window)
  end
end

-- Deletes the given members of one tag's index with their other index members, in slices of at
-- most 500 entries (far below Lua's unpack limit): the slice's d: keys in one MGET, its v: and d:
-- keys in one UNLINK, so the commands per entry are its other tags' ZREMs only.
local function purge(tag, members)
  local removed = 0
  for s = 1, #members, 500 do
    local dkeys, doomed, found = {}, {}, 0
    for i = s, math.min(s + 499, #members) do
      dkeys[#dkeys + 1] = p .. 'd:' .. members[i]
      doomed[#doomed + 1] = p .. 'v:' .. members[i]
    end
    local deps = redis.call('MGET', unpack(dkeys))
    for j = 1, #dkeys do
      if deps[j] then
        local key = members[s + j - 1]
        for _, other in ipairs(cmsgpack.unpack(deps[j])) do
          if other ~= tag then redis.call('ZREM', p .. 'i:' .. other, key) end
        end
        found = found + 1
        doomed[#doomed + 1] = dkeys[j]
      end
    end
    -- Every d: found above still exists: what UNLINK removed beyond them are the values.
    removed = removed + redis.call('UNLINK', unpack(doomed)) - found
  end
  return removed
end

local removed, budget, remaining = 0, limit, {}
for _, tag in ipairs(tags) do
  local index = p .. 'i:' .. tag
  if budget <= 0 then
    if redis.call('EXISTS', index) == 1 then remaining[#remaining + 1] = tag end
  else
    redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
    local members = redis.call('ZRANGE', index, 0, budget - 1)
    if #members > 0 then
      removed = removed + purge(tag, members)
      redis.call('ZREMRANGEBYRANK', index, 0, #members - 1)
    end
    budget = budget - #members
    if redis.call('EXISTS', index) == 1 then remaining[#remaining + 1] = tag end
  end
end
local reply = { removed }
for i, tag in ipairs(remaining) do reply[i + 1] = tag end
return reply
