"""The Lua that keeps archive reference sets in step with asset writes.

Every script that writes or deletes an asset (the assets API's and the archives
API's) starts with `REFS_LUA` and calls ``swap_refs`` in the same script, so an asset
and the reference sets of the archive ids it names never disagree (spec archives.md
4.2). The old ids are read from the stored asset's JSON inside the script; the new
ones come from the caller (`sensugo.assets.referenced_ids`).
"""

from __future__ import annotations

# swap_refs(prefix, name, old_json or false, new ids separated by spaces): asset
# `name` stops naming the ids of `old_json` it no longer names and starts naming the
# new ones. Ids are 128 hex digits, lowercased as agents compare them.
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

local function swap_refs(prefix, name, old_json, new_ids)
  local new = {}
  for id in string.gmatch(new_ids, '%S+') do new[id] = true end
  for id in pairs(archive_ids(old_json)) do
    if not new[id] then redis.call('SREM', prefix .. id, name) end
  end
  for id in pairs(new) do redis.call('SADD', prefix .. id, name) end
end
"""
