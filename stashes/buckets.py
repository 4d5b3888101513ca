"""Stashes in buckets, for Redis Cluster: each path in the bucket a hash of it
names, every bucket with its own hash tag, index and expiry schedule.

A write stays one script and a read one command, in the path's bucket. Lists merge
the buckets in path order, and a page finds where its offset falls by a rank search
across them (`BucketedStashStore._seek`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from typing import Any, TypeVar

from redisio.calls import LIST_BUDGET, PURGE_PRELUDE, Call, Script
from redisio.keys import Keys, StashKeys, stash_bucket
from stashes.store import (
    BATCH,
    DELETE,
    FETCH_LUA,
    MAX_RANK,
    PUT,
    RawStash,
    StashStore,
    raw_stashes,
    same,
)

T = TypeVar("T")

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
# ARGV[1] content budget (bytes). Returns {paths taken, path, content, PTTL, ...};
# a path whose content is gone is unlisted (FETCH_LUA).
_FETCH_KEYS = Script(
    FETCH_LUA
    + """
local out = {0}
out[1] = fetch({unpack(ARGV, 2)}, {unpack(KEYS, 3)}, tonumber(ARGV[1]), out)
return out
""",
    write=False,
)

# KEYS[1] index; ARGV candidate paths. How many paths sort before each: one call a
# bucket for every candidate of a round of the rank search.
_RANKS = Script(
    """
local out = {}
for i, path in ipairs(ARGV) do
  out[i] = redis.call('ZLEXCOUNT', KEYS[1], '-', '(' .. path)
end
return out
""",
    write=False,
)

# Rounds of the rank search a page makes before reading (each two round trips), and
# how far short of the offset it may stop: the rest is read and skipped.
SEEK_ROUNDS = 8
SEEK_SLACK = 64
# Paths read from a bucket beyond twice its even share of a page.
FILL_EXTRA = 8


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

    def exists(self, path: str) -> Call:
        return Call(("EXISTS", self.bucket(path).prefix + path), convert=bool)

    def count(self) -> Generator[list[Call], Any, int]:  # type: ignore[override]
        counts = yield [Call(("ZCARD", bucket.paths)) for bucket in self.buckets]
        return sum(counts)

    def size(self, path: str) -> Call:
        return Call(("STRLEN", self.bucket(path).prefix + path))

    def put(self, path: str, content: bytes, ttl: int | None) -> Call:
        ttl = ttl if ttl and ttl > 0 else 0
        index, expiry, prefix = self.bucket(path)
        return PUT([index, expiry, prefix + path], [path, content, ttl])

    def delete(self, path: str) -> Call:
        index, expiry, prefix = self.bucket(path)
        return DELETE([index, expiry, prefix + path], [path])

    def page(  # type: ignore[override]
        self,
        offset: int,
        limit: int,
        each: Callable[[list[RawStash]], list[T]] = same,  # type: ignore[assignment]
    ) -> Generator[Call | list[Call], Any, tuple[int, list[T]]]:
        counts = yield from self._counts()
        total = sum(counts)
        if limit <= 0 or offset >= total:
            return total, []
        start, skip = yield from self._seek(offset, counts)
        items = yield from self._merged(start, skip, min(limit, MAX_RANK), each)
        return total, items

    def scan(  # type: ignore[override]
        self,
        each: Callable[[list[RawStash]], list[T]] = same,  # type: ignore[assignment]
    ) -> Generator[Call | list[Call], Any, list[T]]:
        items = yield from self._merged(b"-", 0, MAX_RANK, each)
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
            counted = yield [_RANKS([keys.paths], candidates) for keys in self.buckets]
            best: tuple[int, bytes, list[int]] | None = None
            for j, candidate in enumerate(candidates):
                row = [ranks[j] for ranks in counted]
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
        # Paths are spread evenly by their hash: each bucket holds about need / n of
        # the next `need`. Twice that, and a few more, is rarely short; a bucket that
        # runs out first is read again.
        per = min(BATCH, need, 2 * need // len(self.buckets) + FILL_EXTRA)
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
            buffers[b].extend(raw_stashes(flat))
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
