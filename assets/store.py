"""Namespaces and assets in Redis. No HTTP in here.

Each asset is a hash (its JSON in Sensu's output shape, and its ETag); each namespace
has a sorted set of its asset names (score 0, so ``ZRANGEBYLEX`` gives byte order and
cursor paging) and a key that exists while the namespace does. Every asset write is
one script over those three keys, which share the namespace's hash tag: an asset is
never stored without its index entry, nor in a namespace that is gone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from redisio.clients import RedisClient
from redisio.keys import Keys

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


# Outcomes of the write scripts.
CREATED, REPLACED, EXISTS, NO_NAMESPACE, GONE, CHANGED = (
    "created",
    "replaced",
    "exists",
    "no namespace",
    "gone",
    "changed",
)

# KEYS[1] namespace marker, KEYS[2] asset index, KEYS[3] asset hash.
# ARGV: name, json, etag, "create" (fail if it exists) or "put" (create or replace).
_PUT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local existed = redis.call('EXISTS', KEYS[3])
if existed == 1 and ARGV[4] == 'create' then return 0 end
redis.call('DEL', KEYS[3])
redis.call('HSET', KEYS[3], 'json', ARGV[2], 'etag', ARGV[3])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
return 1 + existed
"""

# KEYS as _PUT. ARGV: name, json, etag, the ETag the change was computed from.
# The compare-and-swap of PATCH: 1 done, 0 gone, -1 changed meanwhile.
_SWAP = """
local current = redis.call('HGET', KEYS[3], 'etag')
if not current then return 0 end
if current ~= ARGV[4] then return -1 end
redis.call('HSET', KEYS[3], 'json', ARGV[2], 'etag', ARGV[3])
return 1
"""

# KEYS[1] asset index, KEYS[2] asset hash. ARGV: name.
_DELETE = """
redis.call('ZREM', KEYS[1], ARGV[1])
return redis.call('DEL', KEYS[2])
"""

# KEYS[1] asset index. ARGV: asset hash prefix, lex start, count.
# Returns {last name read ('' when the index ended), name, json, name, json...}.
_PAGE = """
local names = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[2], '+', 'LIMIT', 0, ARGV[3])
local out = {''}
if #names == tonumber(ARGV[3]) then out[1] = names[#names] end
for _, name in ipairs(names) do
  local json = redis.call('HGET', ARGV[1] .. name, 'json')
  if json then
    out[#out + 1] = name
    out[#out + 1] = json
  end
end
return out
"""

# KEYS[1] namespace marker, KEYS[2] asset index.
# 1 deleted, 0 no such namespace, -1 it still holds assets.
_DELETE_NAMESPACE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('ZCARD', KEYS[2]) > 0 then return -1 end
redis.call('DEL', KEYS[1])
return 1
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _after(cursor: str | None) -> str:
    return "-" if cursor is None else "(" + cursor


class AssetStore:
    """The namespaces and assets of one deployment."""

    def __init__(self, client: RedisClient, keys: Keys) -> None:
        self.redis = client
        self.keys = keys
        self._put = client.register_script(_PUT)
        self._swap = client.register_script(_SWAP)
        self._delete = client.register_script(_DELETE)
        self._page = client.register_script(_PAGE)
        self._delete_namespace = client.register_script(_DELETE_NAMESPACE)

    # Namespaces

    def namespace_exists(self, ns: str) -> bool:
        return bool(self.redis.exists(self.keys.namespace(ns)))

    def create_namespace(self, ns: str) -> bool:
        """Create `ns`; False when it existed (then nothing changes).

        Its marker comes first: the list of namespaces is another Cluster slot, and
        a namespace that exists but is missing from the list is repaired by a PUT.
        """
        created = bool(self.redis.set(self.keys.namespace(ns), "1", nx=True))
        self.redis.zadd(self.keys.namespace_index, {ns: 0})
        return created

    def delete_namespace(self, ns: str) -> int:
        """Delete `ns` if it holds no assets: 1 deleted, 0 absent, -1 not empty."""
        outcome = int(
            self._delete_namespace(
                keys=[self.keys.namespace(ns), self.keys.asset_index(ns)]
            )
        )
        if outcome == 0 or outcome == 1:
            self.redis.zrem(self.keys.namespace_index, ns)
        return outcome

    def iter_namespaces(self, after: str | None = None) -> Iterator[str]:
        """Namespace names in byte order, strictly after `after`."""
        start = _after(after)
        while True:
            names = [
                _text(n)
                for n in self.redis.zrangebylex(
                    self.keys.namespace_index, start, "+", 0, BATCH
                )
            ]
            yield from names
            if len(names) < BATCH:
                return
            start = "(" + names[-1]

    # Assets

    def get_asset(self, ns: str, name: str) -> StoredAsset | None:
        """Asset `name` of `ns`, or None. One HMGET."""
        json, etag = self.redis.hmget(self.keys.asset(ns, name), "json", "etag")
        if json is None:
            return None
        return StoredAsset(json, _text(etag or b""))

    def _keys(self, ns: str, name: str) -> list[str]:
        return [
            self.keys.namespace(ns),
            self.keys.asset_index(ns),
            self.keys.asset(ns, name),
        ]

    def put_asset(
        self, ns: str, name: str, json: bytes, etag: str, create: bool
    ) -> str:
        """Store an asset: CREATED or REPLACED; EXISTS (with `create`, nothing
        changed) or NO_NAMESPACE (nothing stored)."""
        outcome = int(
            self._put(
                keys=self._keys(ns, name),
                args=[name, json, etag, "create" if create else "put"],
            )
        )
        return {-1: NO_NAMESPACE, 0: EXISTS, 1: CREATED, 2: REPLACED}[outcome]

    def swap_asset(
        self, ns: str, name: str, old_etag: str, json: bytes, etag: str
    ) -> str:
        """Replace the asset if its ETag is still `old_etag`: REPLACED, GONE or
        CHANGED (then nothing is written)."""
        outcome = int(
            self._swap(keys=self._keys(ns, name), args=[name, json, etag, old_etag])
        )
        return {0: GONE, -1: CHANGED, 1: REPLACED}[outcome]

    def delete_asset(self, ns: str, name: str) -> bool:
        """Delete the asset; True when it existed. Of two deletes, one wins."""
        return bool(
            self._delete(
                keys=[self.keys.asset_index(ns), self.keys.asset(ns, name)],
                args=[name],
            )
        )

    def iter_assets(
        self, ns: str, after: str | None = None, batch: int = BATCH
    ) -> Iterator[ListedAsset]:
        """The assets of `ns` by name (byte order), strictly after `after`."""
        start = _after(after)
        prefix = self.keys.asset_prefix(ns)
        index = self.keys.asset_index(ns)
        while True:
            last, *flat = self._page(keys=[index], args=[prefix, start, batch])
            for i in range(0, len(flat), 2):
                yield ListedAsset(ns, _text(flat[i]), flat[i + 1])
            if not last:
                return
            start = "(" + _text(last)

    def iter_all_assets(
        self, after: str | None = None, batch: int = BATCH
    ) -> Iterator[ListedAsset]:
        """Assets of every namespace ordered by ``<namespace>/<name>``, strictly
        after `after` (such a key). Namespace names hold no ``/``, so that order is
        the namespaces sorted by ``<namespace>/``, each one's assets by name."""
        namespaces = sorted(self.iter_namespaces(), key=lambda ns: ns + "/")
        after_ns, _, after_name = (after or "").partition("/")
        for ns in namespaces:
            if after is not None:
                if ns + "/" < after_ns + "/":
                    continue
                if ns == after_ns:
                    yield from self.iter_assets(ns, after_name, batch)
                    continue
            yield from self.iter_assets(ns, None, batch)
