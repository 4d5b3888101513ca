"""Namespaces in Redis: a marker key per namespace, and the list of every name.

The marker carries the namespace's hash tag, so asset scripts check it in the same
atomic step as the asset. Creating and deleting a namespace are each one script over
the marker and the list (as asset writes are), so no reader ever sees one without
the other; the scripts declare every key they touch (see redisio/keys.py on Cluster).
On Redis Cluster the marker and the list are in two slots, which no script may span:
there each is one step on the marker, then one on the list, so a reader may see a
namespace created or deleted a moment before it is listed or unlisted.
Nothing here talks to Redis: methods describe round trips for a client to run.
"""

from __future__ import annotations

import enum

from redisio.calls import Call, Script, Steps, text
from redisio.keys import Keys
from sensugo.paging import Batch, Batches, lex_start, take_page

# Names per round trip when walking the list.
BATCH = 1000


class DeleteOutcome(enum.Enum):
    """What deleting a namespace did; values are the delete script's replies."""

    DELETED = 1
    ABSENT = 0
    NOT_EMPTY = -1


# KEYS[1] namespace marker, KEYS[2] the namespace index; ARGV[1] the name.
# 1 when created, 0 when it existed (then a name missing from the index, as an
# earlier release could leave it, is put back).
_CREATE = Script(
    """
local created = redis.call('SET', KEYS[1], '1', 'NX') and 1 or 0
redis.call('ZADD', KEYS[2], 0, ARGV[1])
return created
""",
    convert=bool,
)

# `in_use(...)`: whether a namespace holds anything, given its asset index, silenced
# index, their expiry schedule (a silence past its deadline, not purged yet, does
# not count), and its live and trashed archive indexes.
_IN_USE_LUA = """
local function in_use(assets, silenced, schedule, live, trashed)
  if redis.call('ZCARD', assets) > 0 then return true end
  if redis.call('ZCARD', live) + redis.call('ZCARD', trashed) > 0 then return true end
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local dead = redis.call('ZCOUNT', schedule, '-inf', '(' .. now)
  return redis.call('ZCARD', silenced) - dead > 0
end
"""

# KEYS[1] namespace marker, KEYS[2] its asset index, KEYS[3] the namespace index,
# KEYS[4] its silenced index, KEYS[5] their expiry schedule, KEYS[6] and KEYS[7] its
# live and trashed archives (a record, trashed or not, keeps its namespace); ARGV[1]
# the name. A silence past its deadline (not purged yet) does not count. A name
# listed without its marker is unlisted all the same.
_DELETE = Script(
    _IN_USE_LUA
    + """
local existed = redis.call('EXISTS', KEYS[1])
if existed == 1 and in_use(KEYS[2], KEYS[4], KEYS[5], KEYS[6], KEYS[7]) then
  return -1
end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('DEL', KEYS[1])
return existed
""",
    convert=DeleteOutcome,
)


# The delete's first step on Redis Cluster: _DELETE without KEYS[3] (the list, in
# another slot). KEYS[1] marker, KEYS[2] asset index, KEYS[3] silenced index, KEYS[4]
# its expiry schedule, KEYS[5] and KEYS[6] live and trashed archives.
_UNMARK = Script(
    _IN_USE_LUA
    + """
local existed = redis.call('EXISTS', KEYS[1])
if existed == 1 and in_use(KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]) then
  return -1
end
redis.call('DEL', KEYS[1])
return existed
""",
    convert=DeleteOutcome,
)


def _names_batch(reply: list) -> Batch:
    names = [text(name) for name in reply]
    return Batch(names, names[-1] if len(names) == BATCH else None)


class NamespaceStore:
    """The namespaces of one deployment."""

    def __init__(self, keys: Keys, cluster: bool = False) -> None:
        self.keys = keys
        # On Redis Cluster the marker and the list are changed in two steps.
        self.cluster = cluster

    def exists(self, ns: str) -> Call:
        """True while namespace `ns` exists. One EXISTS."""
        return Call(("EXISTS", self.keys.namespace(ns)), convert=bool)

    def create(self, ns: str) -> Steps[bool]:
        """Create `ns` and list it, in one script; False when it existed."""
        if self.cluster:
            marker = self.keys.namespace(ns)
            created = yield Call(("SET", marker, "1", "NX"), convert=bool, write=True)
            yield Call(("ZADD", self.keys.namespace_index, 0, ns), write=True)
            return bool(created)
        created = yield self.create_call(ns)
        return bool(created)

    def create_call(self, ns: str) -> Call:
        """The one round trip of `create` on a single Redis, for callers that
        batch them."""
        return _CREATE([self.keys.namespace(ns), self.keys.namespace_index], [ns])

    def create_calls(self, ns: str) -> list[Call]:
        """The round trips of `create`, in order, for callers that batch them:
        on Redis Cluster the marker, then the list (as `create`)."""
        if not self.cluster:
            return [self.create_call(ns)]
        return [
            Call(("SET", self.keys.namespace(ns), "1", "NX"), write=True),
            Call(("ZADD", self.keys.namespace_index, 0, ns), write=True),
        ]

    def count(self) -> Call:
        """How many namespaces there are. One ZCARD."""
        return Call(("ZCARD", self.keys.namespace_index))

    def delete(self, ns: str) -> Steps[DeleteOutcome]:
        """Delete `ns` and unlist it, in one script, if it holds no assets, no
        live silences and no archive records."""
        keys = [
            self.keys.namespace(ns),
            self.keys.asset_index(ns),
            self.keys.namespace_index,
            self.keys.silenced_index(ns),
            self.keys.silenced_expiry(ns),
            self.keys.archive_index(ns),
            self.keys.archive_trash(ns),
        ]
        if not self.cluster:
            outcome: DeleteOutcome = yield _DELETE(keys, [ns])
            return outcome
        del keys[2]
        outcome = yield _UNMARK(keys, [])
        if outcome is not DeleteOutcome.NOT_EMPTY:
            yield Call(("ZREM", self.keys.namespace_index, ns), write=True)
        return outcome

    def batches(self, after: str | None = None) -> Batches:
        """Namespace names in byte order, strictly after `after`."""
        return Batches(self._batch, after)

    def _batch(self, after: str | None) -> Call:
        args = ("ZRANGEBYLEX", self.keys.namespace_index, lex_start(after), "+")
        return Call((*args, "LIMIT", 0, BATCH), convert=_names_batch)

    def names(self) -> Steps[list[str]]:
        """Every namespace name in byte order, a batch per round trip."""
        names, _ = yield from take_page(self.batches(), None)
        return names
