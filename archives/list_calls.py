"""The Redis calls that walk archives' indexes: pages of records (of one namespace
or of every one, in any sort order), whole indexes of ids and asset names, the
count, and the backfill of reference sets; with them the members of the sort
indexes, which record writes use too. Their Lua is in `archives.list_scripts`;
`ArchiveStore` takes them as its own.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from archives import list_scripts
from archives.scan_store import scan_of
from archives.schemas import RecordView, Stored
from redisio.calls import Call, text
from redisio.keys import Keys
from sensugo.paging import Batch, Batches, lex_start

BATCH = 500


def sort_members(archive_id: str, stored: Stored) -> list[str]:
    """The record's members of the created_at, size and filename indexes: the key
    in a form that sorts as text (file names hold no NUL), then the id."""
    return [
        f"{stored['created_at']:012d}\0{archive_id}",
        f"{stored['size']:016d}\0{archive_id}",
        f"{stored['filename']}\0{archive_id}",
    ]


def sort_member(item: ListedRecord, sort: str) -> str:
    """The member of `item` in the `sort` index (its id for the id order)."""
    if sort == "sha512":
        return item.id
    members = sort_members(item.id, item.view.stored)
    return members[["created_at", "size", "filename"].index(sort)]


def _int(value: bytes | str | None) -> int | None:
    return int(value) if value else None


def record_view(reply: list) -> RecordView | None:
    """A record as `archives.scripts.READ_LUA` reads it; None for an empty reply."""
    if not reply:
        return None
    data, etag, deleted_at, last_download, aliases, refs, *scan = reply
    stored: Stored = json.loads(data)
    return RecordView(
        stored,
        text(etag or b""),
        _int(deleted_at),
        _int(last_download),
        [text(a) for a in aliases],
        [text(r) for r in refs],
        scan_of(scan[0] if scan else None),
    )


class ListedRecord(NamedTuple):
    namespace: str
    id: str
    view: RecordView


class ListCalls:
    """Calls of the listings, describing round trips over `keys`."""

    keys: Keys

    def _prefixes(self, ns: str) -> list[str]:
        k = self.keys
        return [
            k.archive_prefix(ns),
            k.archive_aliases_prefix(ns),
            k.archive_refs_prefix(ns),
        ]

    def count(self, ns: str) -> Call:
        """How many records `ns` holds, live and trashed."""
        k = self.keys
        return list_scripts.COUNT([k.archive_index(ns), k.archive_trash(ns)], [])

    def trash_ids(self, ns: str) -> Call:
        """Every trashed id of `ns` (GC walks them)."""
        key = self.keys.archive_trash(ns)
        return Call(("ZRANGE", key, 0, -1), convert=lambda r: [text(i) for i in r])

    def records(
        self,
        ns: str,
        after: str | None,
        trash: bool,
        count: int,
        sort: str = "sha512",
        desc: bool = False,
    ) -> Batches:
        """The records of `ns` (live, or the trash) in `sort` order, ties by id,
        strictly after the member `after` (an id when sorted by id)."""
        return Batches(lambda a: self.batch(ns, a, trash, count, sort, desc), after)

    def every_record(
        self,
        namespaces: list[str],
        after: tuple[str, str | None] | None,
        trash: bool,
        count: int,
        sort: str = "sha512",
        desc: bool = False,
    ) -> Batches:
        """`records` of every namespace of `namespaces`, namespace by namespace
        (in byte order), strictly after `after`: (namespace, member)."""
        order = sorted(ns for ns in namespaces if after is None or ns >= after[0])

        # The cursor: which namespace, and the member to resume after in it.
        def fetch(cursor: tuple[int, str | None]) -> Call | None:
            i, last = cursor
            if i == len(order):
                return None
            call = self.batch(order[i], last, trash, count, sort, desc)

            def convert(reply: Any) -> Batch:
                batch = call.result(reply)
                following = (i + 1, None) if batch.next is None else (i, batch.next)
                return Batch(batch.items, following)

            return call._replace(convert=convert)

        first = (
            after[1] if after is not None and order and order[0] == after[0] else None
        )
        return Batches(fetch, (0, first))

    def batch(
        self,
        ns: str,
        after: str | None,
        trash: bool,
        count: int,
        sort: str = "sha512",
        desc: bool = False,
    ) -> Call:
        """One batch of `records`; the next cursor is the last member read."""

        def convert(reply: list) -> Batch:
            last, *flat = reply
            items = []
            for i in range(0, len(flat), 2):
                view = record_view(flat[i + 1])
                if view is not None:
                    items.append(ListedRecord(ns, text(flat[i]), view))
            return Batch(items, text(last) or None)

        k = self.keys
        state = ""
        if sort != "sha512":
            index = k.archive_sort(ns, sort)
            state = "trash" if trash else "live"
        else:
            index = k.archive_trash(ns) if trash else k.archive_index(ns)
        if desc:
            start = "+" if after is None else "(" + after
        else:
            start = lex_start(after)
        order = "desc" if desc else "asc"
        args = [*self._prefixes(ns), start, count, order, state]
        return list_scripts.PAGE([index], args)._replace(convert=convert)

    def backfill_refs(self, ns: str, after: str | None, count: int = BATCH) -> Call:
        """Add the references of `count` assets of `ns` after `after` (assets
        written before reference sets existed); the name to resume after, or None.
        Only adds: a reference too many keeps an archive, one too few loses it."""
        k = self.keys
        args = [k.asset_prefix(ns), k.archive_refs_prefix(ns), lex_start(after), count]
        return list_scripts.BACKFILL([k.asset_index(ns)], args)

    def asset_names(self, ns: str) -> Call:
        """Every asset name of `ns` (a bundle of all its assets)."""
        key = self.keys.asset_index(ns)
        return Call(("ZRANGE", key, 0, -1), convert=lambda r: [text(n) for n in r])

    def live_ids(self, ns: str) -> Call:
        """Every live archive id of `ns` (a bundle of all its archives)."""
        key = self.keys.archive_index(ns)
        return Call(("ZRANGE", key, 0, -1), convert=lambda r: [text(i) for i in r])
