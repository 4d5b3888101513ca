"""Stashes in Redis: content keys with real TTLs, a path index and an expiry schedule.

Every write is one Lua script, so content, TTL and index membership change together
(Sensu 1.x used separate SET, SADD and EXPIRE calls). Deadlines come from Redis's own
clock (``TIME``) and are set with ``SET ... PXAT``, so the content key and the expiry
schedule agree to the millisecond. Listing purges expired paths from the index before
counting, so ``total`` counts live stashes only.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from typing import Any, NamedTuple, TypeVar

from redisio.calls import LIST_BUDGET, PURGE_PRELUDE, Call, Script, Steps
from redisio.keys import Keys, StashKeys, stash_bucket

T = TypeVar("T")


class RawStash(NamedTuple):
    """A stash as stored: content is the stored JSON bytes, not yet parsed."""

    path: str
    content: bytes
    expire: int  # remaining seconds, rounded up; -1 without a TTL


# Paths per round trip when listing (a page of up to this many small stashes is one).
BATCH = 1_000

# ARGV[1] content key prefix, ARGV[2] content budget (bytes). Appends path, content,
# PTTL of live paths to `out` until the next content would overrun the budget (one
# is read whatever its size, so a batch always gets somewhere); a path whose content
# key is gone is dropped from the index on the way. Returns how many paths it took
# (read or dropped) and how many of them were gone.
_FETCH = """
local function fetch(paths, out)
  local budget, read, taken, gone = tonumber(ARGV[2]), 0, 0, 0
  for _, path in ipairs(paths) do
    local key = ARGV[1] .. path
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

# ARGV: content key prefix, budget, offset, count, resume ('' for a page's first
# call; else the last path read, the page going on after it, offset unused).
# Returns {done, total, taken, last, items...}: total is the live count less the
# paths found gone (0 less those on resuming), taken the paths taken, and last the
# path to resume after, '' when the page is complete.
_PAGE_LUA = (
    f"local BATCH = {BATCH}\n"
    + PURGE_PRELUDE
    + _FETCH
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
local taken, gone = fetch(paths, out)
out[2], out[3] = out[2] - gone, taken
if taken < count and (taken < #paths or #paths == BATCH) then out[4] = paths[taken] end
return out
"""
)

# ARGV: content key prefix, budget, lex start ('-' or '(' .. last path), count.
# Returns {done, last path taken or '' at the end, items...}.
_SCAN_LUA = (
    PURGE_PRELUDE
    + _FETCH
    + """
local done = purge(PURGE_BATCH)
local out = {done, ''}
if done == 1 then
  local paths = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[3], '+', 'LIMIT', 0, ARGV[4])
  local taken = fetch(paths, out)
  if taken < #paths or #paths == tonumber(ARGV[4]) then out[2] = paths[taken] end
end
return out
"""
)

_PUT = Script(_PUT_LUA)
_DELETE = Script(_DELETE_LUA, convert=bool)
_PAGE = Script(_PAGE_LUA, write=False)
_SCAN = Script(_SCAN_LUA, write=False)

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


def _same(batch: list[RawStash]) -> list[RawStash]:
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

    def count(self) -> Call:
        """How many paths the index holds: live stashes, and expired ones not yet
        purged. One ZCARD, for gauges and progress bars."""
        return Call(("ZCARD", self.keys.stash_index))

    def exists(self, path: str) -> Call:
        """True while a stash is stored at `path`. One EXISTS."""
        return Call(("EXISTS", self.keys.stash(path)), convert=bool)

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

    def page(
        self,
        offset: int,
        limit: int,
        each: Callable[[list[RawStash]], list[T]] = _same,  # type: ignore[assignment]
    ) -> Steps[tuple[int, list[T]]]:
        """Live stash count, and the stashes at ranks offset..offset+limit-1 by path,
        each batch passed through `each` as it comes (between round trips).

        One round trip for up to `BATCH` paths and `LIST_BUDGET` bytes of content;
        more while expired paths wait to be purged.
        """
        prefix = self.keys.stash_prefix
        count = min(limit, _MAX_RANK)
        args = [prefix, LIST_BUDGET, min(offset, _MAX_RANK), count, b""]
        total, items = 0, []
        while True:
            done, found, taken, last, *flat = yield _PAGE(self._lists, args)
            if not done:
                continue
            total += found
            items += each(_items(flat))
            count -= taken
            if not last:
                return total, items
            # The rest after the last path read, not by rank: a stash deleted
            # meanwhile must not shift the page.
            args = [prefix, LIST_BUDGET, 0, count, last]

    def scan(
        self,
        each: Callable[[list[RawStash]], list[T]] = _same,  # type: ignore[assignment]
    ) -> Steps[list[T]]:
        """Every live stash in path order, a batch per round trip (full and filtered
        lists), each batch passed through `each` as it comes."""
        stashes: list[T] = []
        start = b"-"
        while True:
            args = [self.keys.stash_prefix, LIST_BUDGET, start, BATCH]
            done, last, *flat = yield _SCAN(self._lists, args)
            if not done:
                continue
            stashes += each(_items(flat))
            if not last:
                return stashes
            start = b"(" + last


# KEYS[1] index, KEYS[2] expiry. Purges, then counts: {done, paths listed}.
_COUNT = Script(
    PURGE_PRELUDE
    + """
local done = purge(PURGE_BATCH)
return {done, redis.call('ZCARD', KEYS[1])}
""",
    write=False,
)

# KEYS[1] index, KEYS[2] expiry; ARGV: lex start, count. Purges, then lists:
# {done, paths...}.
_PATHS = Script(
    PURGE_PRELUDE
    + """
if purge(PURGE_BATCH) == 0 then return {0} end
local out = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], '+', 'LIMIT', 0, ARGV[2])
table.insert(out, 1, 1)
return out
""",
    write=False,
)

# KEYS[1] index, KEYS[2] expiry, KEYS[3...] the content keys of ARGV[2...] (paths);
# ARGV[1] content budget (bytes). As _FETCH, with every key declared: returns
# {paths taken, path, content, PTTL, ...}; a path whose content is gone is unlisted.
_FETCH_KEYS = Script(
    """
local budget, read, taken, out = tonumber(ARGV[1]), 0, 0, {0}
for i = 3, #KEYS do
  local key, path = KEYS[i], ARGV[i - 1]
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
  end
  taken = taken + 1
end
out[1] = taken
return out
""",
    write=False,
)

# Rounds of the rank search a page makes before reading (each two round trips), and
# how far short of the offset it may stop: the rest is read and skipped.
SEEK_ROUNDS = 8
SEEK_SLACK = 64


class BucketedStashStore(StashStore):
    """The stashes split into buckets (Redis Cluster): each path in the bucket a hash
    of it names, with its own index and expiry schedule, so a write is still one
    script and a read one command.

    Lists merge the buckets in path order. A page finds where its offset falls by a
    rank search (``ZLEXCOUNT`` in every bucket of a few candidate paths), so its cost
    does not grow with the offset; each step that needs every bucket yields a list
    of calls, which the cluster clients run at once.
    """

    def __init__(self, keys: Keys, buckets: int) -> None:
        super().__init__(keys)
        self.buckets = keys.stash_buckets(buckets)

    def bucket(self, path: str) -> StashKeys:
        """The keys of the bucket holding `path`."""
        return self.buckets[stash_bucket(path, len(self.buckets))]

    def get(self, path: str) -> Call:
        return Call(("GET", self.bucket(path).prefix + path))

    def size(self, path: str) -> Call:
        return Call(("STRLEN", self.bucket(path).prefix + path))

    def put(self, path: str, content: bytes, ttl: int | None) -> Call:
        ttl = ttl if ttl and ttl > 0 else 0
        index, expiry, prefix = self.bucket(path)
        return _PUT([index, expiry, prefix + path], [path, content, ttl])

    def delete(self, path: str) -> Call:
        index, expiry, prefix = self.bucket(path)
        return _DELETE([index, expiry, prefix + path], [path])

    def page(  # type: ignore[override]
        self,
        offset: int,
        limit: int,
        each: Callable[[list[RawStash]], list[T]] = _same,  # type: ignore[assignment]
    ) -> Generator[Call | list[Call], Any, tuple[int, list[T]]]:
        counts = yield from self._counts()
        total = sum(counts)
        if limit <= 0 or offset >= total:
            return total, []
        start, skip = yield from self._seek(offset, counts)
        items = yield from self._merged(start, skip, min(limit, _MAX_RANK), each)
        return total, items

    def scan(  # type: ignore[override]
        self,
        each: Callable[[list[RawStash]], list[T]] = _same,  # type: ignore[assignment]
    ) -> Generator[Call | list[Call], Any, list[T]]:
        items = yield from self._merged(b"-", 0, _MAX_RANK, each)
        return items

    def _counts(self) -> Generator[list[Call], Any, list[int]]:
        """Each bucket's path count, once its expired paths are purged."""
        counts: list[int | None] = [None] * len(self.buckets)
        while None in counts:
            due = [b for b, count in enumerate(counts) if count is None]
            replies = yield [_COUNT(list(self.buckets[b][:2]), []) for b in due]
            for b, (done, count) in zip(due, replies, strict=True):
                if done:
                    counts[b] = count
        return [count or 0 for count in counts]

    def _seek(
        self, offset: int, counts: list[int]
    ) -> Generator[list[Call], Any, tuple[bytes, int]]:
        """Where a page at `offset` starts: a lex start for every bucket and how
        many paths to skip from there (at most about SEEK_SLACK).

        Each round takes, in each bucket, the path at the rank the offset would have
        if paths were spread evenly, counts the paths before each such candidate in
        every bucket, and moves to the furthest candidate not past the offset.
        """
        n = len(self.buckets)
        below, start, factor = [0] * n, b"-", 1.0
        for _ in range(SEEK_ROUNDS):
            short = offset - sum(below)
            rest = [count - seen for count, seen in zip(counts, below, strict=True)]
            remaining = sum(rest)
            if short <= SEEK_SLACK or remaining <= 0:
                break
            ranks = [
                (
                    b,
                    below[b]
                    + min(rest[b] - 1, int(short * factor * rest[b] / remaining)),
                )
                for b in range(n)
                if rest[b] > 0
            ]
            replies = yield [
                Call(("ZRANGE", self.buckets[b].paths, rank, rank)) for b, rank in ranks
            ]
            candidates = [reply[0] for reply in replies if reply]
            if not candidates:
                break
            counted = yield [
                Call(("ZLEXCOUNT", keys.paths, b"-", b"(" + candidate))
                for candidate in candidates
                for keys in self.buckets
            ]
            best: tuple[int, bytes, list[int]] | None = None
            for j, candidate in enumerate(candidates):
                row = counted[j * n : (j + 1) * n]
                rank = sum(row)
                if rank <= offset and (best is None or rank > best[0]):
                    best = (rank, candidate, row)
            if best is None or best[0] <= sum(below):
                factor /= 2  # overshot, or no nearer: aim shorter
                continue
            _, pivot, below = best
            start = b"[" + pivot
        return start, offset - sum(below)

    def _fill(
        self,
        due: list[int],
        cursors: list[bytes],
        buffers: list[deque[RawStash]],
        ended: list[bool],
        budget: int,
        need: int,
    ) -> Generator[list[Call], Any, None]:
        """Read the next paths of each bucket in `due`, then their contents, in two
        steps: the second script declares every content key it reads, so it runs
        (or is told to try again) correctly while the bucket's slot migrates."""
        per = min(BATCH, need)
        replies = yield [
            _PATHS(list(self.buckets[b][:2]), [cursors[b], per]) for b in due
        ]
        listed = []
        for b, (done, *paths) in zip(due, replies, strict=True):
            if not done:
                continue  # expired paths still being purged: again
            if not paths:
                ended[b] = True
            else:
                listed.append((b, paths))
        if not listed:
            return
        replies = yield [
            _FETCH_KEYS(
                [
                    *self.buckets[b][:2],
                    *(self.buckets[b].prefix.encode() + p for p in paths),
                ],
                [budget, *paths],
            )
            for b, paths in listed
        ]
        for (b, paths), (taken, *flat) in zip(listed, replies, strict=True):
            buffers[b].extend(_items(flat))
            cursors[b] = b"(" + paths[taken - 1]
            if taken == len(paths) and len(paths) < per:
                ended[b] = True

    def _merged(
        self,
        start: bytes,
        skip: int,
        count: int,
        each: Callable[[list[RawStash]], list[T]],
    ) -> Generator[list[Call], Any, list[T]]:
        """The stashes from lex `start` on in path order, every bucket's merged:
        `skip` of them left out, then up to `count`, each batch through `each`."""
        n = len(self.buckets)
        budget = max(1, LIST_BUDGET // n)
        cursors = [start] * n
        buffers: list[deque[RawStash]] = [deque() for _ in range(n)]
        ended = [False] * n
        need = skip + count
        out: list[T] = []
        while need > 0:
            due = [b for b in range(n) if not buffers[b] and not ended[b]]
            if due:
                yield from self._fill(due, cursors, buffers, ended, budget, need)
            batch: list[RawStash] = []
            # A path can go out once every bucket that may hold a smaller one has
            # shown its next.
            while need > 0 and all(buffers[b] or ended[b] for b in range(n)):
                heads = [b for b in range(n) if buffers[b]]
                if not heads:
                    need = 0
                    break
                first = min(heads, key=lambda b: buffers[b][0].path)
                item = buffers[first].popleft()
                need -= 1
                if skip:
                    skip -= 1
                else:
                    batch.append(item)
            out += each(batch)
        return out
