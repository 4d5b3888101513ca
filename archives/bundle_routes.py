"""``GET`` and ``POST …/namespaces/:ns/bundle`` (spec archives.md 13): export
assets with their archives as one tar, import one checked whole. HTTP only; the
format is `archives.bundles`."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import marshmallow as ma
from flask import current_app, g, request

from accounts import scopes
from archives import bundles, service, upload
from archives.schemas import Origin, RecordView, Stored, canonical_path
from archives.store import AssetWrite
from archives.web import base_url, blobs, bp, need_namespace, store, truthy
from core import strictjson
from core.errors import ApiError, BadRequest, Conflict, NotFound
from core.files import StreamBody
from core.http import JSONResponse, json_response
from core.settings import VERSION
from redisio.clients import get_client
from sensugo.assets import Invalid as AssetInvalid
from sensugo.assets import (
    asset_json,
    etag_of,
    load_asset,
    redacted,
    referenced_ids,
    validate_asset,
)

CONFLICTS = ("fail", "skip", "replace")
SERVABLE = ("unscanned", "clean")


def _servable(view: RecordView | None) -> bool:
    return (
        view is not None
        and view.deleted_at is None
        and view.stored["state"] in SERVABLE
    )


def _entry(archive_id: str, view: RecordView) -> bundles.Entry:
    stored = view.stored
    return bundles.Entry(
        archive_id,
        stored["sha256"],
        stored["size"],
        stored["type"],
        stored["filename"],
        dict(stored["labels"]),
        dict(stored["annotations"]),
    )


@bp.get("/namespaces/<ns>/bundle")
def export_bundle(ns: str) -> JSONResponse:
    """A tar of the selected assets and archives, manifest first (13.1).

    :raise 400: nothing selected. :raise 404: an unknown asset or archive.
    :raise 409: an asset names an archive not served here (unless missing=skip).
    """
    scopes.require("assets", "read", ns)
    need_namespace(ns)
    client = get_client()
    names = request.args.getlist("asset")
    ids = [i.lower() for i in request.args.getlist("archive")]
    everything = truthy("all")
    if not names and not ids and not everything:
        raise BadRequest(
            "select what to export: asset=<name>, archive=<id> or all=true"
        )
    skip_missing = request.args.get("missing") == "skip"
    if everything:
        names = sorted(set(names) | set(client.run(store().asset_names(ns))))
        ids = sorted(set(ids) | set(client.run(store().live_ids(ns))))
    assets: list[bytes] = []
    wanted: dict[str, str | None] = {}  # id -> the asset needing it (None: asked)
    for name in dict.fromkeys(names):
        found = client.run(store().asset(ns, name))
        if found is None:
            raise NotFound(f"asset {name} not found")
        data = found[0]
        assets.append(redacted(data) if scopes.redacts(ns) else data)
        for archive_id in referenced_ids(_decoded(data)):
            wanted.setdefault(archive_id, name)
    for archive_id in ids:
        view = client.run(store().get(ns, archive_id))
        if view is None or view.deleted_at is not None:
            raise NotFound(f"archive {archive_id} not found")
        wanted[archive_id] = None
    entries: list[bundles.Entry] = []
    missing: list[str] = []
    for archive_id, needed_by in wanted.items():
        view = client.run(store().get(ns, archive_id))
        if not _servable(view):
            if needed_by is not None and skip_missing:
                missing.append(archive_id)
                continue
            if needed_by is not None:
                raise Conflict(
                    f"asset {needed_by} needs {archive_id}, which this namespace does "
                    "not host; mirror it or pass missing=skip"
                )
            raise Conflict(f"archive {archive_id} is not available")
        assert view is not None
        if blobs().size(archive_id) != view.stored["size"]:
            current_app.logger.error(
                "archive %s: blob missing or of the wrong size", archive_id
            )
            raise ApiError("archive storage is damaged")
        entries.append(_entry(archive_id, view))
    decoded = [_decoded(a) for a in assets]
    manifest = bundles.manifest(ns, base_url(), VERSION, entries, decoded, missing)
    now = int(time.time())
    bundle = bundles.export(manifest, blobs(), entries, now)
    day = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d")
    response = JSONResponse(status=200)
    response.headers.clear()
    response.headers["Content-Type"] = "application/x-tar"
    response.headers["Content-Length"] = str(bundle.length)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="stashd-bundle-{ns}-{day}.tar"'
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    if request.method == "HEAD":
        bundle.pieces.close()
        return response
    response.response = StreamBody(bundle.pieces)
    response.direct_passthrough = True
    return response


def _decoded(data: bytes) -> dict[str, Any]:
    return json.loads(data)


def _options() -> tuple[bool, str]:
    """(rewrite_urls, on_conflict), checked before the body is read."""
    rewrite = (request.args.get("rewrite_urls") or "true").lower()
    if rewrite not in ("true", "false"):
        raise BadRequest("rewrite_urls must be true or false")
    on_conflict = request.args.get("on_conflict") or "fail"
    if on_conflict not in CONFLICTS:
        raise BadRequest("on_conflict must be fail, skip or replace")
    return rewrite == "true", on_conflict


@bp.post("/namespaces/<ns>/bundle")
def import_bundle(ns: str) -> JSONResponse:
    """Import a bundle (raw body or multipart part ``file``), checked whole before
    anything is stored (13.2).

    :raise 400: anything wrong in it, naming it. :raise 409: an asset exists
    (on_conflict=fail). :raise 413: over STASHD_BUNDLE_MAX_BYTES.
    """
    scopes.require("assets", "write", ns)
    need_namespace(ns)
    rewrite, on_conflict = _options()
    config = current_app.config
    limit = config["BUNDLE_MAX_BYTES"]
    environ = request.environ
    boundary = upload.multipart_boundary(request.headers.get("Content-Type"))
    overhead = upload.MULTIPART_OVERHEAD if boundary else 0
    length = upload.declared_length(environ.get("CONTENT_LENGTH"), limit, overhead)
    if length is None and not environ.get("wsgi.input_terminated", False):
        length = 0
    stream = environ["wsgi.input"]
    holder = None
    try:
        if boundary is None:
            reader: Any = bundles.Reader(upload.chunks(stream, length, limit))
        else:
            received = upload.receive_multipart(
                blobs(), stream, length, boundary, limit
            )
            holder = received.temp
            holder.finish()
            reader = open(holder.path, "rb")  # noqa: SIM115 - closed below
        try:
            bundle = bundles.read_bundle(reader, blobs(), config["ARCHIVE_MAX_BYTES"])
        finally:
            if holder is not None:
                reader.close()
    finally:
        if holder is not None:
            holder.discard()
    try:
        return _store(ns, bundle, rewrite, on_conflict)
    finally:
        bundle.discard()  # the temp files left: those not committed


def _asset_writes(ns: str, bundle: bundles.Received, rewrite: bool) -> list[AssetWrite]:
    """The bundle's assets as this namespace stores them. :raise BadRequest:"""
    filenames = {e.sha512: e.filename for e in bundle.entries}
    base = base_url()
    writes: dict[str, AssetWrite] = {}
    for item in bundle.assets:
        label = item.get("metadata", {}).get("name") if isinstance(item, dict) else None
        try:
            asset = load_asset(item)
            meta = asset["metadata"]
            meta["namespace"], meta["created_by"] = ns, g.user
            if rewrite:
                for entry in [asset, *asset["builds"]]:
                    archive_id = entry["sha512"].lower()
                    if archive_id in filenames:
                        path = canonical_path(ns, archive_id, filenames[archive_id])
                        entry["url"] = base + path
            validate_asset(asset)
        except (AssetInvalid, ma.ValidationError, ValueError) as exc:
            raise BadRequest(f"asset {label} is invalid: {exc}") from None
        name = meta["name"]
        if name in writes:
            raise BadRequest(f"asset {name} comes twice")
        out = asset_json(asset)
        data = strictjson.dumps(out)
        writes[name] = AssetWrite(name, data, etag_of(data), "", referenced_ids(out))
    return list(writes.values())


def _store(
    ns: str, bundle: bundles.Received, rewrite: bool, on_conflict: str
) -> JSONResponse:
    """Every check passed: the blobs into place, then records and assets in one
    step. :raise 409: an asset exists (on_conflict=fail)."""
    client = get_client()
    writes = _asset_writes(ns, bundle, rewrite)
    if on_conflict == "fail":
        for write in writes:
            if client.run(store().asset(ns, write.name)) is not None:
                raise Conflict(f"asset {write.name} already exists")
    records: list[tuple[str, Stored]] = []
    now = int(time.time())
    for entry in bundle.entries:
        temp, kind, warnings = bundle.temps.pop(entry.sha512)
        service.commit(blobs(), temp)
        records.append(
            (
                entry.sha512,
                Stored(
                    sha256=entry.sha256,
                    size=entry.size,
                    type=kind,
                    filename=entry.filename,
                    state="unscanned",
                    origin=Origin(
                        kind="bundle", url=None, headers=[], fetched_at=None, error=None
                    ),
                    warnings=warnings,
                    created_at=now,
                    updated_at=now,
                    labels=entry.labels,
                    annotations=entry.annotations,
                    created_by=g.user,
                ),
            )
        )
    outcome = client.run(store().import_bundle(ns, records, writes, on_conflict))
    if outcome.no_namespace:
        raise NotFound(f"namespace {ns} does not exist")
    if outcome.conflict is not None:
        raise Conflict(f"asset {outcome.conflict} already exists")
    body = {
        "archives": {"created": outcome.created, "existing": outcome.existing},
        "assets": {
            "created": outcome.assets_created,
            "replaced": outcome.assets_replaced,
            "skipped": outcome.assets_skipped,
        },
    }
    return json_response(body, 201)
