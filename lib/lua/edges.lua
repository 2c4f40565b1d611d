-- Shared by the scripts that read or write the dependency index (prepended by lua/index.ts).
-- The functions that reach a bucket's keys take its prefix, p, as their first argument.
--
-- An entry's value carries its own tag list in a header, so no second key per entry is needed:
--   "\1" .. indexedUntil .. "\n" .. tag1 .. "\n" .. tag2 ... "\2" .. value
-- indexedUntil is the ms time up to which every listed tag indexes the key ('' = no expiry).
-- Tags are escaped (% \n \2) inside the header, by the client (backends/redis/frame.ts
-- headerText). A value without dependencies is stored as is, unless it starts with "\1": it then
-- gets an empty header ("\1\2").
-- The index may list a key whose value no longer carries the tag (a rewrite that did not read
-- the old value): invalidation deletes an entry only if its header still lists the tag.
--
-- A tag's members (key, indexedUntil) live in one of two places, never both:
--   {p}p:<page>  hash field <tag> of a shared page: small tags, packed (msgpack) in <= 64 bytes,
--                so the page stays in Redis's compact listpack encoding
--   {p}i:<tag>   sorted set scored by indexedUntil ms (+inf = none): tags that outgrew a page

local PAGES = 1024
local PAGE_BYTES = 64 -- Redis's default hash-max-listpack-value

local function pageKey(p, tag)
  local h, n = 0, #tag
  -- The first and last 32 bytes are enough to spread tags; long tags never live in pages anyway.
  for i = 1, math.min(n, 32) do h = (h * 31 + string.byte(tag, i)) % 16777213 end
  for i = math.max(33, n - 31), n do h = (h * 31 + string.byte(tag, i)) % 16777213 end
  return p .. 'p:' .. (h % PAGES)
end

local function unesc(text)
  if string.find(text, '%', 1, true) then
    return (string.gsub(text, '%%(%x%x)', function(hex) return string.char(tonumber(hex, 16)) end))
  end
  return text
end

-- A stored value with dependencies: header (indexedUntil, nil = no expiry; the tags' text as the
-- client escaped and joined them) + value.
local function frameTagged(value, tagText, untilMs)
  return '\1' .. (untilMs and string.format('%d', untilMs) or '') .. '\n' .. tagText .. '\2' .. value
end

-- A stored value without dependencies: as is, unless it could be mistaken for a header.
local function framePlain(value)
  if string.byte(value, 1) == 1 then return '\1\2' .. value end
  return value
end

-- The tag list and indexedUntil (nil = none) of a stored value; no tags when it has no header.
local function header(stored)
  if not stored or string.byte(stored, 1) ~= 1 then return {}, nil end
  local close = string.find(stored, '\2', 2, true)
  local text = string.sub(stored, 2, close - 1)
  local tags, at = {}, string.find(text, '\n', 1, true)
  if not at then return tags, tonumber(text) end
  local untilMs = tonumber(string.sub(text, 1, at - 1))
  while at do
    local nxt = string.find(text, '\n', at + 1, true)
    tags[#tags + 1] = unesc(string.sub(text, at + 1, (nxt or 0) - 1))
    at = nxt
  end
  return tags, untilMs
end

-- The tag list and indexedUntil of the value stored at vkey, reading its header only (values can
-- be megabytes): the first 256 bytes, then 4x more until the header's end is in.
local HEAD_BYTES = 256
local function headerAt(vkey)
  local size = HEAD_BYTES
  local probe = redis.call('GETRANGE', vkey, 0, size - 1)
  if string.byte(probe, 1) ~= 1 then return {}, nil end
  while not string.find(probe, '\2', 2, true) do
    if #probe < size then return {}, nil end -- no end of header: not written by these scripts
    size = size * 4
    probe = redis.call('GETRANGE', vkey, 0, size - 1)
  end
  return header(probe)
end

local function lists(tags, tag)
  for i = 1, #tags do if tags[i] == tag then return true end end
  return false
end

-- The page of a tag and its members as a flat list {key, untilMs (0 = none), ...}, or nil.
local function pageMembers(p, tag)
  if #tag > PAGE_BYTES then return nil, nil end
  local page = pageKey(p, tag)
  local raw = redis.call('HGET', page, tag)
  if raw then return page, cmsgpack.unpack(raw) end
  return page, nil
end

-- The members of a page's list {key, untilMs (0 = none), ...} still live at `now`, in a new list
-- of the same shape; all but `except`, if given.
local function livePairs(list, now, except)
  local kept = {}
  for i = 1, #list, 2 do
    local s = list[i + 1]
    if list[i] ~= except and (s == 0 or s > now) then
      kept[#kept + 1] = list[i]
      kept[#kept + 1] = s
    end
  end
  return kept
end

-- The keys of a page's list still live at `now`.
local function liveKeys(list, now)
  local kept, keys = livePairs(list, now), {}
  for i = 1, #kept, 2 do keys[#keys + 1] = kept[i] end
  return keys
end

-- Adds key to tag's members, scored untilMs (nil = no expiry); drops expired members on the way.
local function edgeAdd(p, tag, key, untilMs, now)
  local index = p .. 'i:' .. tag
  local score = untilMs or '+inf'
  if #tag <= PAGE_BYTES and redis.call('EXISTS', index) == 0 then
    local page, list = pageMembers(p, tag)
    local kept = list and livePairs(list, now, key) or {}
    kept[#kept + 1] = key
    kept[#kept + 1] = untilMs or 0
    local packed = cmsgpack.pack(kept)
    if #packed <= PAGE_BYTES then
      redis.call('HSET', page, tag, packed)
      return
    end
    -- Outgrew the page: move to its own sorted set.
    local args = {}
    for i = 1, #kept, 2 do
      local s = kept[i + 1]
      args[#args + 1] = (s == 0) and '+inf' or s
      args[#args + 1] = kept[i]
    end
    redis.call('ZADD', index, unpack(args))
    if list then redis.call('HDEL', page, tag) end
    return
  end
  -- Prune expired members only when the index grows: bounded under churn, free on rewrites.
  if redis.call('ZADD', index, score, key) == 1 then redis.call('ZREMRANGEBYSCORE', index, '-inf', now) end
end

local function edgeRemove(p, tag, key)
  if redis.call('ZREM', p .. 'i:' .. tag, key) == 1 then return end
  local page, list = pageMembers(p, tag)
  if not list then return end
  -- Expired members stay (-inf: every one is live): removing one key is all this does.
  local kept = livePairs(list, -math.huge, key)
  if #kept == 0 then
    redis.call('HDEL', page, tag)
  elseif #kept < #list then
    redis.call('HSET', page, tag, cmsgpack.pack(kept))
  end
end

local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
