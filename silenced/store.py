"""Silencing entries in Redis: one hash per entry, a name index and an expiry schedule.

Every key of a namespace carries its ``{ns:<ns>}`` hash tag (redisio.keys), so the
entry, both sorted sets and the namespace marker share a Cluster slot, and every
script names each key it touches in KEYS. Entry hashes expire by themselves at their
deadline (``PEXPIREAT``), so an expired entry is never read; lists purge the index
from the expiry schedule first, so their totals count live entries only. Deadlines
and write times come from Redis's clock (``TIME``). Nothing here runs a command: each
method describes its round trips (`redisio.calls`) for a client to run.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from redisio.calls import Call, Script, Steps
from redisio.keys import Keys

# Expired names purged per call: bounds how long one script keeps Redis busy.
PURGE_BATCH = 10_000
# Writes tidy a few expired names too, so the index stays small with nobody listing.
PURGE_ON_WRITE = 16
# Entries read per round trip when walking an index.
BATCH = 500

# Outcomes of a write.
NO_NAMESPACE, EXISTS, CREATED, REPLACED = -1, 0, 1, 2

# KEYS[1] index, KEYS[2] expiry. Defines `secs`, `now` (Redis time in s and ms) and
# purge(max), which drops names whose deadline has passed; 1 when none are left.
_PRELUDE = (
    f"local PURGE_BATCH, PURGE_ON_WRITE = {PURGE_BATCH}, {PURGE_ON_WRITE}"
    + """
local t = redis.call('TIME')
local secs = tonumber(t[1])
local now = secs * 1000 + math.floor(tonumber(t[2]) / 1000)
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

# KEYS[3] namespace marker, KEYS[4] entry. ARGV: name, 'create' or 'put', namespace
# required ('1'/'0'), begin ('' when not given), expire (s, <= 0: none), rule,
# remaining ms (rule 'ttl'), created ('': now), then the entry's text fields as
# field, value pairs. Rules: 'v1' deadline = max(now, begin) + expire (Sensu 1.x);
# 'go' deadline = (begin > 0 and begin or now) + expire, begin defaulting to now
# (Sensu Go); 'ttl' deadline = now + remaining (imports). A deadline already past
# leaves nothing stored, as if the entry had expired at once.
_PUT = Script(
    _PRELUDE
    + """
purge(PURGE_ON_WRITE)
local name = ARGV[1]
if ARGV[3] == '1' and redis.call('EXISTS', KEYS[3]) == 0 then return -1 end
local existed = redis.call('EXISTS', KEYS[4])
if existed == 1 and ARGV[2] == 'create' then return 0 end
local rule, begin_text = ARGV[6], ARGV[4]
if begin_text == '' and rule == 'go' then begin_text = t[1] end
local begin = tonumber(begin_text)
local expire = tonumber(ARGV[5])
local deadline = nil
if rule == 'ttl' then
  deadline = now + tonumber(ARGV[7])
elseif expire > 0 and rule == 'v1' then
  deadline = math.max(now, (begin or 0) * 1000) + expire * 1000
elseif expire > 0 then
  local start = secs
  if begin and begin > 0 then start = begin end
  deadline = (start + expire) * 1000
end
redis.call('DEL', KEYS[4])
redis.call('ZREM', KEYS[2], name)
if deadline and deadline <= now then
  redis.call('ZREM', KEYS[1], name)
  return 1 + existed
end
local created = t[1]
if ARGV[8] ~= '' then created = ARGV[8] end
local fields = {'created', created, 'expire', ARGV[5]}
if begin then
  fields[#fields + 1] = 'begin'
  fields[#fields + 1] = begin_text
end
for i = 9, #ARGV, 2 do
  fields[#fields + 1] = ARGV[i]
  fields[#fields + 1] = ARGV[i + 1]
end
redis.call('HSET', KEYS[4], unpack(fields))
if deadline then
  deadline = string.format('%d', deadline)
  redis.call('HSET', KEYS[4], 'deadline', deadline)
  redis.call('PEXPIREAT', KEYS[4], deadline)
  redis.call('ZADD', KEYS[2], deadline, name)
end
redis.call('ZADD', KEYS[1], 0, name)
return 1 + existed
"""
)

# KEYS[1] index, KEYS[2] expiry, KEYS[3] entry. ARGV: name. 1 when it existed.
_DELETE = Script(
    """
local existed = redis.call('DEL', KEYS[3])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return existed
""",
    convert=bool,
)

# KEYS: entries. Per key {PTTL, field, value, ...}; {} for an entry that is gone.
_FETCH = Script(
    """
local out = {}
for i, key in ipairs(KEYS) do
  local fields = redis.call('HGETALL', key)
  if #fields > 0 then table.insert(fields, 1, redis.call('PTTL', key)) end
  out[i] = fields
end
return out
"""
)

# ARGV: offset, limit. Returns {done, live total, names at those ranks...}.
_PAGE = Script(
    _PRELUDE
    + """
local done = purge(PURGE_BATCH)
local out = {done, redis.call('ZCARD', KEYS[1])}
local offset, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
if done == 1 and limit > 0 and offset < out[2] then
  local names = redis.call('ZRANGE', KEYS[1], offset, offset + limit - 1)
  for _, name in ipairs(names) do out[#out + 1] = name end
end
return out
"""
)

# ARGV: lex start, count. Returns {done, names...}.
_NAMES = Script(
    _PRELUDE
    + """
local done = purge(PURGE_BATCH)
local out = {done}
if done == 1 then
  local names = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], '+', 'LIMIT', 0, ARGV[2])
  for _, name in ipairs(names) do out[#out + 1] = name end
end
return out
"""
)

# Candidates: KEYS[first..] entries; ARGV[2..] name, subscription, check of each
# ('' for an absent side). ARGV[1]: 'key' (Sensu 1.x: the name alone decides) or
# 'fields' (Sensu Go: the stored subscription and check must be those).
_CANDIDATES = """
local function found(first, live_only)
  local out = {}
  for i = first, #KEYS do
    local a = 2 + (i - first) * 3
    local h = redis.call('HMGET', KEYS[i], 'created', 'sub', 'check', 'begin', 'eor')
    local ok = h[1] ~= false
    if ok and ARGV[1] == 'fields' then
      ok = (h[2] or '') == ARGV[a + 1] and (h[3] or '') == ARGV[a + 2]
    end
    if ok and live_only and h[4] then ok = tonumber(h[4]) <= secs end
    if ok then out[#out + 1] = {ARGV[a], KEYS[i], h[5] == '1'} end
  end
  return out
end
"""

# KEYS: candidate entries. The names of those that silence now: begin not ahead.
_MATCH = Script(
    """
local secs = tonumber(redis.call('TIME')[1])
"""
    + _CANDIDATES
    + """
local out = {}
for _, hit in ipairs(found(1, true)) do out[#out + 1] = hit[1] end
return out
"""
)

# KEYS[1] index, KEYS[2] expiry, then candidate entries. Deletes the matching
# entries with expire_on_resolve; returns their names. Sensu 1.x clears such an
# entry even before its begin; Sensu Go only those that silence the event.
_RESOLVE = Script(
    _PRELUDE
    + _CANDIDATES
    + """
local out = {}
for _, hit in ipairs(found(3, ARGV[1] == 'fields')) do
  if hit[3] then
    redis.call('DEL', hit[2])
    redis.call('ZREM', KEYS[1], hit[1])
    redis.call('ZREM', KEYS[2], hit[1])
    out[#out + 1] = hit[1]
  end
end
return out
"""
)

# KEYS[1] index, KEYS[2] expiry, then entries; ARGV: subscription wanted ('-' any),
# check wanted ('-' any, '' absent), then the entries' names. Deletes those whose
# stored fields are the wanted ones; returns their names.
_CLEAR = Script(
    """
local out = {}
for i = 3, #KEYS do
  local h = redis.call('HMGET', KEYS[i], 'created', 'sub', 'check')
  local ok = h[1] ~= false
  if ok and ARGV[1] ~= '-' then ok = (h[2] or '') == ARGV[1] end
  if ok and ARGV[2] ~= '-' then ok = (h[3] or '') == ARGV[2] end
  if ok then
    local name = ARGV[i]
    redis.call('DEL', KEYS[i])
    redis.call('ZREM', KEYS[1], name)
    redis.call('ZREM', KEYS[2], name)
    out[#out + 1] = name
  end
end
return out
"""
)

# Offsets and limits past this are all alike ("past the end"); Lua numbers are doubles.
_MAX_RANK = 2**40


class Stored(NamedTuple):
    """An entry as stored: its hash fields as text, and its remaining lifetime."""

    namespace: str
    name: str
    fields: dict[str, str]
    pttl: int  # ms left; negative without a deadline


class Write(NamedTuple):
    """What a write stores; the script adds ``created`` and computes the deadline."""

    fields: dict[str, str]  # text fields: sub, check, reason, creator, eor, ...
    expire: int  # configured seconds; <= 0: none
    begin: int | None = None  # None: not given (the 'go' rule makes it now)
    rule: str = "v1"  # 'v1', 'go' or 'ttl' (see _PUT)
    ttl_ms: int = 0  # with rule 'ttl': the remaining lifetime
    created: int | None = None  # None: now


class Candidate(NamedTuple):
    """An entry that would silence an event, named and with its two sides."""

    name: str
    subscription: str  # "" for an absent side
    check: str


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _names(flat: Iterable[bytes | str]) -> list[str]:
    return [_text(name) for name in flat]


class SilencedStore:
    """The silencing entries of one deployment, by namespace. No HTTP in here.

    `v1_namespace` is the namespace the Sensu 1.x routes show (one registry, two
    views).
    """

    def __init__(self, keys: Keys, v1_namespace: str = "default") -> None:
        self.keys = keys
        self.v1_namespace = v1_namespace

    def _lists(self, ns: str) -> list[str]:
        return [self.keys.silenced_index(ns), self.keys.silenced_expiry(ns)]

    def put(
        self, ns: str, name: str, write: Write, create: bool, need_namespace: bool
    ) -> Call:
        """Store entry `name`: CREATED or REPLACED; EXISTS (with `create`, nothing
        changed) or NO_NAMESPACE (`need_namespace` and `ns` does not exist)."""
        keys = [*self._lists(ns), self.keys.namespace(ns), self.keys.silence(ns, name)]
        args: list[str | int] = [
            name,
            "create" if create else "put",
            "1" if need_namespace else "0",
            "" if write.begin is None else write.begin,
            write.expire,
            write.rule,
            write.ttl_ms,
            "" if write.created is None else write.created,
        ]
        for field, value in write.fields.items():
            args += [field, value]
        return _PUT(keys, args)

    def delete(self, ns: str, name: str) -> Call:
        """Delete entry `name`; True when it existed. Of two deletes, one wins."""
        return _DELETE([*self._lists(ns), self.keys.silence(ns, name)], [name])

    def fetch(self, ns: str, names: list[str]) -> Call:
        """The live entries of `names`, in that order (those gone are left out)."""
        keys = [self.keys.silence(ns, name) for name in names]

        def convert(replies: list) -> list[Stored]:
            out = []
            for name, reply in zip(names, replies, strict=True):
                if reply:
                    pttl, *flat = reply
                    fields = {
                        _text(flat[i]): _text(flat[i + 1])
                        for i in range(0, len(flat), 2)
                    }
                    out.append(Stored(ns, name, fields, pttl))
            return out

        return Call(_FETCH(keys, []).args, _FETCH.source, convert)

    def get(self, ns: str, name: str) -> Steps[Stored | None]:
        """Entry `name` of `ns`, or None (absent or expired). One round trip."""
        found = yield self.fetch(ns, [name])
        return found[0] if found else None

    def page(self, ns: str, offset: int, limit: int) -> Steps[tuple[int, list[Stored]]]:
        """The live count of `ns`, and its entries at ranks offset.. by name."""
        args = [min(offset, _MAX_RANK), min(limit, _MAX_RANK)]
        while True:
            done, total, *names = yield _PAGE(self._lists(ns), args)
            if done:
                break
        if not names:
            return total, []
        found = yield self.fetch(ns, _names(names))
        return total - (len(names) - len(found)), found

    def scan(self, ns: str) -> Steps[list[Stored]]:
        """Every live entry of `ns` by name, a batch per round trip or two."""
        entries: list[Stored] = []
        start = "-"
        while True:
            done, *names = yield _NAMES(self._lists(ns), [start, BATCH])
            if not done:
                continue
            if names:
                entries += yield self.fetch(ns, _names(names))
            if len(names) < BATCH:
                return entries
            start = "(" + _text(names[-1])

    def namespaces(self) -> Call:
        """Every namespace name, the 1.x view's own included, in byte order."""

        def convert(names: list) -> list[str]:
            return sorted({*_names(names), self.v1_namespace})

        return Call(("ZRANGEBYLEX", self.keys.namespace_index, "-", "+"), None, convert)

    def clear(
        self, ns: str, subscription: str | None, check: str | None
    ) -> Steps[list[str]]:
        """Delete every entry of `ns` whose stored sides are those given (None: any
        value; "" absent); the names cleared. Entries made meanwhile are kept."""
        names = [entry.name for entry in (yield from self.scan(ns))]
        if not names:
            return []
        keys = [*self._lists(ns), *(self.keys.silence(ns, n) for n in names)]
        wanted = ["-" if v is None else v for v in (subscription, check)]
        cleared = yield _CLEAR(keys, [*wanted, *names])
        return _names(cleared)

    def _candidates(self, ns: str, candidates: list[Candidate]) -> tuple[list, list]:
        keys = [self.keys.silence(ns, c.name) for c in candidates]
        args = [arg for c in candidates for arg in c]
        return keys, args

    def match(self, ns: str, candidates: list[Candidate], by_fields: bool) -> Call:
        """The names of the candidates that exist and silence now (begin not ahead).

        One script over every candidate key, however many there are.
        """
        keys, args = self._candidates(ns, candidates)
        mode = "fields" if by_fields else "key"
        return Call(_MATCH(keys, [mode, *args]).args, _MATCH.source, _names)

    def resolve(self, ns: str, candidates: list[Candidate], by_fields: bool) -> Call:
        """Delete, in one step, the matching candidates marked expire_on_resolve;
        their names."""
        keys, args = self._candidates(ns, candidates)
        mode = "fields" if by_fields else "key"
        call = _RESOLVE([*self._lists(ns), *keys], [mode, *args])
        return Call(call.args, call.script, _names)
