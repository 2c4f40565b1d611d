#!lua flags=allow-oom
-- Invalidates tags in one bucket: deletes every entry whose header lists one of them, with its
-- other index members, and bumps the tags' generations. Stops after `limit` entries or `budget`
-- ms, whichever comes first (rows, tags and entries alike), so no call blocks Redis for long;
-- the caller calls again with the tags returned and the rows not done.
-- KEYS[1] = bucket prefix
-- ARGV = limit, budget (ms), raceWindow (ms, 0 = no generations), ntags, tag*,
--        nsent, (table, nfields, field*)*, nrows, (table, nfields, (field, value)*)*
--   A row is a changed row image: its conjunction tags are built here from the schemes in use,
--   with the same rules as tags.ts (rowChangeTags), so no client-side scheme cache can go stale.
-- A field missing from a row reaches every entry of the schemes that need it (a:<table>|<scheme>).
-- The rows of a table listed in the `sent` part carry only those fields (the client left out
--   fields no scheme it knew of names): if a scheme in use here names another field, the rows
--   cannot say what its tags are, and the call does nothing (before any write) and says so.
-- Returns { removed, the bucket count recorded in the bucket (0 = none: see register.lua),
--   rows done (the first ones; -1: refused, send the rows with every field), replicas online on
--   this process, tag* not done (not reached, or still holding members) }. A tag returned may
--   have had its generation bumped already: bumping it again is harmless. The caller waits for
--   those replicas to acknowledge (WAIT).
local p = KEYS[1]
local limit = tonumber(ARGV[1])
local now = clock()
local deadline = now + tonumber(ARGV[2])
local window = tonumber(ARGV[3])

local tags, seen = {}, {}
local function add(tag)
  if not seen[tag] then
    seen[tag] = true
    tags[#tags + 1] = tag
  end
end
local ntags = tonumber(ARGV[4])
for i = 1, ntags do add(ARGV[4 + i]) end

-- The fields the rows of some tables were cut down to.
local sentFields = {}
local a = 5 + ntags
for _ = 1, tonumber(ARGV[a]) do
  local fields, n = {}, tonumber(ARGV[a + 2])
  for i = 1, n do fields[ARGV[a + 2 + i]] = true end
  sentFields[ARGV[a + 1]] = fields
  a = a + 2 + n
end
a = a + 1

-- Rows become tags until the deadline (at least one row per call); the caller sends the rest
-- again. A row with thousands of siblings (a bulk update) must not hold Redis in one call.
local schemesOf = {}
local nrows, rowsDone = tonumber(ARGV[a]), 0
for r = 1, nrows do
  if r > 1 and r % 20 == 1 and clock() >= deadline then break end
  local tbl, nfields = ARGV[a + 1], tonumber(ARGV[a + 2])
  local row = {}
  for i = 0, nfields - 1 do row[ARGV[a + 3 + 2 * i]] = ARGV[a + 4 + 2 * i] end
  a = a + 2 + 2 * nfields
  add('t:' .. tbl)
  local schemes = schemesOf[tbl]
  if not schemes then
    schemes = redis.call('SMEMBERS', p .. 's:' .. tbl)
    schemesOf[tbl] = schemes
    local sent = sentFields[tbl]
    if sent then
      for _, scheme in ipairs(schemes) do
        for field in string.gmatch(scheme, '[^&]+') do
          if not sent[field] then return { 0, tonumber(redis.call('GET', p .. 'm:') or '0'), -1, 0 } end
        end
      end
    end
  end
  for _, scheme in ipairs(schemes) do
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
  rowsDone = r
end

-- Small slices: a call stops within a few entries of its deadline, so its time stays within one
-- scheduler slice of the Redis process and another process rarely preempts it midway.
local SLICE = 10
local removed, budget, late = 0, limit, false

-- Deletes the entries among `members` (keys listed under `tag`) whose value still lists the tag,
-- with their other index members: each entry's header read alone (GETRANGE, whatever the value's
-- size), each slice's entries in one UNLINK. Stops between slices once the deadline has passed,
-- unless `whole` (a page's members: the page entry is dropped after).
-- Returns how many members it went through.
local function purge(tag, members, whole)
  local done = 0
  for s = 1, #members, SLICE do
    if not whole and (late or (done > 0 and clock() >= deadline)) then
      late = true
      return done
    end
    local last = math.min(s + SLICE - 1, #members)
    local doomed = {}
    for i = s, last do
      local key = members[i]
      local vkey = p .. 'v:' .. key
      local entryTags = headerAt(vkey)
      if lists(entryTags, tag) then
        for _, other in ipairs(entryTags) do
          if other ~= tag then edgeRemove(p, other, key) end
        end
        doomed[#doomed + 1] = vkey
      end
    end
    if #doomed > 0 then removed = removed + redis.call('UNLINK', unpack(doomed)) end
    done = last
  end
  return done
end

local remaining, reached = {}, 0
for _, tag in ipairs(tags) do
  -- At least one tag per call, so that every call makes progress.
  if not late and budget > 0 and (reached == 0 or clock() < deadline) then
    reached = reached + 1
    -- The generation first, then the entries: a fill that read its generations before this
    -- point is refused, one that reads them after read the new data.
    if window > 0 then
      local g = p .. 'g:' .. tag
      redis.call('INCR', g)
      redis.call('PEXPIRE', g, window)
    end
    local index = p .. 'i:' .. tag
    if redis.call('EXISTS', index) == 1 then
      redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
      local members = redis.call('ZRANGE', index, 0, budget - 1)
      local done = purge(tag, members)
      if done > 0 then redis.call('ZREMRANGEBYRANK', index, 0, done - 1) end
      budget = budget - done
      if redis.call('EXISTS', index) == 1 then remaining[#remaining + 1] = tag end
    else
      local page, list = pageMembers(p, tag)
      if list then
        local members = liveKeys(list, now)
        -- A page holds a handful of members (64 bytes, possibly more than a slice): all of them,
        -- whatever the deadline, as the page entry goes whole.
        purge(tag, members, true)
        redis.call('HDEL', page, tag)
        budget = budget - #members
      end
    end
  else
    -- Not reached in this call: its generation and entries are the next call's.
    late = true
    remaining[#remaining + 1] = tag
  end
end
-- Only replicas online count: one still in its first or a full resync cannot acknowledge, and it
-- gets the whole dataset, this invalidation included, when its sync completes.
local replicas = 0
for _ in string.gmatch(redis.call('INFO', 'replication'), 'slave%d+:[^\r\n]*state=online') do replicas = replicas + 1 end
local reply = { removed, tonumber(redis.call('GET', p .. 'm:') or '0'), rowsDone, replicas }
for i, tag in ipairs(remaining) do reply[i + 4] = tag end
return reply
