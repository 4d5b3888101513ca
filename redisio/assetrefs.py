"""The Lua that keeps archive reference sets in step with asset writes.

Every script that writes or deletes an asset (the assets API's and the archives
API's) has `REFS_LUA` and calls ``refs_plan`` and ``refs_apply`` in the same
script, so an asset and the reference sets of the archive ids it names never
disagree (spec archives.md 4.2). The old ids are read from the stored asset's JSON
inside the script; the new ones come from the caller
(`sensugo.assets.referenced_ids`), who declares their sets in KEYS; the sets of the
old ones the script asks for (`redisio.calls.DECLARE_PRELUDE`).
"""

from __future__ import annotations

# Needs DECLARE_PRELUDE before it. refs_plan(prefix, old_json or false, new ids
# separated by spaces) names, through need(), the reference sets an asset's write
# changes: those of the ids of `old_json` it no longer names, and of the new ones;
# refs_apply(plan, name) then moves asset `name` out of the first and into the
# second. Ids are 128 hex digits, lowercased as agents compare them.
REFS_LUA = """
local function archive_ids(json)
  local ids = {}
  if not json then return ids end
  local ok, asset = pcall(cjson.decode, json)
  if not ok or type(asset) ~= 'table' then return ids end
  local entries = {asset}
  if type(asset.builds) == 'table' then
    for _, build in ipairs(asset.builds) do entries[#entries + 1] = build end
  end
  for _, entry in ipairs(entries) do
    if type(entry) == 'table' and type(entry.sha512) == 'string' then
      local id = string.lower(entry.sha512)
      if #id == 128 and not string.find(id, '[^0-9a-f]') then ids[id] = true end
    end
  end
  return ids
end

local function refs_plan(prefix, old_json, new_ids)
  local new, drop, add = {}, {}, {}
  for id in string.gmatch(new_ids, '%S+') do new[id] = true end
  for id in pairs(archive_ids(old_json)) do
    if not new[id] then drop[#drop + 1] = need(prefix .. id) end
  end
  for id in pairs(new) do add[#add + 1] = need(prefix .. id) end
  return {drop, add}
end

local function refs_apply(plan, name)
  for _, key in ipairs(plan[1]) do redis.call('SREM', key, name) end
  for _, key in ipairs(plan[2]) do redis.call('SADD', key, name) end
end
"""
