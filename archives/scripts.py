"""The Lua scripts of archive records, and what their replies mean; the store
(`archives.store`) says which keys and arguments each gets.

Every script names each key it touches in KEYS, asking for those it learns of from
the data (`redisio.calls.DECLARE_PRELUDE`), so that each stays right on Redis
Cluster while a slot migrates.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

from redisio.assetrefs import REFS_LUA
from redisio.calls import DECLARE_PRELUDE, Script, text


class WriteOutcome(enum.Enum):
    """What a record write did; values are the write script's replies."""

    NO_NAMESPACE = -1
    RECORD_CHANGED = -2  # the record's ETag was another: nothing written
    ASSET_CHANGED = -3  # the asset's ETag was another: nothing written
    CREATED = 1  # a new record, or a trashed one live again
    UPDATED = 2


class TrashOutcome(enum.Enum):
    ABSENT = 0
    TRASHED_ALREADY = -2
    REFERENCED = -1
    TRASHED = 1


class RestoreOutcome(enum.Enum):
    ABSENT = 0
    RESTORED = 1
    LIVE = 2


# Lua that reads one record with its aliases and references: `record(id)` gives
# {data, etag, deleted_at, last_download_at, {aliases}, {refs}, scan} or false,
# once `record_keys(id)` named its keys and missing() found them all declared.
# ARGV[1..3] of every script using it: record prefix, alias set prefix, refs prefix.
_READ_LUA = """
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
    + _READ_LUA
    + """
record_keys(ARGV[4])
local more = missing()
if more then return more end
return record(ARGV[4]) or {}
""",
    write=False,
)

# KEYS[1] an index: live or trash ids, or a sort index of "<key>\0<id>" members
# of both; then the keys of the records read (the script asks for them). ARGV: the
# three prefixes, the range's start, count, "asc" or "desc", and for a sort index
# the state to keep ("live" or "trash"; "" keeps all).
# Returns {last member read ('' at the end), id, record, id, record...}.
PAGE = Script(
    DECLARE_PRELUDE
    + _READ_LUA
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

# Needs DECLARE_PRELUDE: names the alias keys of the aliases of the record whose
# alias set is KEYS[4], and returns them (ARGV[1] alias key prefix).
_HELD_LUA = """
local function alias_keys()
  local keys = {}
  for _, alias in ipairs(redis.call('SMEMBERS', KEYS[4])) do
    keys[#keys + 1] = need(ARGV[1] .. alias)
  end
  return keys
end
"""

# KEYS[1] record, KEYS[2] live index, KEYS[3] trash, KEYS[4] alias set, KEYS[5]
# refs, then the alias keys it touches. ARGV: alias key prefix, alias set prefix,
# id, now, etag, "force" or "".
TRASH = Script(
    DECLARE_PRELUDE
    + _HELD_LUA
    + """
local deleted = redis.call('HGET', KEYS[1], 'deleted_at')
if not deleted then return 0 end
if deleted ~= '' then return -2 end
if ARGV[6] ~= 'force' and redis.call('SCARD', KEYS[5]) > 0 then return -1 end
local held = alias_keys()
local more = missing()
if more then return more end
redis.call('HSET', KEYS[1], 'deleted_at', ARGV[4], 'etag', ARGV[5])
redis.call('ZREM', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[3], 0, ARGV[3])
for _, key in ipairs(held) do
  if redis.call('GET', key) == ARGV[3] then redis.call('DEL', key) end
end
return 1
""",
    convert=TrashOutcome,
)

# KEYS as TRASH but the refs (the alias keys from KEYS[5] on). ARGV: alias key
# prefix, alias set prefix, id, etag.
RESTORE = Script(
    DECLARE_PRELUDE
    + _HELD_LUA
    + """
local deleted = redis.call('HGET', KEYS[1], 'deleted_at')
if not deleted then return 0 end
if deleted == '' then return 2 end
alias_keys()
local more = missing()
if more then return more end
redis.call('HSET', KEYS[1], 'deleted_at', '', 'etag', ARGV[4])
redis.call('ZREM', KEYS[3], ARGV[3])
redis.call('ZADD', KEYS[2], 0, ARGV[3])
for _, alias in ipairs(redis.call('SMEMBERS', KEYS[4])) do
  local key = ARGV[1] .. alias
  local holder = redis.call('GET', key)
  if not holder then
    redis.call('SET', key, ARGV[3])
  elseif holder ~= ARGV[3] then
    redis.call('SREM', KEYS[4], alias)
  end
end
return 1
""",
    convert=RestoreOutcome,
)


class Purged(NamedTuple):
    """What a purge did: 1 done, 0 absent (or not due), -1 referenced; when done,
    what it removed, for `PUT_BACK`: the record hash's fields and values, its
    aliases, and each share's id with its fields and values."""

    code: int
    fields: list[bytes]
    aliases: list[bytes]
    shares: list[tuple[bytes, list[bytes]]]


def purged(reply: int | list) -> Purged:
    if not isinstance(reply, list):
        return Purged(int(reply), [], [], [])
    _, fields, aliases, shares = reply
    pairs = [(shares[i], shares[i + 1]) for i in range(0, len(shares), 2)]
    return Purged(1, fields, aliases, pairs)


# KEYS as TRASH, then the record's share index and the sort indexes. ARGV: alias
# key prefix, alias set prefix, id, trashed before (a Unix time: only a record in
# the trash since then, and unreferenced here, is purged; '' purges whatever its
# state), sort index prefix, share hash prefix. Returns `Purged`'s reply.
PURGE = Script(
    DECLARE_PRELUDE
    + _HELD_LUA
    + SORTS_LUA
    + """
local deleted = redis.call('HGET', KEYS[1], 'deleted_at')
if not deleted then return 0 end
if ARGV[4] ~= '' then
  if deleted == '' or tonumber(deleted) > tonumber(ARGV[4]) then return 0 end
  if redis.call('SCARD', KEYS[5]) > 0 then return -1 end
end
local held = alias_keys()
for _, field in ipairs(SORTS) do need(ARGV[5] .. field) end
local shares = redis.call('ZRANGE', KEYS[6], 0, -1)
for _, share in ipairs(shares) do need(ARGV[6] .. share) end
local more = missing()
if more then return more end
local removed = {}
for _, share in ipairs(shares) do
  local fields = redis.call('HGETALL', ARGV[6] .. share)
  if #fields > 0 then
    removed[#removed + 1] = share
    removed[#removed + 1] = fields
  end
end
local out = {1, redis.call('HGETALL', KEYS[1]), redis.call('SMEMBERS', KEYS[4]),
             removed}
for _, key in ipairs(held) do
  if redis.call('GET', key) == ARGV[3] then redis.call('DEL', key) end
end
for _, field in ipairs(SORTS) do
  local member = redis.call('HGET', KEYS[1], 'by_' .. field)
  if member then redis.call('ZREM', ARGV[5] .. field, member) end
end
for _, share in ipairs(shares) do redis.call('DEL', ARGV[6] .. share) end
redis.call('DEL', KEYS[4], KEYS[1], KEYS[6])
redis.call('ZREM', KEYS[2], ARGV[3])
redis.call('ZREM', KEYS[3], ARGV[3])
return out
""",
    convert=purged,
)

# A purged trashed record back in the trash as PURGE removed it, with its aliases
# (in its set: a trashed record holds no alias key) and its unexpired shares;
# nothing when a record of that id exists again. KEYS[1] record, KEYS[2] trash,
# KEYS[3] alias set, KEYS[4] share index, then the sort indexes and share hashes
# (DECLARE_PRELUDE). ARGV: id, sort index prefix, share hash prefix, now, count of
# the record's fields and values, them, alias count, aliases..., share count,
# then per share: id, count of its fields and values, them. 1 when put back.
PUT_BACK = Script(
    DECLARE_PRELUDE
    + SORTS_LUA
    + """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local n = tonumber(ARGV[5])
local i = 6 + n
local aliases = tonumber(ARGV[i])
local shares = {}
local j = i + aliases + 2
for _ = 1, tonumber(ARGV[i + aliases + 1]) do
  local count = tonumber(ARGV[j + 1])
  shares[#shares + 1] = {ARGV[j], j + 2, count}
  need(ARGV[3] .. ARGV[j])
  j = j + 2 + count
end
for _, field in ipairs(SORTS) do need(ARGV[2] .. field) end
local more = missing()
if more then return more end
redis.call('HSET', KEYS[1], unpack(ARGV, 6, 5 + n))
for _, field in ipairs(SORTS) do
  local member = redis.call('HGET', KEYS[1], 'by_' .. field)
  if member then redis.call('ZADD', ARGV[2] .. field, 0, member) end
end
redis.call('ZADD', KEYS[2], 0, ARGV[1])
for k = i + 1, i + aliases do redis.call('SADD', KEYS[3], ARGV[k]) end
for _, share in ipairs(shares) do
  local key = ARGV[3] .. share[1]
  redis.call('HSET', key, unpack(ARGV, share[2], share[2] + share[3] - 1))
  local expires = tonumber(redis.call('HGET', key, 'expires_at') or '0')
  if expires > tonumber(ARGV[4]) then
    redis.call('EXPIREAT', key, expires)
    redis.call('ZADD', KEYS[4], expires, share[1])
  else
    redis.call('DEL', key)
  end
end
local last = redis.call('ZRANGE', KEYS[4], -1, -1, 'WITHSCORES')
if last[2] then redis.call('EXPIREAT', KEYS[4], last[2]) end
return 1
""",
    convert=bool,
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
