"""Silencing entries in Redis: one hash per entry, a name index and an expiry schedule.

Every key of a namespace carries its ``{ns:<ns>}`` hash tag (redisio.keys), so the
entry, both sorted sets and the namespace marker share a Cluster slot, and every
script names each key it touches in KEYS. Entry hashes expire by themselves at their
deadline (``PEXPIREAT``), so an expired entry is never read; lists purge the index
from the expiry schedule first, so their totals count live entries only. Beside each
entry, a match string holds what a match reads of it (scripts.PUT), written,
expiring and deleted with it. Deadlines and write times are Redis's clock (``TIME``);
a match compares the begin of a scheduled entry with stashd's. Nothing here runs a
command: each method describes its round trips (`redisio.calls`) for a client to run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable
from typing import NamedTuple

from redisio import wire
from redisio.calls import LIST_BUDGET, Call, Steps
from redisio.keys import Keys
from silenced import scripts

# Entries read per round trip when walking an index.
BATCH = 500

# Outcomes of a write.
NO_NAMESPACE, EXISTS, CREATED, REPLACED = -1, 0, 1, 2

# Namespaces whose match key prefix is kept at most.
_PREFIXES_KEPT = 1024

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
    rule: str = "v1"  # 'v1', 'go' or 'ttl' (see scripts.PUT)
    ttl_ms: int = 0  # with rule 'ttl': the remaining lifetime
    created: int | None = None  # None: now


class Candidate(NamedTuple):
    """An entry that would silence an event, named and with its two sides."""

    name: str
    subscription: str  # "" for an absent side
    check: str


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _same(batch: list[Stored]) -> list[Stored]:
    return batch


def _names(flat: Iterable[bytes | str]) -> list[str]:
    return [_text(name) for name in flat]


def _begun(facts: bytes, now: float) -> bool:
    """Whether the entry of match string `facts` has begun at `now`.

    The string holds a begin only while it is ahead (scripts.PUT), so only a
    scheduled entry is compared with stashd's clock, as Sensu compares it with
    its server's.
    """
    begin = facts[: facts.index(b":")]
    return not begin or int(begin) <= now


def _sides(facts: bytes) -> tuple[str, str]:
    """The stored subscription and check of match string `facts` ("" if absent)."""
    _, _, rest = facts.partition(b":")
    size, _, sides = rest.partition(b":")
    sub = sides[: int(size)]
    return sub.decode(), sides[len(sub) :].decode()


class SilencedStore:
    """The silencing entries of one deployment, by namespace. No HTTP in here.
    `v1_namespace` is the namespace the Sensu 1.x routes show (one registry)."""

    def __init__(self, keys: Keys, v1_namespace: str = "default") -> None:
        self.keys = keys
        self.v1_namespace = v1_namespace
        # Match strings' key prefixes by namespace: a match makes a dozen keys.
        self._match_prefixes: dict[str, str] = {}

    def _lists(self, ns: str) -> list[str]:
        return [self.keys.silenced_index(ns), self.keys.silenced_expiry(ns)]

    def _entry(self, ns: str, name: str) -> tuple[str, str]:
        """The keys of entry `name`: its hash and its match string."""
        return self.keys.silence(ns, name), self.keys.silence_match(ns, name)

    def _both(self, ns: str, names: list[str]) -> list[str]:
        """The hashes of `names`, then their match strings, in that order."""
        match = self.keys.silence_match_prefix(ns)
        return [*(self.keys.silence(ns, n) for n in names), *(match + n for n in names)]

    def put(
        self, ns: str, name: str, write: Write, create: bool, need_namespace: bool
    ) -> Call:
        """Store entry `name`: CREATED or REPLACED; EXISTS (with `create`, nothing
        changed) or NO_NAMESPACE (`need_namespace` and `ns` does not exist)."""
        keys = [*self._lists(ns), self.keys.namespace(ns), *self._entry(ns, name)]
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
        return scripts.PUT(keys, args)

    def delete(self, ns: str, name: str) -> Call:
        """Delete entry `name`; True when it existed. Of two deletes, one wins."""
        return scripts.DELETE([*self._lists(ns), *self._entry(ns, name)], [name])

    def fetch(self, ns: str, names: list[str]) -> Call:
        """How many of `names` were read (the first few, up to `LIST_BUDGET` bytes
        of fields), and the live entries among them, in order."""
        keys = [self.keys.silence(ns, name) for name in names]

        def convert(replies: list) -> tuple[int, list[Stored]]:
            out = []
            for name, reply in zip(names, replies, strict=False):
                if reply:
                    pttl, *flat = reply
                    fields = {
                        _text(flat[i]): _text(flat[i + 1])
                        for i in range(0, len(flat), 2)
                    }
                    out.append(Stored(ns, name, fields, pttl))
            return len(replies), out

        return scripts.FETCH(keys, [LIST_BUDGET])._replace(convert=convert)

    def _read(self, ns: str, names: list[str]) -> Steps[list[Stored]]:
        """The live entries of `names`, in order, a round trip per `LIST_BUDGET`."""
        found: list[Stored] = []
        while names:
            taken, entries = yield self.fetch(ns, names)
            found += entries
            names = names[taken:]
        return found

    def get(self, ns: str, name: str) -> Steps[Stored | None]:
        """Entry `name` of `ns`, or None (absent or expired). One round trip."""
        _, found = yield self.fetch(ns, [name])
        return found[0] if found else None

    def page(self, ns: str, offset: int, limit: int) -> Steps[tuple[int, list[Stored]]]:
        """The live count of `ns`, and its entries at ranks offset.. by name."""
        args = [min(offset, _MAX_RANK), min(limit, _MAX_RANK)]
        while True:
            done, total, *names = yield scripts.PAGE(self._lists(ns), args)
            if done:
                break
        if not names:
            return total, []
        found = yield from self._read(ns, _names(names))
        return total - (len(names) - len(found)), found

    def scan(
        self,
        ns: str,
        each: Callable[[list[Stored]], list[Stored]] = _same,
    ) -> Steps[list[Stored]]:
        """Every live entry of `ns` by name: a batch of names per round trip, then
        their entries in one or more (up to `LIST_BUDGET` each), each batch passed
        through `each` as it comes (a backup keeps none)."""
        entries: list[Stored] = []
        start = "-"
        while True:
            done, *names = yield scripts.NAMES(self._lists(ns), [start, BATCH])
            if not done:
                continue
            if names:
                entries += each((yield from self._read(ns, _names(names))))
            if len(names) < BATCH:
                return entries
            start = "(" + _text(names[-1])

    def exists(self, ns: str, name: str) -> Call:
        """True while entry `name` of `ns` is stored (expired ones are gone)."""
        return Call(("EXISTS", self.keys.silence(ns, name)), convert=bool)

    def count(self, ns: str) -> Call:
        """How many names the index of `ns` holds: live entries, and expired ones
        not yet purged. One ZCARD, for gauges and progress bars."""
        return Call(("ZCARD", self.keys.silenced_index(ns)))

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
        keys = [*self._lists(ns), *self._both(ns, names)]
        wanted = ["-" if v is None else v for v in (subscription, check)]
        cleared = yield scripts.CLEAR(keys, [*wanted, *names])
        return _names(cleared)

    def match_subscriptions(
        self, ns: str, subscriptions: Collection[str], check: str
    ) -> Call:
        """The names that silence now among Sensu 1.x's lookups for one event:
        ``<s>:*`` and ``<s>:<check>`` for each subscription, then ``*:<check>``.

        One MGET, as `match`, packed as it is made (`wire.pack_keys`: a
        handler's question is answered as often as a stash GET); the caller sees
        to it that no two subscriptions are the same.
        """
        prefix = self._match_prefixes.get(ns) or self._match_prefix(ns)
        sides = (":*", ":" + check)
        every = "*" + sides[1]
        command = wire.pack_keys("MGET", prefix, subscriptions, sides, every)

        def names(found: list[bytes | None]) -> list[str]:
            if not any(found):  # most events are not silenced
                return []
            now, heads, last = time.time(), list(subscriptions), len(found) - 1
            return [
                every if i == last else heads[i // 2] + sides[i % 2]
                for i, facts in enumerate(found)
                if facts is not None and _begun(facts, now)
            ]

        return Call(command, None, names)

    def _match_prefix(self, ns: str) -> str:
        if len(self._match_prefixes) >= _PREFIXES_KEPT:
            self._match_prefixes.clear()
        prefix = self._match_prefixes[ns] = self.keys.silence_match_prefix(ns)
        return prefix

    def match(self, ns: str, candidates: list[Candidate], by_fields: bool) -> Call:
        """The names of the candidates that exist and silence now (begin not ahead),
        by name alone or (`by_fields`, Sensu Go) by their stored sides too.

        One MGET of every candidate's match string, however many there are.
        """
        prefix = self.keys.silence_match_prefix(ns)

        def convert(found: list[bytes | None]) -> list[str]:
            now = time.time()
            return [
                c.name
                for c, facts in zip(candidates, found, strict=True)
                if facts is not None
                and _begun(facts, now)
                and (not by_fields or _sides(facts) == (c.subscription, c.check))
            ]

        return Call(("MGET", *[prefix + c.name for c in candidates]), convert=convert)

    def resolve(self, ns: str, candidates: list[Candidate], by_fields: bool) -> Call:
        """Delete, in one step, the matching candidates marked expire_on_resolve;
        their names."""
        keys = [*self._lists(ns), *self._both(ns, [c.name for c in candidates])]
        args = ["fields" if by_fields else "key"]
        args += [arg for c in candidates for arg in c]
        return scripts.RESOLVE(keys, args)._replace(convert=_names)
