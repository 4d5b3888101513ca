"""The Lua script of a bundle import (spec archives.md 13.2), which also stores an
asset mirror's step (12.3): records and assets in one step, and what its replies
mean. The store (`archives.import_store`) says which keys and arguments it gets.
"""

from __future__ import annotations

from typing import NamedTuple

from archives.scripts import SORTS_LUA
from redisio.assetrefs import REFS_LUA
from redisio.calls import DECLARE_PRELUDE, Script, text


class ImportOutcome(NamedTuple):
    """What a bundle import stored; `conflict` names the existing asset that
    stopped it, `changed` the asset whose ETag was not the one expected (nothing
    stored for either), `no_namespace` when the namespace is gone."""

    no_namespace: bool
    conflict: str | None
    created: list[str]
    existing: list[str]
    assets_created: list[str]
    assets_replaced: list[str]
    assets_skipped: list[str]
    changed: str | None = None


def import_outcome(reply: list) -> ImportOutcome:
    code, *rest = reply
    if code == -1:
        return ImportOutcome(True, None, [], [], [], [], [])
    if code == -3:
        return ImportOutcome(False, text(rest[0]), [], [], [], [], [])
    if code == -4:
        return ImportOutcome(False, None, [], [], [], [], [], text(rest[0]))
    created, existing, made, replaced, skipped = (
        [text(x) for x in part] for part in rest
    )
    return ImportOutcome(False, None, created, existing, made, replaced, skipped)


# An asset write of IMPORT that takes the asset as it finds it (on_conflict says
# what then happens), rather than comparing its ETag.
ANY_ETAG = "*"


# KEYS[1] namespace marker, KEYS[2] live index, KEYS[3] trash, KEYS[4] asset index,
# then the records, alias sets, sort indexes, asset hashes and reference sets it
# touches (DECLARE_PRELUDE: a revived record's alias keys, and the reference sets
# an asset it replaces names, come from the data).
# ARGV: record prefix, sort index prefix, alias key prefix, alias set prefix, refs
# prefix, asset prefix, on_conflict, record count, then per record: id, data, etag,
# its created_at, size and filename index members; asset count, then per asset:
# name, json, etag, the ETag it was computed from ('' it must not exist, ANY_ETAG
# whatever is there), the ids it names. Returns {-1} (no namespace), {-3, name}
# (an asset exists, on_conflict fail), {-4, name} (an asset is not the one the
# write was computed from), or {1, created, existing, assets created, replaced,
# skipped}.
IMPORT = Script(
    DECLARE_PRELUDE
    + REFS_LUA
    + SORTS_LUA
    + f"local ANY_ETAG = '{ANY_ETAG}'\n"
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
local n = tonumber(ARGV[8])
local a = 9 + n * 6
local m = tonumber(ARGV[a])
for i = 0, n - 1 do
  need(ARGV[1] .. ARGV[9 + i * 6])
  need(ARGV[4] .. ARGV[9 + i * 6])
end
for _, field in ipairs(SORTS) do need(ARGV[2] .. field) end
for j = 0, m - 1 do need(ARGV[6] .. ARGV[a + 1 + j * 5]) end
local more = missing()
if more then return more end
local revived = {}
for i = 0, n - 1 do
  local id = ARGV[9 + i * 6]
  revived[i] = redis.call('HGET', ARGV[1] .. id, 'deleted_at') ~= ''
  if revived[i] then
    for _, alias in ipairs(redis.call('SMEMBERS', ARGV[4] .. id)) do
      need(ARGV[3] .. alias)
    end
  end
end
local plans = {}
for j = 0, m - 1 do
  local c = a + 1 + j * 5
  plans[j] = refs_plan(ARGV[5], redis.call('HGET', ARGV[6] .. ARGV[c], 'json'),
                       ARGV[c + 4])
end
more = missing()
if more then return more end
for j = 0, m - 1 do
  local c = a + 1 + j * 5
  if ARGV[c + 3] ~= ANY_ETAG then
    local current = redis.call('HGET', ARGV[6] .. ARGV[c], 'etag') or ''
    if current ~= ARGV[c + 3] then return {-4, ARGV[c]} end
  end
end
if ARGV[7] == 'fail' then
  for j = 0, m - 1 do
    local name = ARGV[a + 1 + j * 5]
    if redis.call('EXISTS', ARGV[6] .. name) == 1 then return {-3, name} end
  end
end
local created, existing = {}, {}
for i = 0, n - 1 do
  local b = 9 + i * 6
  local id = ARGV[b]
  local key = ARGV[1] .. id
  if not revived[i] then
    existing[#existing + 1] = id
  else
    index_sorts(key, ARGV[2], b + 2)
    redis.call('HSET', key, 'data', ARGV[b + 1], 'etag', ARGV[b + 2], 'deleted_at', '')
    redis.call('ZADD', KEYS[2], 0, id)
    redis.call('ZREM', KEYS[3], id)
    -- A revived record takes back its aliases that nobody took meanwhile.
    for _, alias in ipairs(redis.call('SMEMBERS', ARGV[4] .. id)) do
      if not redis.call('GET', ARGV[3] .. alias) then
        redis.call('SET', ARGV[3] .. alias, id)
      end
    end
    created[#created + 1] = id
  end
end
local made, replaced, skipped = {}, {}, {}
for j = 0, m - 1 do
  local c = a + 1 + j * 5
  local name = ARGV[c]
  local key = ARGV[6] .. name
  local old = redis.call('HGET', key, 'json')
  if old and ARGV[7] == 'skip' then
    skipped[#skipped + 1] = name
  else
    redis.call('HSET', key, 'json', ARGV[c + 1], 'etag', ARGV[c + 2])
    redis.call('ZADD', KEYS[4], 0, name)
    refs_apply(plans[j], name)
    if old then replaced[#replaced + 1] = name else made[#made + 1] = name end
  end
end
return {1, created, existing, made, replaced, skipped}
""",
    convert=import_outcome,
)
