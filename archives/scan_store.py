"""Scan verdicts and the scan queue in Redis (spec archives.md 10). No HTTP and no
Redis calls: methods describe round trips for the caller's client to run.

A verdict is about bytes, so it is kept per blob, under ``{archives}`` beside the
queue: queueing, taking, finishing and acknowledging a scan are each one script on
one slot. Every queueing bumps the blob's generation, and a verdict counts only
for the generation it was taken for, so a scan overtaken by a rescan is dropped.
The queue is a sorted set scored by when a worker may take the id: now when
queued, the lease's end once taken, so a job whose worker died is taken again
when its lease runs out, and one that finished stays until acknowledged.

Records carry a copy of their blob's verdict (fields ``scan`` and ``scan_rank``)
so that reads, lists and downloads find it without a second round trip; a copy
is only ever replaced by one of a higher rank (generation, then verdict over
``unscanned``).
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from redisio.calls import DECLARE_PRELUDE, Call, Script, text
from redisio.keys import Keys

STATES = ("unscanned", "clean", "infected", "unscannable")


class Verdict(NamedTuple):
    """A blob's scan state at generation `gen` (``unscanned``: none yet)."""

    gen: int
    state: str
    scanned_at: int | None
    detail: str

    @property
    def rank(self) -> int:
        """Orders copies on records: a later generation wins, and within one a
        verdict wins over ``unscanned``."""
        return 2 * self.gen + (0 if self.state == "unscanned" else 1)

    def json(self) -> str:
        """The record's ``scan`` object (spec archives.md 3), as stored."""
        scan = {"state": self.state, "scanned_at": self.scanned_at}
        return json.dumps({**scan, "detail": self.detail}, separators=(",", ":"))


class Job(NamedTuple):
    """A queued scan a worker took: the blob, its generation, and whether its
    verdict is in already (a worker stopped before acknowledging it)."""

    id: str
    gen: int
    done: bool


# KEYS[1] the scan hash, KEYS[2] the queue. ARGV: id, now, "queue" or "".
# Returns {gen, state, scanned_at, detail} when the blob has a verdict; else
# queues it (with "queue") unless it is queued already, and returns false.
_ENSURE_LUA = """
local v = redis.call('HMGET', KEYS[1], 'gen', 'state', 'scanned_at', 'detail', 'done')
if v[1] and v[5] == v[1] then
  return {v[1], v[2], v[3] or '', v[4] or ''}
end
if ARGV[3] == 'queue' then
  if not v[1] then
    redis.call('HINCRBY', KEYS[1], 'gen', 1)
    redis.call('HSET', KEYS[1], 'state', 'unscanned')
    redis.call('ZADD', KEYS[2], 'NX', ARGV[2], ARGV[1])
  elseif not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
    redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
  end
end
return false
"""
_ENSURE = Script(_ENSURE_LUA)

# KEYS[1] the queue, then the scan hashes it reads (DECLARE_PRELUDE). ARGV: now,
# the lease's end, scan hash prefix. Takes the first id due and leases it: {id,
# gen, 1 when its verdict is in}, or false. Entries whose hash is gone (GC forgot
# the blob) are dropped on the way.
_TAKE = Script(
    DECLARE_PRELUDE
    + """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 16)
for _, id in ipairs(ids) do need(ARGV[3] .. id) end
local more = missing()
if more then return more end
for _, id in ipairs(ids) do
  local v = redis.call('HMGET', ARGV[3] .. id, 'gen', 'done')
  if v[1] then
    redis.call('ZADD', KEYS[1], ARGV[2], id)
    local done = 0
    if v[2] == v[1] then done = 1 end
    return {id, v[1], done}
  end
  redis.call('ZREM', KEYS[1], id)
end
return false
"""
)

# KEYS[1] the scan hash. ARGV: gen, state, scanned_at, detail.
# 1 when stored; 0 when the blob was queued again meanwhile (a newer generation).
_FINISH = Script(
    """
if redis.call('HGET', KEYS[1], 'gen') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'scanned_at', ARGV[3],
           'detail', ARGV[4], 'done', ARGV[1])
return 1
"""
)

# KEYS[1] the scan hash, KEYS[2] the queue. ARGV: id, gen.
_ACK = Script(
    """
if redis.call('HGET', KEYS[1], 'gen') ~= ARGV[2] then return 0 end
return redis.call('ZREM', KEYS[2], ARGV[1])
"""
)

# KEYS[1] the scan hash, KEYS[2] the queue. ARGV: id, now. Returns the new gen.
_REQUEUE = Script(
    """
local gen = redis.call('HINCRBY', KEYS[1], 'gen', 1)
redis.call('HSET', KEYS[1], 'state', 'unscanned')
redis.call('HDEL', KEYS[1], 'scanned_at', 'detail', 'done')
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return gen
"""
)

# KEYS[1] a record. ARGV: scan JSON, rank, new record etag.
# 1 when the record took the copy; 0 when absent, or holding as new a copy.
_APPLY = Script(
    """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local held = redis.call('HMGET', KEYS[1], 'scan_rank', 'scan')
if held[1] then
  local rank = tonumber(held[1])
  if rank > tonumber(ARGV[2]) then return 0 end
  if rank == tonumber(ARGV[2]) and held[2] == ARGV[1] then return 0 end
end
redis.call('HSET', KEYS[1], 'scan', ARGV[1], 'scan_rank', ARGV[2], 'etag', ARGV[3])
return 1
"""
)


# KEYS[1] the scan hash, KEYS[2] the queue. ARGV: id, now, "queue" or "", then a
# backup's verdict: state ('' none or unscanned), scanned_at, detail. A blob with
# no verdict here takes the backup's (generation 1, in); then as _ENSURE.
_LOAD = Script(
    """
if redis.call('EXISTS', KEYS[1]) == 0 and ARGV[4] ~= '' then
  redis.call('HSET', KEYS[1], 'gen', 1, 'state', ARGV[4], 'scanned_at', ARGV[5],
             'detail', ARGV[6], 'done', 1)
end
"""
    + _ENSURE_LUA
)


def _int(value: Any) -> int | None:
    return int(value) if value not in (None, b"", "") else None


def _verdict(reply: list | None) -> Verdict | None:
    if not reply:
        return None
    gen, state, scanned_at, detail = reply
    return Verdict(int(gen), text(state), _int(scanned_at), text(detail or b""))


def _job(reply: list | None) -> Job | None:
    if not reply:
        return None
    archive_id, gen, done = reply
    return Job(text(archive_id), int(gen), bool(int(done)))


def scan_of(raw: bytes | str | None) -> dict[str, Any] | None:
    """A record's copied ``scan`` object, or None when it has none yet."""
    return None if raw is None else json.loads(raw)


class ScanStore:
    """The scan verdicts and queue of one deployment."""

    def __init__(self, keys: Keys) -> None:
        self.keys = keys

    def ensure(self, archive_id: str, now: int, queue: bool) -> Call:
        """The blob's `Verdict` if it has one; else None, and (with `queue`) it is
        queued unless it is already."""
        k = self.keys
        args = [archive_id, now, "queue" if queue else ""]
        return _ENSURE([k.scan(archive_id), k.scan_queue], args)._replace(
            convert=_verdict
        )

    def load(
        self, archive_id: str, scan: dict[str, Any] | None, now: int, queue: bool
    ) -> Call:
        """`ensure`, after giving a blob with no verdict here the one a backup
        holds (`scan`, a record's copy; nothing for ``unscanned``)."""
        state = scan["state"] if scan and scan["state"] != "unscanned" else ""
        scanned_at = (scan or {}).get("scanned_at") or 0
        detail = (scan or {}).get("detail") or ""
        k = self.keys
        args = [archive_id, now, "queue" if queue else "", state, scanned_at, detail]
        return _LOAD([k.scan(archive_id), k.scan_queue], args)._replace(
            convert=_verdict
        )

    def verdict(self, archive_id: str) -> Call:
        """The blob's `Verdict` (``unscanned`` while queued), or None if never
        queued."""

        def convert(reply: list) -> Verdict | None:
            gen, state, scanned_at, detail = reply
            if gen is None:
                return None
            return Verdict(int(gen), text(state), _int(scanned_at), text(detail or b""))

        key = self.keys.scan(archive_id)
        fields = ("gen", "state", "scanned_at", "detail")
        return Call(("HMGET", key, *fields), convert=convert)

    def take(self, now: float, lease_until: float) -> Call:
        """Lease the first due `Job` until `lease_until`; None when none is due."""
        k = self.keys
        args = [f"{now:.3f}", f"{lease_until:.3f}", k.scan_prefix]
        return _TAKE([k.scan_queue], args)._replace(convert=_job)

    def finish(self, archive_id: str, verdict: Verdict) -> Call:
        """Store a verdict if its generation is still the blob's: True, else
        False (queued again meanwhile: the new job stands)."""
        args = [verdict.gen, verdict.state, verdict.scanned_at or 0, verdict.detail]
        return _FINISH([self.keys.scan(archive_id)], args)._replace(convert=bool)

    def ack(self, archive_id: str, gen: int) -> Call:
        """Take a job of generation `gen` off the queue, its verdict copied."""
        k = self.keys
        return _ACK([k.scan(archive_id), k.scan_queue], [archive_id, gen])

    def requeue(self, archive_id: str, now: int) -> Call:
        """Forget the blob's verdict and queue it again: its new generation."""
        k = self.keys
        return _REQUEUE([k.scan(archive_id), k.scan_queue], [archive_id, now])

    def forget(self, archive_id: str) -> Call:
        """The blob is gone: its verdict and queue entry go too."""
        k = self.keys
        return _FORGET([k.scan(archive_id), k.scan_queue], [archive_id])

    def apply(self, ns: str, archive_id: str, verdict: Verdict, etag: str) -> Call:
        """Copy `verdict` onto the record of `archive_id` in `ns`, if it has one and
        no copy of a higher rank: True when the record changed (new `etag`)."""
        key = self.keys.archive(ns, archive_id)
        args = [verdict.json(), verdict.rank, etag]
        return _APPLY([key], args)._replace(convert=bool)

    def seed_lock(self, token: str, seconds: int) -> Call:
        """The right to queue every unscanned blob at start, for one process."""
        key = self.keys.scan_seed_lock
        return Call(("SET", key, token, "NX", "EX", seconds), convert=bool)


# KEYS[1] the scan hash, KEYS[2] the queue. ARGV: id.
_FORGET = Script(
    """
redis.call('DEL', KEYS[1])
return redis.call('ZREM', KEYS[2], ARGV[1])
"""
)
