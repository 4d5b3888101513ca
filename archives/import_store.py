"""A bundle import's step in Redis (spec archives.md 13.2), which an asset mirror's
rewrite (12.3) shares: records and assets of one namespace stored together. No
HTTP and no Redis calls: it describes the round trip for the caller's client to
run. The Lua is in `archives.import_scripts`.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from archives import import_scripts
from archives.import_scripts import ANY_ETAG, ImportOutcome
from archives.list_calls import sort_members
from archives.schemas import Stored
from archives.scripts import SORTS
from archives.store import AssetWrite
from redisio.calls import Call
from redisio.keys import Keys


class ImportStore:
    """The bundle imports of one deployment."""

    def __init__(self, keys: Keys) -> None:
        self.keys = keys

    def import_bundle(
        self,
        ns: str,
        records: list[tuple[str, Stored]],
        assets: list[AssetWrite],
        on_conflict: str,
    ) -> Call:
        """Store a bundle's records and assets in one step (13.2): an
        `ImportOutcome`. A live record is kept as it is; an asset that exists is
        replaced, skipped, or (``fail``) stops the whole import unwritten. An
        asset whose `expected` is not `ANY_ETAG` is a compare-and-set:
        another ETag there stops the import unwritten too (``changed``)."""
        k = self.keys
        keys = [
            k.namespace(ns),
            k.archive_index(ns),
            k.archive_trash(ns),
            k.asset_index(ns),
        ]
        args: list[Any] = [
            k.archive_prefix(ns),
            k.archive_sort_prefix(ns),
            k.archive_alias_prefix(ns),
            k.archive_aliases_prefix(ns),
            k.archive_refs_prefix(ns),
            k.asset_prefix(ns),
            on_conflict,
            len(records),
        ]
        for archive_id, stored in records:
            args += [
                archive_id,
                json.dumps(stored, separators=(",", ":")),
                secrets.token_hex(16),
                *sort_members(archive_id, stored),
            ]
        args.append(len(assets))
        for asset in assets:
            args += [
                asset.name,
                asset.json,
                asset.etag,
                asset.expected,
                " ".join(asset.ids),
            ]
        # Declared up front: the keys the arguments name (DECLARE_PRELUDE).
        for archive_id, _ in records:
            keys += [k.archive(ns, archive_id), k.archive_aliases(ns, archive_id)]
        keys += [k.archive_sort(ns, sort) for sort in SORTS]
        for asset in assets:
            keys.append(k.asset(ns, asset.name))
            keys += [k.archive_refs(ns, i) for i in asset.ids]
        return import_scripts.IMPORT(keys, args)


__all__ = ["ANY_ETAG", "ImportOutcome", "ImportStore"]
