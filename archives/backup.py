"""The archive records of a backup: ``{"kind": "archive", "namespace", "id", "etag",
"deleted_at", "last_download_at", "aliases", "record"}``, live and trashed ones, the
record's stored fields as they are.

The bytes are not in the backup: blobs are files, copied beside it (README). A
record is restored only when its blob is in place at its size, so a restore never
leaves a record naming bytes that are not there (spec archives.md 4.2).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from archives.blobs import BlobStore
from archives.schemas import (
    ARCHIVE_ID,
    Invalid,
    RecordView,
    Stored,
    check_aliases,
    check_filename,
)
from archives.store import BATCH, ArchiveStore, ListedRecord
from backup import Emit, count_each, field, line, text, walk
from core import strictjson
from core.errors import BadRequest
from namespaces.backup import namespace
from namespaces.store import NamespaceStore
from redisio.calls import Call, Steps

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
        self, store: ArchiveStore, namespaces: NamespaceStore, blobs: BlobStore
    ) -> None:
        self.store = store
        self.namespaces = namespaces
        self.blobs = blobs

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
        )
        return Item(ns, archive_id, view)

    def label(self, item: Item) -> str:
        return f"archive {item.id[:16]}... of namespace {item.namespace!r}"

    def conflicts(self, item: Item) -> Call:
        return self.store.exists(item.namespace, item.id)

    def write(self, item: Item) -> Call:
        return self.store.load(item.namespace, item.id, item.view)
