"""Namespaces in Redis: a marker key per namespace, and the list of every name.

The marker carries the namespace's hash tag, so asset scripts check it in the same
atomic step as the asset. The list of names lives in another Redis Cluster slot, so
no script can change both: the marker is written first and removed first, and a
namespace that exists but is missing from the list is put back by the next create.
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


# KEYS[1] namespace marker, KEYS[2] its asset index.
_DELETE = Script(
    """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('ZCARD', KEYS[2]) > 0 then return -1 end
redis.call('DEL', KEYS[1])
return 1
""",
    convert=DeleteOutcome,
)


def _names_batch(reply: list) -> Batch:
    names = [text(name) for name in reply]
    return Batch(names, names[-1] if len(names) == BATCH else None)


class NamespaceStore:
    """The namespaces of one deployment."""

    def __init__(self, keys: Keys) -> None:
        self.keys = keys

    def exists(self, ns: str) -> Call:
        """True while namespace `ns` exists. One EXISTS."""
        return Call(("EXISTS", self.keys.namespace(ns)), convert=bool)

    def create(self, ns: str) -> Steps[bool]:
        """Create `ns`; False when it existed (then only the list is repaired)."""
        created = yield Call(("SET", self.keys.namespace(ns), "1", "NX"), convert=bool)
        yield Call(("ZADD", self.keys.namespace_index, 0, ns))
        return created

    def delete(self, ns: str) -> Steps[DeleteOutcome]:
        """Delete `ns` if it holds no assets; the list follows the marker."""
        outcome = yield _DELETE(
            [self.keys.namespace(ns), self.keys.asset_index(ns)], []
        )
        if outcome is not DeleteOutcome.NOT_EMPTY:
            yield Call(("ZREM", self.keys.namespace_index, ns))
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
