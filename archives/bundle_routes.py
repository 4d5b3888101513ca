"""``GET`` and ``POST …/namespaces/:ns/bundle`` (spec archives.md 13): export
assets with their archives as one tar, import one checked whole. HTTP only; the
format is `archives.bundles`, the work `archives.bundling`."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from flask import current_app, g, request

from accounts import scopes
from archives import bundles, bundling, upload
from archives.web import base_url, blobs, bp, need_namespace, store, truthy
from core.errors import BadRequest
from core.files import StreamBody
from core.http import JSONResponse, json_response
from core.settings import VERSION
from redisio.clients import get_client


@bp.get("/namespaces/<ns>/bundle")
def export_bundle(ns: str) -> JSONResponse:
    """A tar of the selected assets and archives, manifest first (13.1).

    :raise 400: nothing selected. :raise 404: an unknown asset or archive.
    :raise 409: an asset names an archive not served here (unless missing=skip).
    """
    scopes.require("assets", "read", ns)
    need_namespace(ns)
    chosen = bundling.select(
        get_client(),
        store(),
        blobs(),
        ns,
        request.args.getlist("asset"),
        request.args.getlist("archive"),
        truthy("all"),
        request.args.get("missing") == "skip",
        scopes.redacts(ns),
    )
    manifest = bundles.manifest(
        ns, base_url(), VERSION, chosen.entries, chosen.assets, chosen.missing
    )
    now = int(time.time())
    bundle = bundles.export(manifest, blobs(), chosen.entries, now)
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


def _options() -> tuple[bool, str]:
    """(rewrite_urls, on_conflict), checked before the body is read."""
    rewrite = (request.args.get("rewrite_urls") or "true").lower()
    if rewrite not in ("true", "false"):
        raise BadRequest("rewrite_urls must be true or false")
    on_conflict = request.args.get("on_conflict") or "fail"
    if on_conflict not in bundling.CONFLICTS:
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
    stream, length, boundary = upload.body_of(request.environ, limit)
    holder = None
    try:
        if boundary is None:
            reader: Any = bundles.Reader(upload.chunks(stream, length, limit))
        else:
            received = upload.receive_multipart(
                blobs(), stream, length, boundary, limit
            )
            holder = received.temp
            holder.close()
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
        body = bundling.store_import(
            get_client(),
            store(),
            blobs(),
            ns,
            bundle,
            rewrite,
            on_conflict,
            base_url(),
            g.user,
            current_app.config,
        )
    finally:
        bundle.discard()  # the temp files left: those not committed
    return json_response(body, 201)
