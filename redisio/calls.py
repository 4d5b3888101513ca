"""Redis round trips, described: what stores return and clients run.

A `Call` is one command and what to make of its reply; a `Script` describes an
EVALSHA of a Lua script (EVAL when Redis lacks it); `Steps` is a generator of the
calls an operation needs, driven by either client (`BlockingClient`,
`PipelinedClient`). Every store describes its work with these and runs nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Generator
from typing import Any, NamedTuple, TypeVar

from redisio.wire import Command

T = TypeVar("T")

# Stored content a list reads per round trip (spec stashes.md 17.10): a reply of a
# gigabyte would hold Redis up for everyone else for seconds.
LIST_BUDGET = 4 * 1024 * 1024


# Expired members purged per call: bounds how long one script keeps Redis busy.
PURGE_BATCH = 10_000
# Writes tidy a few expired members too, so an index stays small with nobody listing.
PURGE_ON_WRITE = 16

# The start of a script over an index (KEYS[1]) and its expiry schedule (KEYS[2], a
# sorted set scored by deadline in ms), for stashes and silences alike. Defines
# `secs` and `now` (Redis time in s and ms) and purge(max), which drops members
# whose deadline has passed and returns 1 when none are left.
PURGE_PRELUDE = (
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


# Redis Cluster runs a script only on keys passed in KEYS: one it reads or writes
# without declaring them may be half-migrated, and it would read nothing there or
# write beside the migration. A script that learns from data which other keys it
# touches (the aliases of an archive, the reference sets an old asset named, the
# hashes a list page reads) starts with `DECLARE_PRELUDE`: it reads declared keys
# only, passes each further key through need(), and before its first write (or
# read of such a key) returns missing() when that is not nil. The reply is
# `NEED` and the keys it lacks; the client sends the call again with them added
# (`Call.widened`), so each key a script touches is in KEYS when it touches it.
NEED = "stashd:need"
# Rounds of widening one call may take: each learns keys from data, which another
# write can change in between.
WIDEN_ROUNDS = 5
DECLARE_PRELUDE = (
    f"local NEED = '{NEED}'\n"
    + """
local declared, needed = {}, {}
for _, k in ipairs(KEYS) do declared[k] = true end
local function need(key)
  if not declared[key] then
    declared[key] = true
    needed[#needed + 1] = key
  end
  return key
end
local function missing()
  if #needed == 0 then return nil end
  local out = {NEED}
  for _, key in ipairs(needed) do out[#out + 1] = key end
  return out
end
"""
)
_NEEDS = (NEED.encode(), NEED)


class Call(NamedTuple):
    """One Redis round trip, described: a command, and what to make of its reply."""

    # Its arguments, or the whole command in RESP (`redisio.wire`).
    args: Command
    # The Lua source, when `args` is an EVALSHA: it is EVALed when Redis lacks it.
    script: str | None = None
    convert: Callable[[Any], Any] | None = None
    # Changes data that must survive a failover: with REDIS_WAIT_REPLICAS set,
    # replicas confirm it before it counts as done.
    write: bool = False
    # A script with DECLARE_PRELUDE: its reply may ask for more keys.
    declares: bool = False

    def result(self, reply: Any) -> Any:
        return reply if self.convert is None else self.convert(reply)

    def fallback(self) -> tuple:
        """The EVAL that stands in for this EVALSHA when Redis has no such script."""
        return ("EVAL", self.script, *self.args[2:])

    def widened(self, reply: Any) -> Call | None:
        """This call with the keys its script asked for in `reply` added to KEYS,
        or None when the reply is its answer (see DECLARE_PRELUDE)."""
        if not (type(reply) is list and reply and reply[0] in _NEEDS):
            return None
        n = int(self.args[2])
        keys, rest = self.args[3 : 3 + n], self.args[3 + n :]
        extra = reply[1:]
        args = (*self.args[:2], n + len(extra), *keys, *extra, *rest)
        return self._replace(args=args)


def too_wide(call: Call) -> Exception:
    """The error of a call that asked for more keys WIDEN_ROUNDS times."""
    return RuntimeError(f"script {call.args[1]!r} kept asking for more keys")


# A generator of the round trips an operation needs: it yields each Call, is sent its
# result, and returns its own (service functions, StashStore.page and .scan). On
# Redis Cluster a step may be a list of Calls (one per stash bucket), sent the list
# of their results: the cluster clients run them at once.
Steps = Generator[Call, Any, T]


class Script:
    """A Lua script; calling it with keys and arguments describes an EVALSHA."""

    def __init__(
        self,
        source: str,
        convert: Callable[[Any], Any] | None = None,
        *,
        write: bool = True,
    ) -> None:
        # Scripts that ask for keys say so by starting with the prelude.
        self.declares = source.startswith(DECLARE_PRELUDE)
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()
        self.convert = convert
        # False for scripts that read, though they may tidy expired entries on the
        # way: losing such tidying in a failover loses nothing.
        self.write = write

    def __call__(self, keys: list, args: list) -> Call:
        return Call(
            ("EVALSHA", self.sha, len(keys), *keys, *args),
            self.source,
            self.convert,
            self.write,
            self.declares,
        )


def text(reply: bytes | str) -> str:
    """A Redis string reply as text, whether the client decodes replies or not."""
    return reply.decode() if isinstance(reply, bytes) else reply


def info(section: str) -> Call:
    """``INFO <section>`` as a dict of its fields (text), for metrics."""

    def fields(reply: bytes | str) -> dict[str, str]:
        out = {}
        for line in text(reply).splitlines():
            name, colon, value = line.partition(":")
            if colon and not name.startswith("#"):
                out[name] = value.strip()
        return out

    return Call(("INFO", section), convert=fields)
