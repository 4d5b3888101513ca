"""Every Redis key stashd writes, spelled here and nowhere else.

Layout (``P`` is ``STASHD_KEY_PREFIX``)::

    P:{stashes}:s:<path>     string   a stash's content (compact JSON), with its TTL
    P:{stashes}:index        zset     every stash path, score 0: code-point order
    P:{stashes}:expiry       zset     path -> deadline (Unix ms) of stashes with a TTL

    On Redis Cluster, stashes are split into STASH_BUCKETS buckets by a hash of the
    path, each with the same three kinds of key under a tag of its own:
    P:{stashes.<k>}:s:<path>, P:{stashes.<k>}:index, P:{stashes.<k>}:expiry.
    There too, {accounts} is {accounts.<k>} and {namespaces} is {namespaces.<k>}.

    P:{ns:<ns>}:namespace        string   present while namespace <ns> exists
    P:{ns:<ns>}:assets           zset     asset names of <ns>, score 0: byte order
    P:{ns:<ns>}:asset:<name>     hash     one asset: its JSON and its ETag
    P:{namespaces}:index         zset     every namespace name, score 0

    P:{ns:<ns>}:silenced          zset     silencing entry names of <ns>, score 0
    P:{ns:<ns>}:silenced-expiry   zset     name -> deadline (Unix ms), if it has one
    P:{ns:<ns>}:silence:<name>    hash     one silencing entry, expiring at its deadline
    P:{ns:<ns>}:silence-match:<name> string  what a match reads of that entry (begin,
                                          sides), expiring with it

    P:{ns:<ns>}:archive:<id>          hash   an archive record of <ns>: data (JSON),
                                          etag, deleted_at (empty while live),
                                          last_download_at, scan (its blob's scan
                                          verdict as JSON, copied) and scan_rank
    P:{ns:<ns>}:archives              zset   live archive ids of <ns>, score 0: id order
    P:{ns:<ns>}:archive-trash         zset   trashed archive ids of <ns>, score 0
    P:{ns:<ns>}:archives-by:<sort>    zset   "<key>\0<id>" of every record of <ns>, live
                                          or trashed, score 0: sort is created_at,
                                          size or filename (keys padded to sort)
    P:{ns:<ns>}:archive-refs:<id>     set    names of the assets of <ns> naming <id>
    P:{ns:<ns>}:archive-aliases:<id>  set    the aliases archive <id> holds in <ns>
    P:{ns:<ns>}:archive-alias:<path>  string the archive id alias <path> points at
    P:{archives}:blob:<id>            hash   unheld_since: when GC first saw no record
    P:{archives}:gc-lock              string the process running GC, with an expiry
    P:{archives}:scan:<id>            hash   the scan verdict of blob <id>: gen (bumped
                                          at each queueing), state, scanned_at, detail,
                                          done (the gen the verdict is of)
    P:{archives}:scan-queue           zset   blob ids to scan -> when a worker may take
                                          it (now when queued; a lease's end when taken)
    P:{archives}:scan-seed-lock       string the process queueing unscanned blobs at
                                          start, with an expiry
    P:{ns:<ns>}:share:<share id>      hash   a share token of <ns>: digest (SHA-256 of
                                          its secret), archive, expires_at, note,
                                          created_by, created_at; expiring with it
    P:{ns:<ns>}:archive-shares:<id>   zset   share ids of archive <id> -> expires_at;
                                          expiring with the last of them
    P:{archives}:mirror-lock:<id>     string the process fetching mirrored archive <id>
                                          from its upstream, with an expiry

    P:{accounts}:user:<name>     hash     password (scrypt), created_at, generated
    P:{accounts}:users           zset     every user name, score 0
    P:{accounts}:apikey:<sha>    hash     username, created_at, created_by
    P:{accounts}:apikeys         zset     the SHA-256 digests of every API key
    P:{accounts}:access:<sha>    hash     username, expires_at (kept past expiry for
                                          refreshes, until the refresh token's end)
    P:{accounts}:refresh:<sha>   string   username, with the refresh token's TTL
    P:{accounts}:tokens:<name>   zset     key of each access and refresh token of user
                                          <name> -> when its record ends (Unix s)
    P:{accounts}:failures:<addr> string   failed credential checks from client address
                                          <addr>, expiring at the end of its window
    P:{accounts}:configured-key  string   digest of the STASHD_API_KEY last registered
    P:{accounts}:configured-user string   the STASHD_API_USER of the last start
    P:{accounts}:seeded          string   set once the fresh deployment was seeded

A stash write changes its content key and both sorted sets in one script, and Redis
Cluster runs a script only when all its keys share a slot: the ``{stashes}`` hash tag
puts them in one. Likewise every key of one namespace carries ``{ns:<ns>}`` (namespace
names cannot contain braces), so an asset, its namespace's index and the namespace's
existence change together in one script. The list of namespaces lives apart, yet
a namespace's create and delete are each one script over its marker and the list,
except on Redis Cluster, where the two are in different slots: there each is two
steps (namespaces/store.py). An archive record, its indexes, aliases and reference
sets share the tag too: an upload that also writes an asset changes all of them,
and the asset's own writes keep the reference sets, each in one script. A share
token and its archive's share index share it as well, so a purge revokes them in
its own script. Every blob's scan verdict and the scan queue share ``{archives}``:
taking, finishing and requeueing a scan are each one script.
Silencing entries share their namespace's tag for the same reason: a Sensu Go write
checks that the namespace exists in the script that stores the entry.
Every account key shares ``{accounts}``: a credential lookup reads the failures of
the client's address in the same script, and deleting a user or changing its
password revokes its keys and tokens in one step.
Secrets (API keys, tokens) are stored as SHA-256 digests only, never as they are.
A stash write is one script within its bucket; on Redis Cluster the buckets' tags
are chosen so that their slots fall evenly over the slot space, so the buckets of a
fresh cluster spread evenly over its primaries.
The prefix cannot contain ``:``, so deployments never share a key.
Changing any pattern here strands stored data: it needs a CHANGELOG entry.
"""

from __future__ import annotations

import zlib
from typing import NamedTuple

from redis.crc import key_slot

# Stash buckets on Redis Cluster (one elsewhere: today's keys). Fixed: changing it
# strands every stash.
STASH_BUCKETS = 16
_SLOTS = 16384


class StashKeys(NamedTuple):
    """The keys of one stash bucket: its index (of paths), expiry schedule and
    content key prefix."""

    paths: str
    expiry: str
    prefix: str


def stash_tags(buckets: int) -> list[str]:
    """The hash tag of each stash bucket: ``stashes`` for one; else ``stashes.<k>``,
    the first k whose slot falls in the bucket's share of the slot space."""
    if buckets == 1:
        return ["stashes"]
    return [spread_tag("stashes", share, buckets) for share in range(buckets)]


def spread_tag(name: str, share: int, shares: int) -> str:
    """``<name>.<k>`` for the first k whose slot is in share `share` of `shares`
    equal shares of the slot space."""
    k = 0
    while key_slot(f"{name}.{k}".encode()) * shares // _SLOTS != share:
        k += 1
    return f"{name}.{k}"


def stash_bucket(path: str, buckets: int) -> int:
    """The bucket of the stash at `path`: a CRC-32 of it, so any client agrees."""
    return zlib.crc32(path.encode()) % buckets


class Keys:
    """The keyspace of one deployment, under its key prefix."""

    def __init__(self, prefix: str, cluster: bool = False) -> None:
        # On Redis Cluster, the tags of the accounts and of the namespace list fall
        # in the first and second third of the slots, and {ns:default} in the last:
        # a fresh 3-primary cluster holds one each.
        accounts_tag = spread_tag("accounts", 0, 3) if cluster else "accounts"
        namespaces_tag = spread_tag("namespaces", 1, 3) if cluster else "namespaces"
        stashes = f"{prefix}:{{stashes}}:"
        self.stash_index: str = stashes + "index"
        self.stash_expiry: str = stashes + "expiry"
        # Content keys are this plus the path; scripts that walk the index add it.
        self.stash_prefix: str = stashes + "s:"

        self.namespace_index: str = f"{prefix}:{{{namespaces_tag}}}:index"
        self._prefix = prefix
        accounts = f"{prefix}:{{{accounts_tag}}}:"
        self.apikey_index: str = accounts + "apikeys"
        self.user_index: str = accounts + "users"
        self.configured_key: str = accounts + "configured-key"
        self.configured_user: str = accounts + "configured-user"
        self.seeded: str = accounts + "seeded"
        self._accounts = accounts
        self.archives_gc_lock: str = f"{prefix}:{{archives}}:gc-lock"
        self.scan_queue: str = f"{prefix}:{{archives}}:scan-queue"
        self.scan_seed_lock: str = f"{prefix}:{{archives}}:scan-seed-lock"
        # Scan verdict hashes are this plus the blob's id; queue scripts add it.
        self.scan_prefix: str = f"{prefix}:{{archives}}:scan:"

    def stash(self, path: str) -> str:
        """The key holding the content of the stash at `path`."""
        return self.stash_prefix + path

    def stash_buckets(self, buckets: int) -> list[StashKeys]:
        """The keys of each of `buckets` stash buckets; for one, today's keys."""
        return [
            StashKeys(f"{t}index", f"{t}expiry", f"{t}s:")
            for t in (f"{self._prefix}:{{{tag}}}:" for tag in stash_tags(buckets))
        ]

    def namespace(self, ns: str) -> str:
        """Present while namespace `ns` exists; asset writes check it atomically."""
        return f"{self._prefix}:{{ns:{ns}}}:namespace"

    def asset_index(self, ns: str) -> str:
        """The sorted set of the asset names in namespace `ns`."""
        return f"{self._prefix}:{{ns:{ns}}}:assets"

    def asset_prefix(self, ns: str) -> str:
        """Asset hashes of namespace `ns` are this plus the name."""
        return f"{self._prefix}:{{ns:{ns}}}:asset:"

    def asset(self, ns: str, name: str) -> str:
        """The hash holding asset `name` of namespace `ns`."""
        return self.asset_prefix(ns) + name

    def silenced_index(self, ns: str) -> str:
        """The sorted set of the silencing entry names in namespace `ns`."""
        return f"{self._prefix}:{{ns:{ns}}}:silenced"

    def silenced_expiry(self, ns: str) -> str:
        """Entry name -> deadline (Unix ms) of the entries of `ns` that expire."""
        return f"{self._prefix}:{{ns:{ns}}}:silenced-expiry"

    def silence_prefix(self, ns: str) -> str:
        """Silencing entry hashes of namespace `ns` are this plus the name."""
        return f"{self._prefix}:{{ns:{ns}}}:silence:"

    def silence(self, ns: str, name: str) -> str:
        """The hash holding silencing entry `name` of namespace `ns`."""
        return self.silence_prefix(ns) + name

    def silence_match_prefix(self, ns: str) -> str:
        """What a match reads of an entry of namespace `ns`: this plus its name."""
        return f"{self._prefix}:{{ns:{ns}}}:silence-match:"

    def silence_match(self, ns: str, name: str) -> str:
        """The string a match reads of silencing entry `name` of namespace `ns`."""
        return self.silence_match_prefix(ns) + name

    def archive_prefix(self, ns: str) -> str:
        """Archive record hashes of namespace `ns` are this plus the id."""
        return f"{self._prefix}:{{ns:{ns}}}:archive:"

    def archive(self, ns: str, archive_id: str) -> str:
        """The hash holding the record of archive `archive_id` in namespace `ns`."""
        return self.archive_prefix(ns) + archive_id

    def archive_index(self, ns: str) -> str:
        """The sorted set of the live archive ids of namespace `ns`."""
        return f"{self._prefix}:{{ns:{ns}}}:archives"

    def archive_trash(self, ns: str) -> str:
        """The sorted set of the trashed archive ids of namespace `ns` (score 0)."""
        return f"{self._prefix}:{{ns:{ns}}}:archive-trash"

    def archive_sort_prefix(self, ns: str) -> str:
        """The sort indexes of namespace `ns` are this plus the sort key's name."""
        return f"{self._prefix}:{{ns:{ns}}}:archives-by:"

    def archive_refs_prefix(self, ns: str) -> str:
        """Reference sets of namespace `ns` are this plus the archive id; asset
        scripts add the ids an asset names to it."""
        return f"{self._prefix}:{{ns:{ns}}}:archive-refs:"

    def archive_refs(self, ns: str, archive_id: str) -> str:
        """The names of the assets of `ns` that name archive `archive_id`."""
        return self.archive_refs_prefix(ns) + archive_id

    def archive_aliases_prefix(self, ns: str) -> str:
        """Alias sets of namespace `ns` are this plus the archive id."""
        return f"{self._prefix}:{{ns:{ns}}}:archive-aliases:"

    def archive_aliases(self, ns: str, archive_id: str) -> str:
        """The set of the aliases archive `archive_id` holds in namespace `ns`."""
        return self.archive_aliases_prefix(ns) + archive_id

    def archive_sort(self, ns: str, sort: str) -> str:
        """The sort index of namespace `ns` by `sort` (created_at, size, filename)."""
        return self.archive_sort_prefix(ns) + sort

    def archive_alias_prefix(self, ns: str) -> str:
        """Alias keys of namespace `ns` are this plus the alias path."""
        return f"{self._prefix}:{{ns:{ns}}}:archive-alias:"

    def archive_alias(self, ns: str, path: str) -> str:
        """The archive id alias `path` of namespace `ns` points at."""
        return self.archive_alias_prefix(ns) + path

    def blob(self, archive_id: str) -> str:
        """What GC remembers of the blob of `archive_id` (spec archives.md 4.3)."""
        return f"{self._prefix}:{{archives}}:blob:{archive_id}"

    def scan(self, archive_id: str) -> str:
        """The scan verdict of the blob of `archive_id` (spec archives.md 10)."""
        return self.scan_prefix + archive_id

    def share_prefix(self, ns: str) -> str:
        """Share token hashes of namespace `ns` are this plus the share id."""
        return f"{self._prefix}:{{ns:{ns}}}:share:"

    def share(self, ns: str, share_id: str) -> str:
        """The hash of share `share_id` of namespace `ns` (spec archives.md 11)."""
        return self.share_prefix(ns) + share_id

    def archive_shares_prefix(self, ns: str) -> str:
        """Share indexes of archives of namespace `ns` are this plus the id."""
        return f"{self._prefix}:{{ns:{ns}}}:archive-shares:"

    def archive_shares(self, ns: str, archive_id: str) -> str:
        """Share id -> expires_at of the shares of archive `archive_id` in `ns`."""
        return self.archive_shares_prefix(ns) + archive_id

    def mirror_lock(self, archive_id: str) -> str:
        """Held by the one process fetching `archive_id` from upstream (12.2)."""
        return f"{self._prefix}:{{archives}}:mirror-lock:{archive_id}"

    def user(self, name: str) -> str:
        """The hash of user `name`."""
        return self._accounts + "user:" + name

    def apikey(self, digest: str) -> str:
        """The hash of the API key whose SHA-256 hex digest is `digest`."""
        return self._accounts + "apikey:" + digest

    def access_token(self, digest: str) -> str:
        """The hash of the access token whose SHA-256 hex digest is `digest`."""
        return self._accounts + "access:" + digest

    def refresh_token(self, digest: str) -> str:
        """The user of the refresh token whose SHA-256 hex digest is `digest`."""
        return self._accounts + "refresh:" + digest

    def tokens(self, name: str) -> str:
        """The keys of user `name`'s access and refresh tokens, so they can be
        revoked with the user."""
        return self._accounts + "tokens:" + name

    def failures(self, address: str) -> str:
        """The failed credential checks of client `address` in its current window."""
        return self._accounts + "failures:" + address
