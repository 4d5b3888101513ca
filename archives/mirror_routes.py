"""``POST …/namespaces/:ns/archives/mirror`` (spec archives.md 12.1): register an
upstream archive, fetched now or by its first download. HTTP only; the work is in
`archives.mirror`."""

from __future__ import annotations

import time

from flask import current_app, g

from archives import mirror
from archives.schemas import RecordView, Stored
from archives.store import WriteOutcome
from archives.web import blobs, bp, need_namespace, record, store
from core.http import JSONResponse, json_response
from redisio.clients import get_client
from sensugo.http import read_json


def context() -> mirror.Context:
    """The current app's mirror context."""
    return mirror.Context(get_client(), store(), blobs(), current_app.config)


@bp.post("/namespaces/<ns>/archives/mirror")
def mirror_archive(ns: str) -> JSONResponse:
    """Mirror an upstream archive: 201 with its bytes in (``fetch=now``), 202
    pending (``lazy``), 200 when this namespace already serves it.

    :raise 400: a bad body, or the upstream's bytes are not that archive.
    :raise 403: the host is not allowed. :raise 502: :raise 504: the upstream.
    """
    need_namespace(ns)
    req = mirror.parse_request(read_json())
    ctx = context()
    mirror.check_host(req.url, ctx.config)
    archive_id = req.sha512
    current: RecordView | None = ctx.client.run(ctx.store.get(ns, archive_id))
    if (
        current is not None
        and current.deleted_at is None
        and current.stored["state"] not in ("pending", "failed")
    ):
        return json_response(record(ns, archive_id, current), 200)
    now = int(time.time())
    stored = mirror.pending_record(req, g.user, now)
    here = ctx.blobs.size(archive_id) is not None
    if not req.lazy or here:
        sha256, size, kind, warnings = mirror.bring_in(
            ctx, req.url, req.headers, archive_id
        )
        stored = mirror.arrived(stored, sha256, size, kind, warnings, int(time.time()))

    def make(view: RecordView | None) -> Stored:
        if view is None or view.deleted_at is not None:
            return stored
        # Another request brought it in meanwhile: keep what it stored.
        if view.stored["state"] not in ("pending", "failed"):
            return view.stored
        return stored

    outcome, final = mirror.put_record(ctx.client, ctx.store, ns, archive_id, make)
    status = 202 if final.stored["state"] == "pending" else 201
    if outcome is not WriteOutcome.CREATED and status == 201:
        status = 200
    response = json_response(record(ns, archive_id, final), status)
    response.headers["Location"] = f"/api/core/v2/namespaces/{ns}/archives/{archive_id}"
    return response
