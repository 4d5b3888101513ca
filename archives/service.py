"""Archive work shared by the routes and the commands: storing an upload (with its
asset), garbage collection, fsck. Runs a `BlockingClient`; no Flask.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from archives import checks
from archives.blobs import BlobStore, StorageFailed, TempBlob
from archives.schemas import (
    Options,
    Origin,
    RecordView,
    Stored,
    canonical_path,
    default_filename,
    record_json,
    suggested_name,
)
from archives.store import ArchiveStore, AssetWrite, WriteOutcome
from core import strictjson
from core.errors import BadRequest, Conflict, NotFound
from redisio.clients import BlockingClient
from sensugo.assets import (
    Asset,
    Build,
    Metadata,
    asset_json,
    etag_of,
    load_asset,
    referenced_ids,
    validate_asset,
)
from sensugo.assets import Invalid as AssetInvalid

log = logging.getLogger(__name__)

# Compare-and-set rounds before an upload gives up on a record or asset that keeps
# changing under it.
ATTEMPTS = 8
NO_CREDENTIALS = "agents will get 401: the definition carries no credentials for stashd"


class Upload(NamedTuple):
    """What an upload brings besides its bytes."""

    ns: str
    user: str
    options: Options
    filename: str | None  # from the file part or Content-Disposition
    definition: dict[str, Any] | None
    base_url: str
    public_read: bool
    share_token: str | None = None  # goes into the written URL (6.1 share=)


class Outcome(NamedTuple):
    """An upload's outcome: 201 or 200, and the body of 5.4."""

    status: int
    body: dict[str, Any]


def new_etag() -> str:
    """A record's write version, new on every write of it: the compare-and-set
    token (the ETag clients see is `schemas.record_etag`)."""
    return secrets.token_hex(16)


def check_bytes(
    temp: TempBlob, blobs: BlobStore | None = None
) -> tuple[str, list[str]]:
    """5.3's checks 2-4 and the layout hint: (type, warnings). With `blobs`, bytes
    it does not hold yet start on their way to the disk during the tar check.

    :raise BadRequest: the bytes are refused (the temp file is left to the caller).
    """
    if temp.size == 0:
        raise BadRequest("archive is empty")
    try:
        kind = checks.sniff(temp.head)
        if blobs is not None:
            blobs.start_sync(temp)
        temp.close()  # read back by path; on the disk once kept (see commit)
        return kind, checks.inspect(temp.path, kind)
    except checks.Refused as exc:
        raise BadRequest(str(exc)) from None
    except OSError as exc:
        raise StorageFailed.of(exc) from None


def commit(blobs: BlobStore, temp: TempBlob) -> None:
    """fsync and rename into place. :raise StorageFailed: disk full, I/O error."""
    try:
        blobs.commit(temp)
    except OSError as exc:
        log.error("archive %s not stored: %s", temp.id, exc)
        raise StorageFailed.of(exc) from None


def _definition_parts(
    definition: dict[str, Any] | None,
) -> tuple[dict[str, str] | None, dict[str, str], dict[str, str]]:
    """(headers or None, labels, annotations) of a ``definition`` part (6.2)."""
    if definition is None:
        return None, {}, {}
    try:
        loaded = load_asset(definition)
    except Exception as exc:
        raise BadRequest(f"definition is invalid: {exc}") from None
    headers = loaded["headers"] if definition.get("headers") is not None else None
    meta = loaded["metadata"]
    return headers, meta["labels"], meta["annotations"]


def _new_asset(name: str, ns: str) -> Asset:
    return Asset(
        url="",
        sha512="",
        filters=[],
        builds=[],
        headers={},
        metadata=Metadata(
            name=name, namespace=ns, labels={}, annotations={}, created_by=""
        ),
    )


def compose_asset(
    current: bytes | None, upload: Upload, archive_id: str, url: str
) -> tuple[Asset, dict[str, str]]:
    """The asset an upload with ``asset=`` writes (6.1, 6.2), and the entry written
    (for the credentials warning).

    :raise Conflict: ``as=url`` on an asset with builds. :raise BadRequest:
    """
    options = upload.options
    name = options.asset
    assert name is not None
    asset = (
        _new_asset(name, upload.ns)
        if current is None
        else load_asset(json.loads(current))
    )
    headers, labels, annotations = _definition_parts(upload.definition)
    meta = asset["metadata"]
    meta["name"], meta["namespace"] = name, upload.ns
    meta["labels"].update(labels)
    meta["annotations"].update(annotations)
    meta["created_by"] = upload.user
    if not options.as_build:
        if asset["builds"]:
            raise Conflict(f"asset {name} has builds; upload with as=build")
        asset["url"], asset["sha512"] = url, archive_id
        if options.filters is not None:
            asset["filters"] = list(options.filters)
        if headers is not None:
            asset["headers"] = headers
        entry_headers = asset["headers"]
    else:
        filters = list(options.filters or [])
        for build in asset["builds"]:
            if build["filters"] == filters:
                break
        else:
            build = Build(url="", sha512="", filters=filters, headers={})
            asset["builds"].append(build)
        build["url"], build["sha512"] = url, archive_id
        if headers is not None:
            build["headers"] = headers
        entry_headers = build["headers"]
    try:
        validate_asset(asset)
    except AssetInvalid as exc:
        raise BadRequest(f"resource is invalid: {exc}") from None
    return asset, entry_headers


def suggested_definition(ns: str, name: str, archive_id: str, url: str) -> Asset:
    """The asset an archive would make (6.4); nothing is stored."""
    asset = _new_asset(name, ns)
    asset["url"], asset["sha512"] = url, archive_id
    return asset


def store_upload(
    client: BlockingClient,
    store: ArchiveStore,
    upload: Upload,
    temp: TempBlob,
    kind: str,
    warnings: list[str],
) -> Outcome:
    """Write the record (and asset) of bytes already in place as a blob: one step,
    retried when the record or the asset changed meanwhile (6.3).

    :raise NotFound: the namespace is gone. :raise Conflict: :raise BadRequest:
    """
    archive_id = temp.id
    ns, options = upload.ns, upload.options
    for _ in range(ATTEMPTS):
        now = int(time.time())
        view: RecordView | None = client.run(store.get(ns, archive_id))
        filename = options.filename or (view and view.stored["filename"]) or None
        if filename is None:
            filename = upload.filename or default_filename(archive_id, kind)
        if view is None:
            stored = Stored(
                sha256=temp.sha256.hexdigest(),
                size=temp.size,
                type=kind,
                filename=filename,
                state="unscanned",
                origin=Origin(
                    kind="upload", url=None, headers=[], fetched_at=None, error=None
                ),
                warnings=warnings,
                created_at=now,
                updated_at=now,
                labels=dict(options.labels),
                annotations={},
                created_by=upload.user,
            )
        else:
            stored = view.stored
            stored["filename"] = filename
            stored["labels"] = {**stored["labels"], **options.labels}
            stored["updated_at"] = now
        url = upload.base_url + canonical_path(ns, archive_id, filename)
        if upload.share_token is not None:
            url += f"?token={upload.share_token}"
        extra: list[str] = []
        asset_write = None
        asset_out: dict[str, Any]
        if options.asset is not None:
            current = client.run(store.asset(ns, options.asset))
            asset, entry_headers = compose_asset(
                current and current[0], upload, archive_id, url
            )
            credentials = "Authorization" in entry_headers or upload.share_token
            if not upload.public_read and not credentials:
                extra.append(NO_CREDENTIALS)
            asset_out = asset_json(asset)
            data = strictjson.dumps(asset_out)
            asset_write = AssetWrite(
                options.asset,
                data,
                etag_of(data),
                current[1] if current else "",
                referenced_ids(asset_out),
            )
        else:
            name = suggested_name(filename)
            asset_out = asset_json(suggested_definition(ns, name, archive_id, url))
        call = store.write(
            ns,
            archive_id,
            stored,
            new_etag(),
            view.etag if view else "",
            options.aliases,
            asset=asset_write,
        )
        outcome = client.run(call)
        if outcome is WriteOutcome.NO_NAMESPACE:
            raise NotFound(f"namespace {ns} does not exist")
        if outcome in (WriteOutcome.RECORD_CHANGED, WriteOutcome.ASSET_CHANGED):
            continue
        final = client.run(store.get(ns, archive_id))
        record = record_json(ns, archive_id, final, upload.base_url)
        body = {
            "archive": record,
            "asset": asset_out,
            "asset_stored": asset_write is not None,
            "warnings": record["warnings"] + extra,
        }
        return Outcome(201 if outcome is WriteOutcome.CREATED else 200, body)
    raise Conflict("the archive or asset kept changing; try again")


class GCReport(NamedTuple):
    purged_records: int
    deleted_blobs: int
    freed_bytes: int
    kept_referenced: int
    removed_tmp: int


def referencing(
    client: BlockingClient,
    store: ArchiveStore,
    namespaces: list[str],
    archive_id: str,
    home: str,
) -> list[str]:
    """The assets of every namespace naming `archive_id` (19.1): ``name`` in
    namespace `home`, ``<ns>/<name>`` in the others; sorted."""
    names = []
    for ns in namespaces:
        for name in client.run(store.refs(ns, archive_id)):
            names.append(name if ns == home else f"{ns}/{name}")
    return sorted(names)


def purge_unreferenced(
    client: BlockingClient,
    store: ArchiveStore,
    namespaces: list[str],
    ns: str,
    archive_id: str,
    trashed_before: int | None,
    now: Callable[[], float] = time.time,
) -> tuple[int, list[str]]:
    """Purge a record that no asset of any namespace names (19.1): (1 purged, 0
    absent or not due, or -1 referenced: kept in the trash) and the referencing
    names (as `referencing` gives them).

    One script cannot read every namespace's references on Redis Cluster, so the
    purge runs first and the references are looked at after it: an asset written
    before the purge is seen there, and the record is put back as it was (its
    shares included); one written after it named an archive already purged.
    """
    users = referencing(client, store, namespaces, archive_id, ns)
    if users:
        return -1, users
    removed = client.run(store.purge(ns, archive_id, trashed_before))
    if removed.code != 1:
        if removed.code == -1:
            return -1, client.run(store.refs(ns, archive_id))
        return removed.code, []
    users = referencing(client, store, namespaces, archive_id, ns)
    if users:
        client.run(store.put_back(ns, archive_id, removed, int(now())))
        return -1, users
    return 1, []


def collect_garbage(
    client: BlockingClient,
    store: ArchiveStore,
    blobs: BlobStore,
    namespaces: list[str],
    config: dict[str, Any],
    now: Callable[[], float] = time.time,
) -> GCReport | None:
    """Purge old unreferenced trash, delete blobs no record names past their grace,
    remove stale temp files (4.3); None when another process is collecting."""
    token = secrets.token_hex(8)
    if not client.run(store.gc_lock(token, 600)):
        return None
    try:
        return _collect(client, store, blobs, namespaces, config, now)
    finally:
        client.run(store.gc_unlock(token))


def _collect(
    client: BlockingClient,
    store: ArchiveStore,
    blobs: BlobStore,
    namespaces: list[str],
    config: dict[str, Any],
    now: Callable[[], float],
) -> GCReport:
    purged = kept = deleted = freed = 0
    cutoff = int(now()) - config["ARCHIVE_RETENTION_SECONDS"]
    for ns in namespaces:
        for archive_id in client.run(store.trash_ids(ns)):
            outcome, _ = purge_unreferenced(
                client, store, namespaces, ns, archive_id, cutoff, now
            )
            if outcome == 1:
                purged += 1
            elif outcome == -1:
                kept += 1
    grace = config["ARCHIVE_BLOB_GRACE_SECONDS"]
    for archive_id in list(blobs.ids()):
        held = any(client.run(store.exists(ns, archive_id)) for ns in namespaces)
        if held:
            client.run(store.forget_blob(archive_id))
            continue
        moment = now()
        since = client.run(store.blob_unheld_since(archive_id, int(moment)))
        written = blobs.mtime(archive_id) or 0.0
        if moment - max(since, written) >= grace:
            # Looked at again once the blob is out of place: a record written
            # since the look above (an upload of the same bytes touches the blob
            # first) keeps it.
            def keep(mtime: float, archive_id: str = archive_id) -> bool:
                if now() - mtime < grace:
                    return True
                return any(client.run(store.exists(n, archive_id)) for n in namespaces)

            size = blobs.remove_unless(archive_id, keep)
            if size is None:
                client.run(store.forget_blob(archive_id))
                continue
            freed += size
            deleted += 1
            client.run(store.drop_blob(archive_id))
    removed = blobs.remove_stale_temps(config["ARCHIVE_TMP_MAX_AGE_SECONDS"])
    return GCReport(purged, deleted, freed, kept, removed)


def backfill_refs(
    client: BlockingClient, store: ArchiveStore, namespaces: list[str]
) -> None:
    """Make sure every asset's archive ids are in the reference sets, including
    assets stored before asset writes kept them (run at every start)."""
    for ns in namespaces:
        after = None
        while True:
            after = client.run(store.backfill_refs(ns, after))
            if after is None:
                break


def fsck(blobs: BlobStore) -> list[str]:
    """Re-hash every blob; the ids whose bytes no longer match their name."""
    return [i for i in blobs.ids() if blobs.rehash(i) != i]
