"""The Lua scripts of a record's way out, and what their replies mean: to the trash
and back (`TRASH`, `RESTORE`), and for good (`PURGE`, with `PUT_BACK` undoing it
when another namespace turns out to name the record). Apart from `archives.scripts`
because these remove what those write; the store says which keys each gets.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

from archives.scripts import SORTS_LUA
from redisio.calls import DECLARE_PRELUDE, Script


class TrashOutcome(enum.Enum):
    ABSENT = 0
    TRASHED_ALREADY = -2
    REFERENCED = -1
    TRASHED = 1


class RestoreOutcome(enum.Enum):
    ABSENT = 0
    RESTORED = 1
    LIVE = 2


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
