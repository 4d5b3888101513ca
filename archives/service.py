"""Storing an upload (with its asset), shared by the routes and the commands. Runs
a `BlockingClient`; no Flask. Garbage collection and fsck are in `garbage`.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
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


def commit(blobs: BlobStore, temp: TempBlob, cached: bool = True) -> None:
    """fsync and rename into place (`BlobStore.commit`).
    :raise StorageFailed: disk full, I/O error."""
    try:
        blobs.commit(temp, cached)
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
