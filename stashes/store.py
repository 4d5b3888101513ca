"""Stashes in Redis: content keys with real TTLs, a path index and an expiry schedule.

Every write is one Lua script, so content, TTL and index membership change together
(Sensu 1.x used separate SET, SADD and EXPIRE calls). Deadlines come from Redis's own
clock (``TIME``) and are set with ``SET ... PXAT``, so the content key and the expiry
schedule agree to the millisecond. Listing purges expired paths from the index before
counting, so ``total`` counts live stashes only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, TypeVar

from redisio.calls import (
    DECLARE_PRELUDE,
    LIST_BUDGET,
    PURGE_PRELUDE,
    Call,
    Script,
    Steps,
)
from redisio.keys import Keys, StashKeys

T = TypeVar("T")


class RawStash(NamedTuple):
    """A stash as stored: content is the stored JSON bytes, not yet parsed."""

    path: str
    content: bytes
    expire: int  # remaining seconds, rounded up; -1 without a TTL


# Paths per round trip when listing (a page of up to this many small stashes is one).
BATCH = 1_000

# fetch(paths, keys, budget, out): appends path, content, PTTL of live paths (each
# paths[i] with content key keys[i], declared) to `out` until the next content
# would overrun `budget` bytes (one is read whatever its size, so a batch always
# gets somewhere); a path whose content key is gone is dropped from the index
# (KEYS[1]) and expiry schedule (KEYS[2]) on the way. Returns how many paths it
# took (read or dropped) and how many of them were gone.
FETCH_LUA = """
local function fetch(paths, keys, budget, out)
  local read, taken, gone = 0, 0, 0
  for i, path in ipairs(paths) do
    local key = keys[i]
    local size = redis.call('STRLEN', key)
    if read > 0 and read + size > budget then break end
    local content = redis.call('GET', key)
    if content then
      out[#out + 1] = path
      out[#out + 1] = content
      out[#out + 1] = redis.call('PTTL', key)
      read = read + math.max(size, 1)
    else
      redis.call('ZREM', KEYS[1], path)
      redis.call('ZREM', KEYS[2], path)
      gone = gone + 1
    end
    taken = taken + 1
  end
  return taken, gone
end
"""

# KEYS[3] content key. ARGV: path, content, ttl in seconds (0: none).
_PUT_LUA = (
    PURGE_PRELUDE
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

# Names, with need(), the content keys of `paths` (KEYS from 3 on, the script asks
# for them: DECLARE_PRELUDE), ARGV[1] their prefix; returns them.
_CONTENT_KEYS_LUA = """
local function content_keys(paths)
  local keys = {}
  for i, path in ipairs(paths) do keys[i] = need(ARGV[1] .. path) end
  return keys
end
"""

# KEYS[1] index, KEYS[2] expiry schedule, then the content keys read. ARGV: content
# key prefix, budget, offset, count, resume ('' for a page's first call; else the
# last path read, the page going on after it, offset unused).
# Returns {done, total, taken, last, items...}: total is the live count less the
# paths found gone (0 less those on resuming), taken the paths taken, and last the
# path to resume after, '' when the page is complete.
_PAGE_LUA = (
    DECLARE_PRELUDE
    + f"local BATCH = {BATCH}\n"
    + PURGE_PRELUDE
    + FETCH_LUA
    + _CONTENT_KEYS_LUA
    + """
local offset, count = tonumber(ARGV[3]), tonumber(ARGV[4])
local out = {1, 0, 0, ''}
local paths
if ARGV[5] == '' then
  out[1] = purge(PURGE_BATCH)
  out[2] = redis.call('ZCARD', KEYS[1])
  if out[1] == 0 or count <= 0 or offset >= out[2] then return out end
  paths = redis.call('ZRANGE', KEYS[1], offset, offset + math.min(count, BATCH) - 1)
else
  local start, n = '(' .. ARGV[5], math.min(count, BATCH)
  paths = redis.call('ZRANGEBYLEX', KEYS[1], start, '+', 'LIMIT', 0, n)
end
local keys = content_keys(paths)
local more = missing()
if more then return more end
local taken, gone = fetch(paths, keys, tonumber(ARGV[2]), out)
out[2], out[3] = out[2] - gone, taken
if taken < count and (taken < #paths or #paths == BATCH) then out[4] = paths[taken] end
return out
"""
)

# KEYS as _PAGE_LUA's. ARGV: content key prefix, budget, lex start ('-' or '(' ..
# last path), count. Returns {done, last path taken or '' at the end, items...}.
_SCAN_LUA = (
    DECLARE_PRELUDE
    + PURGE_PRELUDE
    + FETCH_LUA
    + _CONTENT_KEYS_LUA
    + """
local done = purge(PURGE_BATCH)
local out = {done, ''}
if done == 1 then
  local paths = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[3], '+', 'LIMIT', 0, ARGV[4])
  local keys = content_keys(paths)
  local more = missing()
  if more then return more end
  local taken = fetch(paths, keys, tonumber(ARGV[2]), out)
  if taken < #paths or #paths == tonumber(ARGV[4]) then out[2] = paths[taken] end
end
return out
"""
)

PUT = Script(_PUT_LUA)
DELETE = Script(_DELETE_LUA, convert=bool)
_PAGE = Script(_PAGE_LUA, write=False)
_SCAN = Script(_SCAN_LUA, write=False)

# Offsets and limits past this are all alike ("past the end"); Lua numbers are doubles.
MAX_RANK = 2**40


def raw_stashes(flat: list) -> list[RawStash]:
    """{path, content, pttl, ...} from a script as RawStash items."""
    out = []
    for i in range(0, len(flat), 3):
        pttl = flat[i + 2]
        # PTTL is in ms; round up so a live stash never shows 0 (Redis TTL rounds).
        expire = -1 if pttl < 0 else max(1, -(-pttl // 1000))
        out.append(RawStash(flat[i].decode(), flat[i + 1], expire))
    return out


def same(batch: list[RawStash]) -> list[RawStash]:
    """Each batch of a list as it is."""
    return batch


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

    def bucket(self, path: str) -> StashKeys:
        """The keys of the bucket holding `path`: here the one of every stash."""
        keys = self.keys
        return StashKeys(keys.stash_index, keys.stash_expiry, keys.stash_prefix)

    def get(self, path: str) -> Call:
        """The stored content JSON of `path`, or None (absent or expired). One GET."""
        return Call(("GET", self.keys.stash(path)))

    def count(self) -> Steps[int]:
        """How many paths the index holds: live stashes, and expired ones not yet
        purged. One ZCARD, for gauges and progress bars."""
        count: int = yield Call(("ZCARD", self.keys.stash_index))
        return count

    def exists(self, path: str) -> Call:
        """True while a stash is stored at `path`. One EXISTS."""
        return Call(("EXISTS", self.keys.stash(path)), convert=bool)

    def size(self, path: str) -> Call:
        """Length of the stored content of `path`; 0 when absent. One STRLEN."""
        return Call(("STRLEN", self.keys.stash(path)))

    def put(self, path: str, content: bytes, ttl: int | None) -> Call:
        """Store `content` (JSON bytes) at `path`; a TTL of None or <= 0 means none."""
        ttl = ttl if ttl and ttl > 0 else 0
        return PUT([*self._lists, self.keys.stash(path)], [path, content, ttl])

    def delete(self, path: str) -> Call:
        """Delete `path`; True when it existed. Atomic: of two deletes, one wins."""
        return DELETE([*self._lists, self.keys.stash(path)], [path])

    def page(
        self,
        offset: int,
        limit: int,
        each: Callable[[list[RawStash]], list[T]] = same,  # type: ignore[assignment]
    ) -> Steps[tuple[int, list[T]]]:
        """Live stash count, and the stashes at ranks offset..offset+limit-1 by path,
        each batch passed through `each` as it comes (between round trips).

        Two round trips for up to `BATCH` paths and `LIST_BUDGET` bytes of content
        (the first names the content keys the second reads: DECLARE_PRELUDE);
        more while expired paths wait to be purged.
        """
        prefix = self.keys.stash_prefix
        count = min(limit, MAX_RANK)
        args = [prefix, LIST_BUDGET, min(offset, MAX_RANK), count, b""]
        total, items = 0, []
        while True:
            done, found, taken, last, *flat = yield _PAGE(self._lists, args)
            if not done:
                continue
            total += found
            items += each(raw_stashes(flat))
            count -= taken
            if not last:
                return total, items
            # The rest after the last path read, not by rank: a stash deleted
            # meanwhile must not shift the page.
            args = [prefix, LIST_BUDGET, 0, count, last]

    def scan(
        self,
        each: Callable[[list[RawStash]], list[T]] = same,  # type: ignore[assignment]
    ) -> Steps[list[T]]:
        """Every live stash in path order, a batch per two round trips (full and
        filtered lists), each batch passed through `each` as it comes."""
        stashes: list[T] = []
        start = b"-"
        while True:
            args = [self.keys.stash_prefix, LIST_BUDGET, start, BATCH]
            done, last, *flat = yield _SCAN(self._lists, args)
            if not done:
                continue
            stashes += each(raw_stashes(flat))
            if not last:
                return stashes
            start = b"(" + last
