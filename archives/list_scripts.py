"""The Lua scripts that walk the indexes: a page of records (`PAGE`, reading each
with `archives.scripts.READ_LUA`), the count of a namespace's records, and the
backfill of reference sets, which pages through the asset index the same way.
Apart from `archives.scripts` because they serve lists and upkeep, not one record.
"""

from __future__ import annotations

from archives.scripts import READ_LUA
from redisio.assetrefs import REFS_LUA
from redisio.calls import DECLARE_PRELUDE, Script, text

# KEYS[1] an index: live or trash ids, or a sort index of "<key>\0<id>" members
# of both; then the keys of the records read (the script asks for them). ARGV: the
# three prefixes, the range's start, count, "asc" or "desc", and for a sort index
# the state to keep ("live" or "trash"; "" keeps all).
# Returns {last member read ('' at the end), id, record, id, record...}.
PAGE = Script(
    DECLARE_PRELUDE
    + READ_LUA
    + """
local members
if ARGV[6] == 'desc' then
  members = redis.call('ZREVRANGEBYLEX', KEYS[1], ARGV[4], '-', 'LIMIT', 0, ARGV[5])
else
  members = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[4], '+', 'LIMIT', 0, ARGV[5])
end
for _, member in ipairs(members) do record_keys(string.sub(member, -128)) end
local more = missing()
if more then return more end
local out = {''}
if #members == tonumber(ARGV[5]) then out[1] = members[#members] end
for _, member in ipairs(members) do
  local id = string.sub(member, -128)
  local found = record(id)
  if found and ARGV[7] ~= '' then
    local live = found[3] == ''
    if live ~= (ARGV[7] == 'live') then found = false end
  end
  if found then
    out[#out + 1] = id
    out[#out + 1] = found
  end
end
return out
"""
)


# KEYS[1] an asset index, then the asset hashes and reference sets it touches.
# ARGV: asset hash prefix, reference set prefix, lex start, count. Adds every
# archive id the assets name to its reference set; returns the last name read, or
# false at the end of the index.
BACKFILL = Script(
    DECLARE_PRELUDE
    + REFS_LUA
    + """
local names = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[3], '+', 'LIMIT', 0, ARGV[4])
for _, name in ipairs(names) do need(ARGV[1] .. name) end
local more = missing()
if more then return more end
local named = {}
for _, name in ipairs(names) do
  local ids = archive_ids(redis.call('HGET', ARGV[1] .. name, 'json'))
  for id in pairs(ids) do need(ARGV[2] .. id) end
  named[name] = ids
end
more = missing()
if more then return more end
for name, ids in pairs(named) do
  for id in pairs(ids) do redis.call('SADD', ARGV[2] .. id, name) end
end
if #names == tonumber(ARGV[4]) then return names[#names] end
return false
""",
    convert=lambda r: None if r is None else text(r),
)

COUNT = Script("return redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2])")
