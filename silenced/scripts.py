"""The Lua of every silenced round trip that is a script (`silenced.store`).

Each script is given every key it touches in KEYS (all of one namespace, so of one
Cluster slot) and builds none itself.
"""

from __future__ import annotations

from redisio.calls import PURGE_PRELUDE, Script

# Each entry's match string holds what a match needs of it, so that a match is one
# MGET of its candidates (SilencedStore.match; Lua would cost Redis several times
# more): ``<begin>:<bytes of subscription>:<subscription><check>``, begin empty
# unless it was ahead at the write, an absent side empty. It lives and dies with
# its entry (same deadline, same scripts).
#
# KEYS[3] namespace marker, KEYS[4] entry, KEYS[5] its match string.
# ARGV: name, 'create' or 'put', namespace
# required ('1'/'0'), begin ('' when not given), expire (s, <= 0: none), rule,
# remaining ms (rule 'ttl'), created ('': now), then the entry's text fields as
# field, value pairs. Rules: 'v1' deadline = max(now, begin) + expire (Sensu 1.x);
# 'go' deadline = (begin > 0 and begin or now) + expire, begin defaulting to now
# (Sensu Go); 'ttl' deadline = now + remaining (imports). A deadline already past
# leaves nothing stored, as if the entry had expired at once.
PUT = Script(
    PURGE_PRELUDE
    + """
purge(PURGE_ON_WRITE)
local name = ARGV[1]
if ARGV[3] == '1' and redis.call('EXISTS', KEYS[3]) == 0 then return -1 end
local existed = redis.call('EXISTS', KEYS[4])
if existed == 1 and ARGV[2] == 'create' then return 0 end
local rule, begin_text = ARGV[6], ARGV[4]
if begin_text == '' and rule == 'go' then begin_text = t[1] end
local begin = tonumber(begin_text)
local expire = tonumber(ARGV[5])
local deadline = nil
if rule == 'ttl' then
  deadline = now + tonumber(ARGV[7])
elseif expire > 0 and rule == 'v1' then
  deadline = math.max(now, (begin or 0) * 1000) + expire * 1000
elseif expire > 0 then
  local start = secs
  if begin and begin > 0 then start = begin end
  deadline = (start + expire) * 1000
end
redis.call('DEL', KEYS[4], KEYS[5])
redis.call('ZREM', KEYS[2], name)
if deadline and deadline <= now then
  redis.call('ZREM', KEYS[1], name)
  return 1 + existed
end
local created = t[1]
if ARGV[8] ~= '' then created = ARGV[8] end
local fields = {'created', created, 'expire', ARGV[5]}
if begin then
  fields[#fields + 1] = 'begin'
  fields[#fields + 1] = begin_text
end
local sides = {sub = '', check = ''}
for i = 9, #ARGV, 2 do
  fields[#fields + 1] = ARGV[i]
  fields[#fields + 1] = ARGV[i + 1]
  if sides[ARGV[i]] then sides[ARGV[i]] = ARGV[i + 1] end
end
redis.call('HSET', KEYS[4], unpack(fields))
-- The match string holds the begin only while it is ahead: an entry that has
-- begun needs no clock to match (SilencedStore.match).
local ahead = ''
if begin and begin > secs then ahead = begin_text end
local facts = string.format('%s:%d:%s%s', ahead, #sides.sub, sides.sub, sides.check)
if deadline then
  deadline = string.format('%d', deadline)
  redis.call('HSET', KEYS[4], 'deadline', deadline)
  redis.call('PEXPIREAT', KEYS[4], deadline)
  redis.call('SET', KEYS[5], facts, 'PXAT', deadline)
  redis.call('ZADD', KEYS[2], deadline, name)
else
  redis.call('SET', KEYS[5], facts)
end
redis.call('ZADD', KEYS[1], 0, name)
return 1 + existed
"""
)

# KEYS[1] index, KEYS[2] expiry, KEYS[3] entry, KEYS[4] its match string. ARGV:
# name. 1 when it existed.
DELETE = Script(
    """
local existed = redis.call('DEL', KEYS[3])
redis.call('DEL', KEYS[4])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return existed
""",
    convert=bool,
)

# KEYS: entries; ARGV[1]: bytes of field values to read at most. Per key {PTTL,
# field, value, ...}, {} for an entry that is gone, up to the entry that would
# overrun the budget (the first is read whatever its size): the keys left out are
# the caller's to fetch again.
FETCH = Script(
    """
local budget, read, out = tonumber(ARGV[1]), 0, {}
for i, key in ipairs(KEYS) do
  local fields = redis.call('HGETALL', key)
  local size = 0
  for j = 2, #fields, 2 do size = size + #fields[j] end
  if read > 0 and read + size > budget then break end
  read = read + size
  if #fields > 0 then table.insert(fields, 1, redis.call('PTTL', key)) end
  out[i] = fields
end
return out
""",
    write=False,
)

# ARGV: offset, limit. Returns {done, live total, names at those ranks...}.
PAGE = Script(
    PURGE_PRELUDE
    + """
local done = purge(PURGE_BATCH)
local out = {done, redis.call('ZCARD', KEYS[1])}
local offset, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
if done == 1 and limit > 0 and offset < out[2] then
  local names = redis.call('ZRANGE', KEYS[1], offset, offset + limit - 1)
  for _, name in ipairs(names) do out[#out + 1] = name end
end
return out
""",
    write=False,
)

# ARGV: lex start, count. Returns {done, names...}.
NAMES = Script(
    PURGE_PRELUDE
    + """
local done = purge(PURGE_BATCH)
local out = {done}
if done == 1 then
  local names = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], '+', 'LIMIT', 0, ARGV[2])
  for _, name in ipairs(names) do out[#out + 1] = name end
end
return out
""",
    write=False,
)

# KEYS[1] index, KEYS[2] expiry, then the candidates' entries, then their match
# strings, in the same order; ARGV[1] 'key' (Sensu 1.x: the name alone decides) or
# 'fields' (Sensu Go: the stored subscription and check must be those), then name,
# subscription, check of each candidate ('' for an absent side). Deletes the
# matching entries with expire_on_resolve; returns their names. Sensu 1.x clears
# such an entry even before its begin; Sensu Go only those that silence the event.
RESOLVE = Script(
    PURGE_PRELUDE
    + """
local n = (#KEYS - 2) / 2
local out = {}
for i = 3, 2 + n do
  local a = 2 + (i - 3) * 3
  local h = redis.call('HMGET', KEYS[i], 'created', 'sub', 'check', 'begin', 'eor')
  local ok = h[1] ~= false and h[5] == '1'
  if ok and ARGV[1] == 'fields' then
    ok = (h[2] or '') == ARGV[a + 1] and (h[3] or '') == ARGV[a + 2]
    if ok and h[4] then ok = tonumber(h[4]) <= secs end
  end
  if ok then
    redis.call('DEL', KEYS[i], KEYS[i + n])
    redis.call('ZREM', KEYS[1], ARGV[a])
    redis.call('ZREM', KEYS[2], ARGV[a])
    out[#out + 1] = ARGV[a]
  end
end
return out
"""
)

# KEYS[1] index, KEYS[2] expiry, then entries, then their match strings in the same
# order; ARGV: subscription wanted ('-' any), check wanted ('-' any, '' absent),
# then the entries' names. Deletes those whose stored fields are the wanted ones;
# returns their names.
CLEAR = Script(
    """
local n = (#KEYS - 2) / 2
local out = {}
for i = 3, 2 + n do
  local h = redis.call('HMGET', KEYS[i], 'created', 'sub', 'check')
  local ok = h[1] ~= false
  if ok and ARGV[1] ~= '-' then ok = (h[2] or '') == ARGV[1] end
  if ok and ARGV[2] ~= '-' then ok = (h[3] or '') == ARGV[2] end
  if ok then
    local name = ARGV[i]
    redis.call('DEL', KEYS[i], KEYS[i + n])
    redis.call('ZREM', KEYS[1], name)
    redis.call('ZREM', KEYS[2], name)
    out[#out + 1] = name
  end
end
return out
"""
)
