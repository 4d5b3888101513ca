"""Assets in Redis. No HTTP in here, and no Redis calls either: methods describe
round trips (`redisio.calls`) for the caller's client to run.

Each asset is a hash (its JSON in Sensu's output shape, and its ETag); each namespace
has a sorted set of its asset names (score 0, so ``ZRANGEBYLEX`` gives byte order and
cursor paging) and a key that exists while the namespace does (`namespaces.store`).
Every asset write is one script over those three keys, which share the namespace's
hash tag: an asset is never stored without its index entry, nor in a namespace that
is gone. The same script keeps the reference sets of the archive ids the asset names
(`redisio.assetrefs`), so the archives API knows which archives are in use.
"""

from __future__ import annotations

import enum
import json as jsonlib
from typing import Any, NamedTuple

from redisio.assetrefs import REFS_LUA
from redisio.calls import DECLARE_PRELUDE, LIST_BUDGET, Call, Script, text
from redisio.keys import Keys
from sensugo.assets import referenced_ids
from sensugo.paging import Batch, Batches, lex_start

# Items per round trip when walking an index.
BATCH = 1000


class StoredAsset(NamedTuple):
    json: bytes  # the asset in Sensu's output shape, served as it is
    etag: str


class ListedAsset(NamedTuple):
    namespace: str
    name: str
    json: bytes

    @property
    def key(self) -> str:
        """The key lists of every namespace are ordered (and resumed) by."""
        return f"{self.namespace}/{self.name}"


class PutOutcome(enum.Enum):
    """What an asset write did; values are the write script's replies."""

    NO_NAMESPACE = -1  # nothing stored
    EXISTS = 0  # a create found one: nothing changed
    CREATED = 1
    REPLACED = 2


class SwapOutcome(enum.Enum):
    """What a compare-and-swap did; values are the swap script's replies."""

    CHANGED = -1  # the ETag was another: nothing written
    GONE = 0
    REPLACED = 1


# KEYS[1] namespace marker, KEYS[2] asset index, KEYS[3] asset hash, then the
# reference sets it touches (DECLARE_PRELUDE). ARGV: name, json, etag, "create"
# (fail if it exists) or "put" (create or replace), the namespace's reference set
# prefix, the archive ids the asset names.
_PUT = Script(
    DECLARE_PRELUDE
    + REFS_LUA
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local existed = redis.call('EXISTS', KEYS[3])
if existed == 1 and ARGV[4] == 'create' then return 0 end
local old = redis.call('HGET', KEYS[3], 'json')
local refs = refs_plan(ARGV[5], old, ARGV[6])
local more = missing()
if more then return more end
redis.call('DEL', KEYS[3])
redis.call('HSET', KEYS[3], 'json', ARGV[2], 'etag', ARGV[3])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
refs_apply(refs, ARGV[1])
return 1 + existed
""",
    convert=PutOutcome,
)

# KEYS as _PUT. ARGV: name, json, etag, the ETag the change was computed from,
# then as _PUT. The compare-and-swap of PATCH.
_SWAP = Script(
    DECLARE_PRELUDE
    + REFS_LUA
    + """
local current = redis.call('HGET', KEYS[3], 'etag')
if not current then return 0 end
if current ~= ARGV[4] then return -1 end
local old = redis.call('HGET', KEYS[3], 'json')
local refs = refs_plan(ARGV[5], old, ARGV[6])
local more = missing()
if more then return more end
redis.call('HSET', KEYS[3], 'json', ARGV[2], 'etag', ARGV[3])
refs_apply(refs, ARGV[1])
return 1
""",
    convert=SwapOutcome,
)

# KEYS[1] asset index, KEYS[2] asset hash, then the reference sets it touches.
# ARGV: name, reference set prefix.
_DELETE = Script(
    DECLARE_PRELUDE
    + REFS_LUA
    + """
local refs = refs_plan(ARGV[2], redis.call('HGET', KEYS[2], 'json'), '')
local more = missing()
if more then return more end
redis.call('ZREM', KEYS[1], ARGV[1])
refs_apply(refs, ARGV[1])
return redis.call('DEL', KEYS[2])
""",
    convert=bool,
)

# KEYS[1] asset index, then the asset hashes it reads (DECLARE_PRELUDE: the first
# call of a batch declares none, and is told them). ARGV: asset hash prefix, lex
# start, count, budget (bytes). Returns {last name read ('' when the index ended),
# name, json, name, json...}: names stop before the JSON read would pass the
# budget, one asset at least, so a batch of big assets never holds up Redis (spec
# stashes.md 17.10).
_PAGE = Script(
    DECLARE_PRELUDE
    + """
local names = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[2], '+', 'LIMIT', 0, ARGV[3])
for _, name in ipairs(names) do need(ARGV[1] .. name) end
local more = missing()
if more then return more end
local budget, read, out = tonumber(ARGV[4]), 0, {''}
if #names == tonumber(ARGV[3]) then out[1] = names[#names] end
for i, name in ipairs(names) do
  local json = redis.call('HGET', ARGV[1] .. name, 'json')
  if json then
    if read > 0 and read + #json > budget then
      out[1] = names[i - 1]
      break
    end
    read = read + #json
    out[#out + 1] = name
    out[#out + 1] = json
  end
end
return out
""",
    write=False,
)


def _stored(reply: list) -> StoredAsset | None:
    json, etag = reply
    return None if json is None else StoredAsset(json, text(etag or b""))


class AssetStore:
    """The assets of one deployment."""

    def __init__(self, keys: Keys) -> None:
        self.keys = keys

    def _keys(self, ns: str, name: str) -> list[str]:
        return [
            self.keys.namespace(ns),
            self.keys.asset_index(ns),
            self.keys.asset(ns, name),
        ]

    def _refs(self, ns: str, json: bytes) -> tuple[list[str], list[str]]:
        """The reference sets a write of `json` adds to (declared up front: the
        script asks only for those of the old asset), and its arguments: prefix,
        ids it names."""
        ids = referenced_ids(jsonlib.loads(json))
        sets = [self.keys.archive_refs(ns, i) for i in ids]
        return sets, [self.keys.archive_refs_prefix(ns), " ".join(ids)]

    def get_asset(self, ns: str, name: str) -> Call:
        """Asset `name` of `ns` as a StoredAsset, or None. One HMGET."""
        key = self.keys.asset(ns, name)
        return Call(("HMGET", key, "json", "etag"), convert=_stored)

    def exists(self, ns: str, name: str) -> Call:
        """True while asset `name` of `ns` is stored. One EXISTS."""
        return Call(("EXISTS", self.keys.asset(ns, name)), convert=bool)

    def count(self, ns: str) -> Call:
        """How many assets `ns` holds. One ZCARD."""
        return Call(("ZCARD", self.keys.asset_index(ns)))

    def put_asset(
        self, ns: str, name: str, json: bytes, etag: str, create: bool
    ) -> Call:
        """Store an asset; a `PutOutcome` (with `create`, an existing one is kept)."""
        sets, refs = self._refs(ns, json)
        args = [name, json, etag, "create" if create else "put", *refs]
        return _PUT([*self._keys(ns, name), *sets], args)

    def swap_asset(
        self, ns: str, name: str, old_etag: str, json: bytes, etag: str
    ) -> Call:
        """Replace the asset if its ETag is still `old_etag`; a `SwapOutcome`."""
        sets, refs = self._refs(ns, json)
        args = [name, json, etag, old_etag, *refs]
        return _SWAP([*self._keys(ns, name), *sets], args)

    def delete_asset(self, ns: str, name: str) -> Call:
        """Delete the asset; True when it existed. Of two deletes, one wins."""
        keys = [self.keys.asset_index(ns), self.keys.asset(ns, name)]
        return _DELETE(keys, [name, self.keys.archive_refs_prefix(ns)])

    def assets(self, ns: str, after: str | None, count: int = BATCH) -> Batches:
        """The assets of `ns` by name (byte order), strictly after `after`."""
        return Batches(lambda name: self._batch(ns, name, count), after)

    def _batch(self, ns: str, after: str | None, count: int) -> Call:
        """`count` names of `ns` after `after`, as a Batch of ListedAsset; the next
        cursor is the last name read."""

        def convert(reply: list) -> Batch:
            last, *flat = reply
            items = [
                ListedAsset(ns, text(flat[i]), flat[i + 1])
                for i in range(0, len(flat), 2)
            ]
            return Batch(items, text(last) or None)

        index = self.keys.asset_index(ns)
        args = [self.keys.asset_prefix(ns), lex_start(after), count, LIST_BUDGET]
        return _PAGE([index], args)._replace(convert=convert)

    def every_asset(
        self, namespaces: list[str], after: str | None, count: int = BATCH
    ) -> Batches:
        """The assets of `namespaces` by ``<namespace>/<name>``, strictly after
        `after` (such a key). Namespace names hold no ``/``, so that order is the
        namespaces sorted by ``<namespace>/``, each one's assets by name."""
        after_ns, _, after_name = (after or "").partition("/")
        order = sorted(
            (ns for ns in namespaces if after is None or ns + "/" >= after_ns + "/"),
            key=lambda ns: ns + "/",
        )

        # The cursor: which namespace, and the name to resume after in it.
        def fetch(cursor: tuple[int, str | None]) -> Call | None:
            i, name = cursor
            if i == len(order):
                return None
            call = self._batch(order[i], name, count)

            def convert(reply: Any) -> Batch:
                batch = call.result(reply)
                return Batch(
                    batch.items,
                    (i + 1, None) if batch.next is None else (i, batch.next),
                )

            return call._replace(convert=convert)

        first = (
            after_name if after is not None and order and order[0] == after_ns else None
        )
        return Batches(fetch, (0, first))
