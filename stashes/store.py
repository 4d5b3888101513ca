"""Stashes in Redis: content keys with real TTLs, a path index and an expiry schedule.

Every write is one Lua script, so content, TTL and index membership change together
(Sensu 1.x used separate SET, SADD and EXPIRE calls). Deadlines come from Redis's own
clock (``TIME``) and are set with ``SET ... PXAT``, so the content key and the expiry
schedule agree to the millisecond. Listing purges expired paths from the index before
counting, so ``total`` counts live stashes only.
"""

from __future__ import annotations

from typing import NamedTuple

from redisio.calls import Call, Script, Steps
from redisio.keys import Keys


class RawStash(NamedTuple):
    """A stash as stored: content is the stored JSON bytes, not yet parsed."""

    path: str
    content: bytes
    expire: int  # remaining seconds, rounded up; -1 without a TTL


# Paths purged per call: bounds how long one script can keep Redis busy.
PURGE_BATCH = 10_000
# Writes tidy a few expired paths too, so the index stays small with nobody listing.
PURGE_ON_WRITE = 16
# Items per round trip when walking the whole index.
SCAN_BATCH = 1_000

# KEYS[1] index, KEYS[2] expiry. Defines `now` (Redis time, ms) and purge(max),
# which drops paths whose deadline has passed and returns 1 when none are left.
_PRELUDE = (
    f"local PURGE_BATCH, PURGE_ON_WRITE = {PURGE_BATCH}, {PURGE_ON_WRITE}"
    + """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function purge(max)
  local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. now, 'LIMIT', 0, max)
  for i = 1, #dead, 1000 do
    local last = math.min(i + 999, #dead)
    redis.call('ZREM', KEYS[1], unpack(dead, i, last))
    redis.call('ZREM', KEYS[2], unpack(dead, i, last))
  end
  if #dead < max then return 1 end
  return 0
end
"""
)

# ARGV[1] is the content key prefix. Appends path, content, PTTL of each live path
# to `out`; a path whose content key is gone is dropped from the index on the way.
_FETCH = """
local function fetch(paths, out)
  local gone = 0
  for _, path in ipairs(paths) do
    local key = ARGV[1] .. path
    local content = redis.call('GET', key)
    if content then
      out[#out + 1] = path
      out[#out + 1] = content
      out[#out + 1] = redis.call('PTTL', key)
    else
      redis.call('ZREM', KEYS[1], path)
      redis.call('ZREM', KEYS[2], path)
      gone = gone + 1
    end
  end
  return gone
end
"""

# KEYS[3] content key. ARGV: path, content, ttl in seconds (0: none).
_PUT_LUA = (
    _PRELUDE
    + """
purge(PURGE_ON_WRITE)
local ttl = tonumber(ARGV[3])
if ttl > 0 then
  local deadline = now + ttl * 1000
  redis.call('SET', KEYS[3], ARGV[2], 'PXAT', deadline)
  redis.call('ZADD', KEYS[2], deadline, ARGV[1])
else
  redis.call('SET', KEYS[3], ARGV[2])
  redis.call('ZREM', KEYS[2], ARGV[1])
end
redis.call('ZADD', KEYS[1], 0, ARGV[1])
return 1
"""
)

# KEYS[3] content key. ARGV[1] path. Returns 1 when the stash existed.
_DELETE_LUA = """
local existed = redis.call('DEL', KEYS[3])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return existed
"""

# ARGV: content key prefix, offset, limit. Returns {done, total, items...}.
_PAGE_LUA = (
    _PRELUDE
    + _FETCH
    + """
local done = purge(PURGE_BATCH)
local total = redis.call('ZCARD', KEYS[1])
local out = {done, total}
local offset, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
if done == 1 and limit > 0 and offset < total then
  local paths = redis.call('ZRANGE', KEYS[1], offset, offset + limit - 1)
  out[2] = total - fetch(paths, out)
end
return out
"""
)

# ARGV: content key prefix, lex start ('-' or '(' .. last path), count.
# Returns {done, last path read or '' at the end, items...}.
_SCAN_LUA = (
    _PRELUDE
    + _FETCH
    + """
local done = purge(PURGE_BATCH)
local out = {done, ''}
if done == 1 then
  local paths = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[2], '+', 'LIMIT', 0, ARGV[3])
  if #paths == tonumber(ARGV[3]) then out[2] = paths[#paths] end
  fetch(paths, out)
end
return out
"""
)

_PUT = Script(_PUT_LUA)
_DELETE = Script(_DELETE_LUA, convert=bool)
_PAGE = Script(_PAGE_LUA)
_SCAN = Script(_SCAN_LUA)

# Offsets and limits past this are all alike ("past the end"); Lua numbers are doubles.
_MAX_RANK = 2**40


def _items(flat: list) -> list[RawStash]:
    """{path, content, pttl, ...} from a script as RawStash items."""
    items = []
    for i in range(0, len(flat), 3):
        pttl = flat[i + 2]
        # PTTL is in ms; round up so a live stash never shows 0 (Redis TTL rounds).
        expire = -1 if pttl < 0 else max(1, -(-pttl // 1000))
        items.append(RawStash(flat[i].decode(), flat[i + 1], expire))
    return items


class StashStore:
    """The stashes of one deployment: Redis and its keys. No HTTP in here.

    Nothing here talks to Redis itself: a single-stash operation returns its one round
    trip as a `Call`, listing the `Steps` of several, for the caller's client to run
    (`BlockingClient`, a connection per thread, or the RSGI server's
    `PipelinedClient`). One description serves both.
    """

    def __init__(self, keys: Keys) -> None:
        self.keys = keys
        self._lists = [keys.stash_index, keys.stash_expiry]

    def get(self, path: str) -> Call:
        """The stored content JSON of `path`, or None (absent or expired). One GET."""
        return Call(("GET", self.keys.stash(path)))

    def size(self, path: str) -> Call:
        """Length of the stored content of `path`; 0 when absent. One STRLEN."""
        return Call(("STRLEN", self.keys.stash(path)))

    def put(self, path: str, content: bytes, ttl: int | None) -> Call:
        """Store `content` (JSON bytes) at `path`; a TTL of None or <= 0 means none."""
        ttl = ttl if ttl and ttl > 0 else 0
        return _PUT([*self._lists, self.keys.stash(path)], [path, content, ttl])

    def delete(self, path: str) -> Call:
        """Delete `path`; True when it existed. Atomic: of two deletes, one wins."""
        return _DELETE([*self._lists, self.keys.stash(path)], [path])

    def page(self, offset: int, limit: int) -> Steps[tuple[int, list[RawStash]]]:
        """Live stash count, and the stashes at ranks offset..offset+limit-1 by path.

        One round trip, more while expired paths wait to be purged.
        """
        args = [self.keys.stash_prefix, min(offset, _MAX_RANK), min(limit, _MAX_RANK)]
        while True:
            done, total, *flat = yield _PAGE(self._lists, args)
            if done:
                return total, _items(flat)

    def scan(self) -> Steps[list[RawStash]]:
        """Every live stash in path order, a batch per round trip (full and filtered
        lists)."""
        stashes: list[RawStash] = []
        start = b"-"
        while True:
            args = [self.keys.stash_prefix, start, SCAN_BATCH]
            done, last, *flat = yield _SCAN(self._lists, args)
            if not done:
                continue
            stashes += _items(flat)
            if not last:
                return stashes
            start = b"(" + last
