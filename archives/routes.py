"""The archives API in Flask, uploads and records (spec archives.md 5, 6, 8, 9).

HTTP only; lists are in `archives.lists`, downloads in `archives.serve`.
"""

from __future__ import annotations

import time
from typing import Any

from flask import current_app, g, request

from accounts import scopes
from archives import garbage, scan, service, upload
from archives.blobs import TempBlob
from archives.schemas import (
    Invalid,
    Options,
    RecordView,
    canonical_path,
    check_aliases,
    check_filename,
    parse_options,
    record_etag,
    suggested_name,
)
from archives.share_routes import issue, revoke
from archives.store import RestoreOutcome, TrashOutcome, WriteOutcome
from archives.web import (
    base_url,
    blobs,
    bp,
    find,
    namespaces,
    need_namespace,
    record,
    scanning_on,
    scans,
    store,
    truthy,
    wake_scanner,
)
from core.errors import BadRequest, Conflict, NotFound, PreconditionFailed
from core.http import JSONResponse, close_after_response, json_response
from redisio.clients import get_client
from sensugo.assets import asset_json
from sensugo.http import check_conditions, empty, quoted, read_merge_patch
from sensugo.schemas import merge_patch

# Uploads


def _query_options() -> dict[str, list[str]]:
    return {name: request.args.getlist(name) for name in request.args}


def _options(args: dict[str, list[str]]) -> Options:
    """The upload's options, ``share`` within its limit. :raise BadRequest:"""
    try:
        options = parse_options(args)
    except Invalid as exc:
        raise BadRequest(str(exc)) from None
    top = current_app.config["SHARE_MAX_SECONDS"]
    if options.share is not None and not 1 <= options.share <= top:
        raise BadRequest(f"share must be 1 to {top} seconds")
    return options


@bp.post("/namespaces/<ns>/archives")
def upload_archive(ns: str) -> JSONResponse:
    """Upload an archive (raw body or multipart), optionally writing an asset.

    :raise 400: a bad option or bytes. :raise 404: no such namespace.
    :raise 409: an asset conflict. :raise 413: too large.
    """
    # Until its body is read to the end, a refused upload (a bad option, a length
    # over the limit, a client gone mid-body) is answered at once and its
    # connection closed, rather than read on (spec archives.md 5.2).
    close_after_response()
    query = _query_options()
    if "asset" in query:
        scopes.require("assets", "write", ns)
    need_namespace(ns)
    options = _options(query)  # before a byte of the body is read
    limit = current_app.config["ARCHIVE_MAX_BYTES"]
    stream, length, boundary = upload.body_of(request.environ, limit)
    definition = None
    if boundary is None:
        temp = upload.receive_raw(blobs(), stream, length, limit)
        filename = upload.disposition_filename(
            request.headers.get("Content-Disposition")
        )
    else:
        received = upload.receive_multipart(blobs(), stream, length, boundary, limit)
        temp, filename, definition = (
            received.temp,
            received.filename,
            received.definition,
        )
        try:
            options = _options({**received.options, **query})
        except BadRequest:
            temp.discard()
            raise
    close_after_response(False)
    return _keep(ns, temp, options, filename, definition)


def _keep(
    ns: str,
    temp: TempBlob,
    options: Any,
    filename: str | None,
    definition: dict[str, Any] | None,
) -> JSONResponse:
    """Check the bytes, put the blob in place, then write the record."""
    try:
        if options.asset is not None:  # also given as a multipart part
            scopes.require("assets", "write", ns)
        if filename is not None:
            try:
                check_filename(filename)
            except Invalid as exc:
                raise BadRequest(str(exc)) from None
        kind, warnings = service.check_bytes(temp, blobs())
    except BaseException:
        temp.discard()
        raise
    service.commit(blobs(), temp, cached=False)  # nobody reads it back now
    config = current_app.config
    share = token = None
    if options.share is not None:
        share, token = issue(ns, temp.id, options.share, "", live=False)
    job = service.Upload(
        ns,
        g.user,
        options,
        filename,
        definition,
        base_url(),
        config["ARCHIVES_PUBLIC_READ"],
        token,
    )
    try:
        outcome = service.store_upload(get_client(), store(), job, temp, kind, warnings)
    except BaseException:
        if share is not None:
            revoke(ns, share)
        raise
    _scan_upload(ns, temp.id, outcome.body)
    response = json_response(outcome.body, outcome.status)
    response.headers["Location"] = f"/api/core/v2/namespaces/{ns}/archives/{temp.id}"
    return response


def _scan_upload(ns: str, archive_id: str, body: dict[str, Any]) -> None:
    """Give a stored upload its blob's verdict, or queue its scan and wait up to
    ``STASHD_ARCHIVE_SCAN_WAIT_SECONDS`` for one (spec archives.md 10)."""
    client, config = get_client(), current_app.config
    changed = scan.after_store(client, scans(), ns, archive_id, config)
    if scanning_on():
        wake_scanner()
        wait = config["ARCHIVE_SCAN_WAIT_SECONDS"]
        if wait > 0:
            scan.wait_for_verdict(client, store(), ns, archive_id, wait)
    elif not changed:
        return
    body["archive"] = record(ns, archive_id, find(ns, archive_id))


# Records


@bp.get("/namespaces/<ns>/archives/<archive_id:archive_id>")
def get_archive(ns: str, archive_id: str) -> JSONResponse:
    """One record, with its ETag. :raise 404: :raise 410: trashed."""
    need_namespace(ns)
    view = find(ns, archive_id, deleted=truthy("deleted"))
    body = record(ns, archive_id, view)
    response = json_response(body)
    response.headers["ETag"] = quoted(record_etag(body))
    return response


def _patched(view: RecordView, patch: dict[str, Any]) -> tuple[str, list[str], dict]:
    """(filename, aliases, metadata) after a merge patch. :raise BadRequest:"""
    stored = view.stored
    current = {
        "filename": stored["filename"],
        "aliases": sorted(view.aliases),
        "metadata": {
            "labels": stored["labels"],
            "annotations": stored["annotations"],
        },
    }
    result = merge_patch(current, patch)
    filename = result.get("filename")
    aliases = result.get("aliases") or []
    meta = result.get("metadata") or {}
    if not isinstance(filename, str):
        raise BadRequest("filename must be a string")
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise BadRequest("aliases must be an array of strings")
    if not isinstance(meta, dict):
        raise BadRequest("metadata must be an object")
    for name in ("labels", "annotations"):
        value = meta.get(name) or {}
        if not isinstance(value, dict) or not all(
            isinstance(v, str) for v in value.values()
        ):
            raise BadRequest(f"metadata.{name} must be an object of strings")
        meta[name] = value
    try:
        check_filename(filename)
        aliases = check_aliases(aliases)
    except Invalid as exc:
        raise BadRequest(str(exc)) from None
    return filename, aliases, meta


@bp.patch("/namespaces/<ns>/archives/<archive_id:archive_id>")
def patch_archive(ns: str, archive_id: str) -> JSONResponse:
    """Merge-patch the file name, aliases, labels and annotations (8.3).

    :raise 404: :raise 410: :raise 412: a condition failed.
    """
    patch = read_merge_patch()
    need_namespace(ns)
    client = get_client()
    key = f"/stashd/archives/{ns}/{archive_id}"
    for _ in range(service.ATTEMPTS):
        view = find(ns, archive_id)
        check_conditions(record_etag(record(ns, archive_id, view)), key)
        filename, aliases, meta = _patched(view, patch)
        stored = view.stored
        stored["filename"] = filename
        stored["labels"], stored["annotations"] = meta["labels"], meta["annotations"]
        stored["updated_at"] = int(time.time())
        etag = service.new_etag()
        call = store().write(
            ns, archive_id, stored, etag, view.etag, aliases, replace_aliases=True
        )
        outcome = client.run(call)
        if outcome is WriteOutcome.RECORD_CHANGED:
            if "If-Match" in request.headers or "If-None-Match" in request.headers:
                raise PreconditionFailed(
                    f"at least one condition failed for the key {key}"
                )
            continue
        if outcome is WriteOutcome.NO_NAMESPACE:
            raise NotFound(f"namespace {ns} does not exist")
        body = record(ns, archive_id, find(ns, archive_id))
        response = json_response(body)
        response.headers["ETag"] = quoted(record_etag(body))
        return response
    raise Conflict("the archive kept changing; try again")


@bp.delete("/namespaces/<ns>/archives/<archive_id:archive_id>")
def delete_archive(ns: str, archive_id: str) -> JSONResponse:
    """Move a record to the trash (``purge=true``: remove it).

    :raise 404: absent or already trashed. :raise 409: in use, without force.
    """
    need_namespace(ns)
    client = get_client()
    purge, force = truthy("purge"), truthy("force")
    if purge:
        scopes.require_unscoped()
    view = find(ns, archive_id, deleted=True)
    if view.deleted_at is not None and not purge:
        raise NotFound(f"archive {archive_id} not found")
    if not force:
        names = client.drive(namespaces().names())
        users = garbage.referencing(client, store(), names, archive_id, ns)
        if users:
            raise _in_use(archive_id, users)
    if view.deleted_at is None:
        now = int(time.time())
        call = store().trash(ns, archive_id, now, service.new_etag(), force)
        outcome = client.run(call)
        if outcome is TrashOutcome.REFERENCED:
            raise _in_use(archive_id, client.run(store().refs(ns, archive_id)))
        if outcome is TrashOutcome.TRASHED and not force:
            # The trash script sees only this namespace's references: on Redis
            # Cluster each namespace is a hash tag of its own, and one script
            # cannot read another's keys. So an asset of another namespace may
            # have started naming the archive between the check above and the
            # trash. Looking again now closes that window: an asset written before
            # the trash is seen, and the record is put back (its downloads
            # answered 410 meanwhile, which agents retry); one written after it
            # named an archive already deleted, as any asset may.
            users = garbage.referencing(client, store(), names, archive_id, ns)
            if users:
                client.run(store().restore(ns, archive_id, service.new_etag()))
                raise _in_use(archive_id, users)
        elif outcome is not TrashOutcome.TRASHED and not purge:
            raise NotFound(f"archive {archive_id} not found")
    if purge and force:
        client.run(store().purge(ns, archive_id, None))
    elif purge:
        purged, users = garbage.purge_unreferenced(
            client, store(), names, ns, archive_id, None
        )
        if purged == -1:
            # Put back in the trash; a record live before this request goes live.
            if view.deleted_at is None:
                client.run(store().restore(ns, archive_id, service.new_etag()))
            raise _in_use(archive_id, users)
    return empty(204)


def _in_use(archive_id: str, users: list[str]) -> Conflict:
    return Conflict(
        f"archive {archive_id} is used by asset(s) {', '.join(users)}; "
        "pass force=true to delete it anyway"
    )


@bp.post("/namespaces/<ns>/archives/<archive_id:archive_id>/restore")
def restore_archive(ns: str, archive_id: str) -> JSONResponse:
    """Take a record out of the trash, with the aliases nobody took. :raise 404:"""
    need_namespace(ns)
    outcome = get_client().run(store().restore(ns, archive_id, service.new_etag()))
    if outcome is RestoreOutcome.ABSENT:
        raise NotFound(f"archive {archive_id} not found")
    view = find(ns, archive_id)
    return json_response(record(ns, archive_id, view))


@bp.get("/namespaces/<ns>/archives/<archive_id:archive_id>/definition")
def archive_definition(ns: str, archive_id: str) -> JSONResponse:
    """The asset this archive would make (6.4); nothing is stored."""
    need_namespace(ns)
    view = find(ns, archive_id)
    filename = view.stored["filename"]
    name = request.args.get("name") or suggested_name(filename)
    url = base_url() + canonical_path(ns, archive_id, filename)
    asset = asset_json(service.suggested_definition(ns, name, archive_id, url))
    if truthy("wrapped"):
        metadata = asset.pop("metadata")
        asset = {
            "type": "Asset",
            "api_version": "core/v2",
            "metadata": metadata,
            "spec": asset,
        }
    return json_response(asset)


@bp.post("/archives/gc")
def collect_garbage() -> JSONResponse:
    """Garbage collection now (4.3). :raise 403: a scoped key. :raise 409: another
    process is collecting."""
    scopes.require_unscoped()
    client = get_client()
    names = client.drive(namespaces().names())
    report = garbage.collect_garbage(
        client, store(), blobs(), names, current_app.config
    )
    if report is None:
        raise Conflict("garbage collection is already running")
    return json_response(report._asdict())
