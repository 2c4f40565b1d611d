-- The miss path of getOrSet, before the loader runs, in one round trip:
-- returns the value if another process stored it meanwhile; otherwise takes the fill lock (when
-- asked), registers the entry's schemes (so a row change during the load already builds the
-- entry's conjunction tags) and reads the generations of its tags.
-- KEYS[1] = bucket prefix
-- ARGV = key, lock token ('' = no lock), lock ttl ms, skip value ('1': a value past its
--        freshness, kept for grace, counts as missing), nschemes, (table, scheme)*, tag*
-- Returns { 2, value } | { locked (1/0), generation* }
local p = KEYS[1]
local key = ARGV[1]
if ARGV[4] ~= '1' then
  local value = redis.call('GET', p .. 'v:' .. key)
  if value then return { 2, value } end
end
local locked = 1
if ARGV[2] ~= '' then
  if not redis.call('SET', p .. 'l:' .. key, ARGV[2], 'NX', 'PX', ARGV[3]) then locked = 0 end
end
local nschemes = tonumber(ARGV[5])
for i = 0, nschemes - 1 do redis.call('SADD', p .. 's:' .. ARGV[6 + 2 * i], ARGV[7 + 2 * i]) end
local reply = { locked }
for i = 6 + 2 * nschemes, #ARGV do
  reply[#reply + 1] = tonumber(redis.call('GET', p .. 'g:' .. ARGV[i]) or '0')
end
return reply
