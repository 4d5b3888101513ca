"""The Lua scripts of one archive record, and what their replies mean: reading it
(`READ_LUA`, which the listing's `PAGE` shares), writing it with its aliases and
sort index members, loading it from a backup, and noting a download. The store
(`archives.store`) says which keys and arguments each gets; the Lua of the trash is
in `archives.trash_scripts`, that of listing in `archives.list_scripts`.

Every script names each key it touches in KEYS, asking for those it learns of from
the data (`redisio.calls.DECLARE_PRELUDE`), so that each stays right on Redis
Cluster while a slot migrates.
"""

from __future__ import annotations

import enum

from redisio.assetrefs import REFS_LUA
from redisio.calls import DECLARE_PRELUDE, Script


class WriteOutcome(enum.Enum):
    """What a record write did; values are the write script's replies."""

    NO_NAMESPACE = -1
    RECORD_CHANGED = -2  # the record's ETag was another: nothing written
    ASSET_CHANGED = -3  # the asset's ETag was another: nothing written
    CREATED = 1  # a new record, or a trashed one live again
    UPDATED = 2


# Lua that reads one record with its aliases and references: `record(id)` gives
# {data, etag, deleted_at, last_download_at, {aliases}, {refs}, scan} or false,
# once `record_keys(id)` named its keys and missing() found them all declared.
# ARGV[1..3] of every script using it: record prefix, alias set prefix, refs prefix.
READ_LUA = """
local function record_keys(id)
  need(ARGV[1] .. id)
  need(ARGV[2] .. id)
  need(ARGV[3] .. id)
end

local function record(id)
  local fields = redis.call('HMGET', ARGV[1] .. id, 'data', 'etag', 'deleted_at',
                            'last_download_at')
  if not fields[1] then return false end
  fields[5] = redis.call('SMEMBERS', ARGV[2] .. id)
  fields[6] = redis.call('SMEMBERS', ARGV[3] .. id)
  fields[7] = redis.call('HGET', ARGV[1] .. id, 'scan')
  return fields
end
"""

# KEYS: the record, its alias set and refs set. ARGV: record prefix, alias set
# prefix, refs prefix, id.
GET = Script(
    DECLARE_PRELUDE
    + READ_LUA
    + """
record_keys(ARGV[4])
local more = missing()
if more then return more end
return record(ARGV[4]) or {}
""",
    write=False,
)

# The sort indexes (8.1), whose members a record keeps as its fields by_<sort>.
# `index_sorts` puts `record` in them, under the index key `prefix` .. sort, with
# the members ARGV[first + 1..3].
SORTS = ("created_at", "size", "filename")
SORTS_LUA = (
    "local SORTS = {"
    + ", ".join(f"'{s}'" for s in SORTS)
    + "}\n"
    + """
local function index_sorts(record, prefix, first)
  for i, field in ipairs(SORTS) do
    local member = ARGV[first + i]
    local old = redis.call('HGET', record, 'by_' .. field)
    if old and old ~= member then redis.call('ZREM', prefix .. field, old) end
    redis.call('ZADD', prefix .. field, 0, member)
    redis.call('HSET', record, 'by_' .. field, member)
  end
end
"""
)

# Alias moves: `take_alias(id, alias)` points alias at id, out of its old holder's
# set; ARGV[1] alias key prefix, ARGV[2] alias set prefix. Every key they touch is
# one the script named with need() first.
_ALIAS_LUA = """
local function take_alias(id, alias)
  local key = ARGV[1] .. alias
  local holder = redis.call('GET', key)
  if holder and holder ~= id then redis.call('SREM', ARGV[2] .. holder, alias) end
  redis.call('SET', key, id)
  redis.call('SADD', ARGV[2] .. id, alias)
end

local function drop_alias(id, alias)
  local key = ARGV[1] .. alias
  if redis.call('GET', key) == id then redis.call('DEL', key) end
  redis.call('SREM', ARGV[2] .. id, alias)
end

-- With DECLARE_PRELUDE: need() the alias keys of the n aliases from ARGV[first]
-- on and of those in `set`, then (`holders`) the alias sets of the records they
-- point at now; missing() of the first round that lacks any, else nil.
local function aliases_declared(id, first, n, set, holders)
  for i = first, first + n - 1 do need(ARGV[1] .. ARGV[i]) end
  for _, alias in ipairs(redis.call('SMEMBERS', set)) do need(ARGV[1] .. alias) end
  local more = missing()
  if more or not holders then return more end
  for i = first, first + n - 1 do
    local holder = redis.call('GET', ARGV[1] .. ARGV[i])
    if holder and holder ~= id then need(ARGV[2] .. holder) end
  end
  return missing()
end
"""

# KEYS[1] namespace marker, KEYS[2] record, KEYS[3] live index, KEYS[4] trash,
# KEYS[5] alias set, then (with an asset) KEYS[6] asset index, KEYS[7] asset hash,
# then the sort indexes, alias keys, alias sets and reference sets it touches
# (DECLARE_PRELUDE: an alias's holder is known once its alias key is read).
# ARGV: alias key prefix, alias set prefix, id, data, etag, expected record etag
# ('' = none may exist), "add" or "replace" (the aliases), sort index prefix, the
# record's members of the created_at, size and filename indexes, alias count,
# aliases..., then with an asset: name, json, etag, expected etag, refs prefix, ids.
WRITE = Script(
    DECLARE_PRELUDE
    + REFS_LUA
    + _ALIAS_LUA
    + SORTS_LUA
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local id = ARGV[3]
local current = redis.call('HGET', KEYS[2], 'etag') or ''
if current ~= ARGV[6] then return -2 end
local n = tonumber(ARGV[12])
local a = 13 + n
local with_asset = #ARGV > 12 + n
local refs
if with_asset then
  local asset_etag = redis.call('HGET', KEYS[7], 'etag') or ''
  if asset_etag ~= ARGV[a + 3] then return -3 end
  refs = refs_plan(ARGV[a + 4], redis.call('HGET', KEYS[7], 'json'), ARGV[a + 5])
end
for _, field in ipairs(SORTS) do need(ARGV[8] .. field) end
local more = aliases_declared(id, 13, n, KEYS[5], true)
if more then return more end
local was_deleted = redis.call('HGET', KEYS[2], 'deleted_at')
local outcome = 2
if current == '' or (was_deleted and was_deleted ~= '') then outcome = 1 end
index_sorts(KEYS[2], ARGV[8], 8)
redis.call('HSET', KEYS[2], 'data', ARGV[4], 'etag', ARGV[5], 'deleted_at', '')
redis.call('ZADD', KEYS[3], 0, id)
redis.call('ZREM', KEYS[4], id)
local wanted = {}
for i = 13, 12 + n do wanted[ARGV[i]] = true end
if ARGV[7] == 'replace' then
  for _, alias in ipairs(redis.call('SMEMBERS', KEYS[5])) do
    if not wanted[alias] then drop_alias(id, alias) end
  end
end
-- A revived record takes back its aliases that nobody took meanwhile.
for _, alias in ipairs(redis.call('SMEMBERS', KEYS[5])) do
  if not redis.call('GET', ARGV[1] .. alias) then
    redis.call('SET', ARGV[1] .. alias, id)
  end
end
for i = 13, 12 + n do take_alias(id, ARGV[i]) end
if with_asset then
  redis.call('HSET', KEYS[7], 'json', ARGV[a + 1], 'etag', ARGV[a + 2])
  redis.call('ZADD', KEYS[6], 0, ARGV[a])
  refs_apply(refs, ARGV[a])
end
return outcome
""",
    convert=WriteOutcome,
)

# A record as a backup holds it, in its state (live or trashed), replacing the
# record there. KEYS: as WRITE's first five, then the sort indexes and alias keys
# it touches (DECLARE_PRELUDE). ARGV: alias key prefix, alias set prefix, id, data,
# etag, deleted_at ('' live), last_download_at ('' never), sort index prefix, the
# record's three sort members, alias count, aliases..., the backup's copy of the
# scan verdict ('' none): kept at rank 1, below every verdict of this deployment,
# unless the record holds a copy of one already.
# Returns 0 without the namespace, else 1.
LOAD = Script(
    DECLARE_PRELUDE
    + _ALIAS_LUA
    + SORTS_LUA
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local id, live, n = ARGV[3], ARGV[6] == '', tonumber(ARGV[12])
for _, field in ipairs(SORTS) do need(ARGV[8] .. field) end
local more = aliases_declared(id, 13, n, KEYS[5], live)
if more then return more end
for _, alias in ipairs(redis.call('SMEMBERS', KEYS[5])) do drop_alias(id, alias) end
index_sorts(KEYS[2], ARGV[8], 8)
redis.call('HSET', KEYS[2], 'data', ARGV[4], 'etag', ARGV[5], 'deleted_at', ARGV[6],
           'last_download_at', ARGV[7])
local scan = ARGV[13 + n]
local rank = tonumber(redis.call('HGET', KEYS[2], 'scan_rank') or '0')
if scan and scan ~= '' and rank <= 1 then
  redis.call('HSET', KEYS[2], 'scan', scan, 'scan_rank', 1)
end
if live then
  redis.call('ZADD', KEYS[3], 0, id)
  redis.call('ZREM', KEYS[4], id)
else
  redis.call('ZADD', KEYS[4], 0, id)
  redis.call('ZREM', KEYS[3], id)
end
-- A trashed record keeps its aliases in its set only, as a trashed one does.
for i = 13, 12 + n do
  if live then
    take_alias(id, ARGV[i])
  else
    redis.call('SADD', KEYS[5], ARGV[i])
  end
end
return 1
""",
    convert=bool,
)

# KEYS[1] record. ARGV: now, seconds between updates.
TOUCH = Script(
    """
local last = redis.call('HGET', KEYS[1], 'last_download_at')
if last == false and redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if last and last ~= '' and tonumber(ARGV[1]) - tonumber(last) < tonumber(ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[1], 'last_download_at', ARGV[1])
return 1
"""
)
