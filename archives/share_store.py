"""Share tokens in Redis (spec archives.md 4.2, 11). No HTTP and no Redis calls:
methods describe round trips for the caller's client to run.

A share is a hash expiring with it, beside its archive's index of share ids
(scored by expiry, expiring with the last of them). Both carry the namespace's
hash tag, as the archive record does: creating a share checks the record is live
in the same script, and a purge revokes every share of the record in its own.
"""

from __future__ import annotations

import enum

from archives.shares import Share
from redisio.calls import DECLARE_PRELUDE, Call, Script, text
from redisio.keys import Keys

# A share hash's fields.
FIELDS = ("digest", "archive", "expires_at", "note", "created_by", "created_at")


class CreateOutcome(enum.Enum):
    """What creating a share did; values are the script's replies."""

    ABSENT = 0
    TRASHED = -1
    ID_TAKEN = -2
    CREATED = 1


# Lua: store the share of ARGV (share id, digest, archive id, expires_at, note,
# created_by, created_at) in KEYS[2], indexed in KEYS[3] (its archive's share
# index, pruned of shares expired by `now`); both expire with their last share.
_PUT_LUA = """
local function put(now)
  redis.call('HSET', KEYS[2], 'digest', ARGV[2], 'archive', ARGV[3],
             'expires_at', ARGV[4], 'note', ARGV[5], 'created_by', ARGV[6],
             'created_at', ARGV[7])
  redis.call('EXPIREAT', KEYS[2], ARGV[4])
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
  local last = redis.call('ZRANGE', KEYS[3], -1, -1, 'WITHSCORES')
  redis.call('EXPIREAT', KEYS[3], last[2])
  return 1
end
"""

# KEYS[1] the record, KEYS[2] the share, KEYS[3] the archive's share index.
# ARGV: share id, digest, archive id, expires_at, note, created_by, created_at,
# "live" (the record must be live) or "" (an upload's: its record comes next).
_CREATE = Script(
    _PUT_LUA
    + """
if ARGV[8] == 'live' then
  local deleted = redis.call('HGET', KEYS[1], 'deleted_at')
  if not deleted then return 0 end
  if deleted ~= '' then return -1 end
end
if redis.call('EXISTS', KEYS[2]) == 1 then return -2 end
return put(ARGV[7])
""",
    convert=CreateOutcome,
)

# KEYS[1] an archive's share index, then the shares it reads (DECLARE_PRELUDE).
# ARGV: share hash prefix, now. Drops expired ids; returns {id, {field, value,
# ...}, ...} of the others.
_LIST = Script(
    DECLARE_PRELUDE
    + """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[2], '+inf')
for _, id in ipairs(ids) do need(ARGV[1] .. id) end
local more = missing()
if more then return more end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local out = {}
for _, id in ipairs(ids) do
  local fields = redis.call('HGETALL', ARGV[1] .. id)
  if #fields > 0 then
    out[#out + 1] = id
    out[#out + 1] = fields
  end
end
return out
""",
    write=False,
)

# KEYS[1] the share, KEYS[2] the archive's share index. ARGV: share id, archive id.
# 1 revoked; 0 no such share of that archive.
_REVOKE = Script(
    """
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('HGET', KEYS[1], 'archive') ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""
)


# KEYS[1] the namespace marker, KEYS[2] the share, KEYS[3] its archive's share
# index, then the share index of the archive it replaces a share of
# (DECLARE_PRELUDE). ARGV: share id, digest, archive id, expires_at, note,
# created_by, created_at, now, share index prefix. A share as a backup holds it,
# replacing one of that id: 0 without the namespace, else 1 (an expired one is
# not stored).
_LOAD = Script(
    DECLARE_PRELUDE
    + _PUT_LUA
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local old = redis.call('HGET', KEYS[2], 'archive')
local other
if old and old ~= ARGV[3] then other = need(ARGV[9] .. old) end
local more = missing()
if more then return more end
if other then redis.call('ZREM', other, ARGV[1]) end
if tonumber(ARGV[4]) <= tonumber(ARGV[8]) then return 1 end
redis.call('DEL', KEYS[2])
return put(ARGV[8])
""",
    convert=bool,
)


def _share(share_id: str, flat: list) -> Share:
    found = {text(flat[i]): text(flat[i + 1] or b"") for i in range(0, len(flat), 2)}
    return Share(
        share_id,
        found.get("archive", ""),
        found.get("digest", ""),
        int(found.get("expires_at") or 0),
        found.get("note", ""),
        found.get("created_by", ""),
        int(found.get("created_at") or 0),
    )


class ShareStore:
    """The share tokens of one deployment."""

    def __init__(self, keys: Keys) -> None:
        self.keys = keys

    def create(self, ns: str, share: Share, live: bool = True) -> Call:
        """Store `share` (expiring at its ``expires_at``) if the id is free and
        (with `live`) its archive's record is live in `ns`: a `CreateOutcome`."""
        k = self.keys
        keys = [
            k.archive(ns, share.archive),
            k.share(ns, share.id),
            k.archive_shares(ns, share.archive),
        ]
        args = [
            share.id,
            share.digest,
            share.archive,
            share.expires_at,
            share.note,
            share.created_by,
            share.created_at,
            "live" if live else "",
        ]
        return _CREATE(keys, args)

    def get(self, ns: str, share_id: str) -> Call:
        """Share `share_id` of `ns`, or None (never made, revoked or expired)."""

        def convert(reply: list) -> Share | None:
            if reply[0] is None:
                return None
            pairs = zip(FIELDS, reply, strict=True)
            return _share(share_id, [v for pair in pairs for v in pair])

        key = self.keys.share(ns, share_id)
        return Call(("HMGET", key, *FIELDS), convert=convert)

    def shares(self, ns: str, archive_id: str, now: int) -> Call:
        """The unexpired shares of `archive_id` in `ns`, soonest to expire first."""

        def convert(reply: list) -> list[Share]:
            return [
                _share(text(reply[i]), reply[i + 1]) for i in range(0, len(reply), 2)
            ]

        k = self.keys
        args = [k.share_prefix(ns), now]
        return _LIST([k.archive_shares(ns, archive_id)], args)._replace(convert=convert)

    def load(self, ns: str, share: Share, now: int) -> Call:
        """Store `share` as a backup holds it, replacing a share of its id, in one
        step: False when `ns` does not exist. One expired by `now` is left out."""
        k = self.keys
        keys = [
            k.namespace(ns),
            k.share(ns, share.id),
            k.archive_shares(ns, share.archive),
        ]
        args = [
            share.id,
            share.digest,
            share.archive,
            share.expires_at,
            share.note,
            share.created_by,
            share.created_at,
            now,
            k.archive_shares_prefix(ns),
        ]
        return _LOAD(keys, args)

    def exists(self, ns: str, share_id: str) -> Call:
        """True while share `share_id` of `ns` is stored."""
        return Call(("EXISTS", self.keys.share(ns, share_id)), convert=bool)

    def revoke(self, ns: str, archive_id: str, share_id: str) -> Call:
        """Delete share `share_id` of `archive_id`: True, or False when there is
        no such share of that archive."""
        k = self.keys
        keys = [k.share(ns, share_id), k.archive_shares(ns, archive_id)]
        return _REVOKE(keys, [share_id, archive_id])._replace(convert=bool)
