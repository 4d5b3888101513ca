"""Archive records in Redis. No HTTP and no Redis calls: methods describe round
trips (`redisio.calls`) for the caller's client to run.

A record is a hash (its stored fields as JSON, an ETag, ``deleted_at``,
``last_download_at``) beside its namespace's live and trash indexes, its alias set
and the alias keys, and the reference sets the asset scripts keep
(`redisio.assetrefs`). They all share the namespace's hash tag, so an upload that
also writes an asset, a delete, a restore and a purge are each one script (spec
archives.md 4.2). Record writes are compare-and-set on the ETag: the caller reads,
computes, writes, and tries again when another write came between. The Lua is in
`archives.scripts` (a record's reads and writes), `archives.trash_scripts` (trash,
restore, purge) and `archives.list_scripts` (pages, count, backfill). A bundle
import is `archives.import_store`'s; the locks and blob bookkeeping of background
work are `archives.upkeep_calls`'s, and the calls that walk the indexes
`archives.list_calls`'s.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from archives import scripts, trash_scripts
from archives.list_calls import ListCalls, record_view, sort_members
from archives.schemas import RecordView, Stored
from archives.scripts import WriteOutcome
from archives.trash_scripts import Purged, RestoreOutcome, TrashOutcome
from archives.upkeep_calls import UpkeepCalls
from redisio.calls import Call, text
from redisio.keys import Keys


class AssetWrite(NamedTuple):
    """An asset written in the same step as a record: compare-and-set on its ETag
    (`expected` empty: it must not exist)."""

    name: str
    json: bytes
    etag: str
    expected: str
    ids: list[str]  # the archive ids the new asset names


class ArchiveStore(UpkeepCalls, ListCalls):
    """The archive records of one deployment."""

    def __init__(self, keys: Keys) -> None:
        self.keys = keys

    def _alias_prefixes(self, ns: str) -> list[str]:
        k = self.keys
        return [k.archive_alias_prefix(ns), k.archive_aliases_prefix(ns)]

    def get(self, ns: str, archive_id: str) -> Call:
        """The record of `archive_id` in `ns` as a RecordView, or None."""
        keys = [prefix + archive_id for prefix in self._prefixes(ns)]
        args = [*self._prefixes(ns), archive_id]
        return scripts.GET(keys, args)._replace(convert=record_view)

    def asset(self, ns: str, name: str) -> Call:
        """(json, etag) of asset `name` of `ns`, or None: what an upload with
        ``asset=`` starts from (its write is a compare-and-set on that ETag)."""

        def convert(reply: list) -> tuple[bytes, str] | None:
            data, etag = reply
            return None if data is None else (data, text(etag or b""))

        key = self.keys.asset(ns, name)
        return Call(("HMGET", key, "json", "etag"), convert=convert)

    def alias(self, ns: str, path: str) -> Call:
        """The id alias `path` of `ns` points at, or None."""
        key = self.keys.archive_alias(ns, path)
        return Call(("GET", key), convert=lambda r: None if r is None else text(r))

    def write(
        self,
        ns: str,
        archive_id: str,
        stored: Stored,
        etag: str,
        expected: str,
        aliases: list[str],
        replace_aliases: bool = False,
        asset: AssetWrite | None = None,
    ) -> Call:
        """Store a record (live), its aliases and optionally an asset, in one step,
        if the record's ETag is still `expected` (and the asset's its own): a
        `WriteOutcome`."""
        k = self.keys
        keys = self._write_keys(ns, archive_id)
        args: list[Any] = [
            *self._alias_prefixes(ns),
            archive_id,
            json.dumps(stored, separators=(",", ":")),
            etag,
            expected,
            "replace" if replace_aliases else "add",
            k.archive_sort_prefix(ns),
            *sort_members(archive_id, stored),
            len(aliases),
            *aliases,
        ]
        if asset is not None:
            keys += [k.asset_index(ns), k.asset(ns, asset.name)]
            args += [
                asset.name,
                asset.json,
                asset.etag,
                asset.expected,
                k.archive_refs_prefix(ns),
                " ".join(asset.ids),
            ]
        # Declared up front: the keys the arguments name; the script asks for
        # those it learns of from the data (DECLARE_PRELUDE).
        keys += self._sorts(ns)
        keys += [k.archive_alias(ns, alias) for alias in aliases]
        if asset is not None:
            keys += [k.archive_refs(ns, i) for i in asset.ids]
        return scripts.WRITE(keys, args)

    def _write_keys(self, ns: str, archive_id: str) -> list[str]:
        k = self.keys
        return [
            k.namespace(ns),
            k.archive(ns, archive_id),
            k.archive_index(ns),
            k.archive_trash(ns),
            k.archive_aliases(ns, archive_id),
        ]

    def _sorts(self, ns: str) -> list[str]:
        return [self.keys.archive_sort(ns, sort) for sort in scripts.SORTS]

    def _state_keys(self, ns: str, archive_id: str) -> list[str]:
        k = self.keys
        return [
            k.archive(ns, archive_id),
            k.archive_index(ns),
            k.archive_trash(ns),
            k.archive_aliases(ns, archive_id),
            k.archive_refs(ns, archive_id),
        ]

    def trash(self, ns: str, archive_id: str, now: int, etag: str, force: bool) -> Call:
        """Move a live record to the trash (its aliases stop resolving): a
        `TrashOutcome`; without `force`, not while an asset of `ns` names it."""
        args = [
            *self._alias_prefixes(ns),
            archive_id,
            now,
            etag,
            "force" if force else "",
        ]
        return trash_scripts.TRASH(self._state_keys(ns, archive_id), args)

    def restore(self, ns: str, archive_id: str, etag: str) -> Call:
        """Bring a trashed record back with the aliases nobody took: a
        `RestoreOutcome`."""
        keys = self._state_keys(ns, archive_id)[:4]
        return trash_scripts.RESTORE(
            keys, [*self._alias_prefixes(ns), archive_id, etag]
        )

    def purge(self, ns: str, archive_id: str, trashed_before: int | None) -> Call:
        """Remove a record for good, revoking its shares: a `Purged` (code 1 done,
        0 absent or not due, -1 referenced), holding what it removed.

        With `trashed_before`, only a record trashed by then that no asset of `ns`
        names (GC); without, whatever its state (``purge=true``).
        """
        k = self.keys
        cutoff = "" if trashed_before is None else str(trashed_before)
        args = [
            *self._alias_prefixes(ns),
            archive_id,
            cutoff,
            k.archive_sort_prefix(ns),
            k.share_prefix(ns),
        ]
        keys = [*self._state_keys(ns, archive_id), k.archive_shares(ns, archive_id)]
        return trash_scripts.PURGE([*keys, *self._sorts(ns)], args)

    def put_back(self, ns: str, archive_id: str, removed: Purged, now: int) -> Call:
        """Undo the purge of a trashed record: it is back in the trash, with its
        aliases and unexpired shares, unless a record of the id exists again; True
        when put back."""
        k = self.keys
        args: list[Any] = [
            archive_id,
            k.archive_sort_prefix(ns),
            k.share_prefix(ns),
            now,
            len(removed.fields),
            *removed.fields,
            len(removed.aliases),
            *removed.aliases,
            len(removed.shares),
        ]
        for share_id, fields in removed.shares:
            args += [share_id, len(fields), *fields]
        keys = [
            k.archive(ns, archive_id),
            k.archive_trash(ns),
            k.archive_aliases(ns, archive_id),
            k.archive_shares(ns, archive_id),
            *self._sorts(ns),
        ]
        keys += [k.share(ns, text(share_id)) for share_id, _ in removed.shares]
        return trash_scripts.PUT_BACK(keys, args)

    def load(
        self,
        ns: str,
        archive_id: str,
        view: RecordView,
    ) -> Call:
        """Store a record as a backup holds it (live or trashed, with its ETag,
        aliases and scan copy), replacing the record there: False when `ns` does
        not exist. A copy of a verdict made here stays (`ScanStore.load`)."""
        k = self.keys
        keys = self._write_keys(ns, archive_id)
        args: list[Any] = [
            *self._alias_prefixes(ns),
            archive_id,
            json.dumps(view.stored, separators=(",", ":")),
            view.etag,
            "" if view.deleted_at is None else view.deleted_at,
            "" if view.last_download_at is None else view.last_download_at,
            k.archive_sort_prefix(ns),
            *sort_members(archive_id, view.stored),
            len(view.aliases),
            *view.aliases,
            "" if view.scan is None else json.dumps(view.scan, separators=(",", ":")),
        ]
        keys += self._sorts(ns)
        keys += [k.archive_alias(ns, alias) for alias in view.aliases]
        return scripts.LOAD(keys, args)

    def touch(self, ns: str, archive_id: str, now: int) -> Call:
        """Note a download, at most once a minute (``last_download_at``)."""
        return scripts.TOUCH([self.keys.archive(ns, archive_id)], [now, 60])

    def refs(self, ns: str, archive_id: str) -> Call:
        """The names of the assets of `ns` naming `archive_id`."""
        key = self.keys.archive_refs(ns, archive_id)
        return Call(("SMEMBERS", key), convert=lambda r: sorted(text(n) for n in r))

    def exists(self, ns: str, archive_id: str) -> Call:
        """True when `ns` holds a record (live or trashed) of `archive_id`."""
        return Call(("EXISTS", self.keys.archive(ns, archive_id)), convert=bool)


__all__ = [
    "ArchiveStore",
    "AssetWrite",
    "Purged",
    "RestoreOutcome",
    "TrashOutcome",
    "WriteOutcome",
]
