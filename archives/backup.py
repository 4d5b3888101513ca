"""The archive records of a backup: ``{"kind": "archive", "namespace", "id", "etag",
"deleted_at", "last_download_at", "aliases", "scan", "record"}``, live and trashed
ones, the record's stored fields as they are; and their shares: ``{"kind":
"share", "namespace", "id", "archive", "digest", "expires_at", "note",
"created_by", "created_at"}`` (a digest of the secret only, as stored).

The bytes are not in the backup: blobs are files, copied beside it (README). A
record is restored only when its blob is in place at its size, so a restore never
leaves a record naming bytes that are not there (spec archives.md 4.2).

``scan`` is the record's copy of its blob's verdict (null: none yet). A restored
record keeps it (below any verdict made here), then `ArchiveBackup.settle` gives
a blob with no verdict here the backup's, and copies the blob's verdict, whichever
it is, onto the record: a restore neither serves unscanned bytes as clean nor
scans again what was judged; a blob judged here keeps its verdict; ``unscanned``
is queued (with scanning on).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

from archives.blobs import BlobStore
from archives.list_calls import BATCH, ListedRecord
from archives.scan import scanning
from archives.scan_store import STATES, ScanStore
from archives.schemas import (
    ARCHIVE_ID,
    Invalid,
    RecordView,
    Stored,
    check_aliases,
    check_filename,
)
from archives.service import new_etag
from archives.share_store import ShareStore
from archives.shares import SHARE_ID, Share
from archives.store import ArchiveStore
from backup import Emit, count_each, field, line, text, walk
from core import strictjson
from core.errors import BadRequest
from namespaces.backup import namespace
from namespaces.store import NamespaceStore
from redisio.calls import Call, Steps
from sensugo.paging import Batch

DIGEST = re.compile(r"[0-9a-f]{64}")

# The stored fields every record has, by type; a record may hold more (a newer
# stashd's), kept as they are.
_STORED: dict[str, type | tuple[type, ...]] = {
    "sha256": str,
    "size": int,
    "type": str,
    "filename": str,
    "state": str,
    "origin": dict,
    "warnings": list,
    "created_at": int,
    "updated_at": int,
    "labels": dict,
    "annotations": dict,
    "created_by": str,
}


class Item(NamedTuple):
    namespace: str
    id: str
    view: RecordView


def scan_field(record: dict[str, Any]) -> dict[str, Any] | None:
    """The record line's ``scan`` (null or absent: none). :raise BadRequest:"""
    value = record.get("scan")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadRequest("'scan' must be a JSON object or null")
    state, scanned_at = value.get("state"), value.get("scanned_at")
    if state not in STATES:
        raise BadRequest(f"scan.state must be one of {', '.join(STATES)}")
    if scanned_at is not None and (type(scanned_at) is not int or scanned_at < 0):
        raise BadRequest("scan.scanned_at must be a Unix time or null")
    if not isinstance(value.get("detail"), str):
        raise BadRequest("scan.detail must be a string")
    return {
        "state": value["state"],
        "scanned_at": value.get("scanned_at"),
        "detail": value["detail"],
    }


def _optional_time(record: dict[str, Any], name: str) -> int | None:
    if record.get(name) is None:
        return None
    value = field(record, name, int)
    if value < 0:
        raise BadRequest(f"{name!r} must be a Unix time or null")
    return value


def stored_fields(value: dict[str, Any]) -> Stored:
    """The stored fields of a record line. :raise BadRequest: a field missing or of
    another type, or a file name no upload could have."""
    for name, kind in _STORED.items():
        field(value, name, kind)
    for name in ("labels", "annotations"):
        if not all(isinstance(v, str) for v in value[name].values()):
            raise BadRequest(f"record.{name} must be an object of strings")
    if value["size"] <= 0:
        raise BadRequest("record.size must be positive")
    try:
        check_filename(value["filename"])
    except Invalid as exc:
        raise BadRequest(f"record.filename: {exc}") from None
    return value  # type: ignore[return-value]


class ArchiveBackup:
    """Every archive record of every namespace, the trash included."""

    kind = "archive"

    def __init__(
        self,
        store: ArchiveStore,
        namespaces: NamespaceStore,
        blobs: BlobStore,
        config: Mapping[str, Any],
    ) -> None:
        self.store = store
        self.namespaces = namespaces
        self.blobs = blobs
        self.scans = ScanStore(store.keys)
        self.config = config  # with scanning on, what has no verdict is queued

    def count(self) -> Steps[int]:
        return count_each(self.namespaces.names(), self.store.count)

    def dump(self, emit: Emit) -> Steps[None]:
        def each(item: ListedRecord) -> None:
            view = item.view
            fields = {
                "namespace": item.namespace,
                "id": item.id,
                "etag": view.etag,
                "deleted_at": view.deleted_at,
                "last_download_at": view.last_download_at,
                "aliases": sorted(view.aliases),
                "scan": view.scan,
            }
            emit(line(self.kind, fields, record=strictjson.dumps(view.stored)))

        for ns in (yield from self.namespaces.names()):
            for trash in (False, True):
                yield from walk(self.store.records(ns, None, trash, BATCH), each)

    def check(self, record: dict[str, Any]) -> Item:
        ns, archive_id = namespace(record, "namespace"), text(record, "id")
        if not ARCHIVE_ID.fullmatch(archive_id) or archive_id != archive_id.lower():
            raise BadRequest("'id' is not an archive id (128 lowercase hex digits)")
        stored = stored_fields(field(record, "record", dict))
        aliases = field(record, "aliases", list)
        if not all(isinstance(a, str) for a in aliases):
            raise BadRequest("'aliases' must be an array of strings")
        try:
            aliases = check_aliases(aliases)
        except Invalid as exc:
            raise BadRequest(f"aliases: {exc}") from None
        if self.blobs.size(archive_id) != stored["size"]:
            raise BadRequest(
                f"archive {archive_id[:16]}... has no blob of {stored['size']} bytes "
                "in the blob store: copy the blobs before importing"
            )
        view = RecordView(
            stored,
            text(record, "etag"),
            _optional_time(record, "deleted_at"),
            _optional_time(record, "last_download_at"),
            aliases,
            [],
            scan_field(record),
        )
        return Item(ns, archive_id, view)

    def label(self, item: Item) -> str:
        return f"archive {item.id[:16]}... of namespace {item.namespace!r}"

    def conflicts(self, item: Item) -> Call:
        return self.store.exists(item.namespace, item.id)

    def write(self, item: Item) -> Call:
        return self.store.load(item.namespace, item.id, item.view)

    def settle(self, item: Item) -> Steps[None]:
        """After `write`: the blob's verdict (the backup's when it has none here)
        copied onto the record, in the blob's slot, then the record's."""
        queue = scanning(self.config)
        call = self.scans.load(item.id, item.view.scan, int(time.time()), queue)
        verdict = yield call
        if verdict is not None:
            yield self.scans.apply(item.namespace, item.id, verdict, new_etag())


class ShareItem(NamedTuple):
    namespace: str
    share: Share


class ShareBackup:
    """Every unexpired share of every archive record, the trash's included."""

    kind = "share"

    def __init__(
        self, store: ArchiveStore, shares: ShareStore, namespaces: NamespaceStore
    ) -> None:
        self.store = store
        self.shares = shares
        self.namespaces = namespaces

    def count(self) -> Steps[int]:
        # Shares have no index of their own to count: the records are the guess.
        return count_each(self.namespaces.names(), self.store.count)

    def dump(self, emit: Emit) -> Steps[None]:
        now = int(time.time())
        for ns in (yield from self.namespaces.names()):
            for trash in (False, True):
                # A batch of records at a time, then their shares one by one.
                batches = self.store.records(ns, None, trash, BATCH)
                cursor = batches.start
                while (call := batches.fetch(cursor)) is not None:
                    batch: Batch = yield call
                    for item in batch.items:
                        for share in (yield self.shares.shares(ns, item.id, now)):
                            fields = {"namespace": ns, **share._asdict()}
                            emit(line(self.kind, fields))
                    if batch.next is None:
                        break
                    cursor = batch.next

    def check(self, record: dict[str, Any]) -> ShareItem:
        ns, share_id = namespace(record, "namespace"), text(record, "id")
        if not SHARE_ID.fullmatch(share_id):
            raise BadRequest("'id' is not a share id")
        archive_id = text(record, "archive")
        if not ARCHIVE_ID.fullmatch(archive_id) or archive_id != archive_id.lower():
            raise BadRequest("'archive' is not an archive id")
        digest = text(record, "digest")
        if not DIGEST.fullmatch(digest):
            raise BadRequest("'digest' is not a SHA-256 (64 lowercase hex digits)")
        share = Share(
            share_id,
            archive_id,
            digest,
            field(record, "expires_at", int),
            field(record, "note", str),
            field(record, "created_by", str),
            field(record, "created_at", int),
        )
        return ShareItem(ns, share)

    def label(self, item: ShareItem) -> str:
        return f"share {item.share.id} of namespace {item.namespace!r}"

    def conflicts(self, item: ShareItem) -> Call:
        return self.shares.exists(item.namespace, item.share.id)

    def write(self, item: ShareItem) -> Call:
        return self.shares.load(item.namespace, item.share, int(time.time()))
