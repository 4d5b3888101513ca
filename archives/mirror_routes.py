"""``POST …/namespaces/:ns/archives/mirror`` (spec archives.md 12.1): register an
upstream archive, fetched now or by its first download; ``POST
…/namespaces/:ns/assets/:name/mirror`` (12.3): the same for every URL of an asset,
then the asset pointed here. HTTP only; the work is in `archives.mirror`."""

from __future__ import annotations

import json
import time
from typing import Any

from flask import g, request

from accounts import scopes
from archives import mirror, scan, upstream
from archives.schemas import ARCHIVE_ID, RecordView, Stored, canonical_path
from archives.store import AssetWrite, WriteOutcome
from archives.web import (
    base_url,
    bp,
    find,
    mirror_context,
    need_namespace,
    record,
)
from core import strictjson
from core.errors import BadRequest, NotFound
from core.http import JSONResponse, json_response
from core.park import PARK_KEY, Park
from sensugo.assets import Asset, asset_json, etag_of, load_asset, referenced_ids
from sensugo.http import read_json, read_raw


@bp.post("/namespaces/<ns>/archives/mirror")
def mirror_archive(ns: str) -> JSONResponse:
    """Mirror an upstream archive: 201 with its bytes in (``fetch=now``), 202
    pending (``lazy``), 200 when this namespace already serves it.

    :raise 400: a bad body, or the upstream's bytes are not that archive.
    :raise 403: the host is not allowed. :raise 502: :raise 504: the upstream.
    """
    need_namespace(ns)
    park: Park | None = request.environ.get(PARK_KEY)
    notes = park.notes if park is not None else {}
    # Sent again after its fetch (core/park.py), the request has no body left.
    req = notes.get("request") or mirror.parse_request(read_json())
    notes["request"] = req
    ctx = mirror_context()
    upstream.check_host(req.url, ctx.config)
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
        sha256, size, kind, warnings = mirror.fetch_now(
            ctx, req.url, req.headers, archive_id, park
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
    if final is None:
        raise NotFound(f"archive {archive_id} not found")
    if final.stored["state"] != "pending":
        scan.after_arrival(ctx.client, ctx.store, ns, [archive_id], ctx.config)
        final = find(ns, archive_id)
    status = 202 if final.stored["state"] == "pending" else 201
    if outcome is not WriteOutcome.CREATED and status == 201:
        status = 200
    response = json_response(record(ns, archive_id, final), status)
    response.headers["Location"] = f"/api/core/v2/namespaces/{ns}/archives/{archive_id}"
    return response


def _entries(asset: Asset) -> list[Any]:
    """The entries of an asset that name a URL: its builds, else itself."""
    if asset["builds"]:
        return list(asset["builds"])
    return [asset] if asset["url"] else []


@bp.post("/namespaces/<ns>/assets/<asset:name>/mirror")
def mirror_asset(ns: str, name: str) -> JSONResponse:
    """Mirror every URL an asset names and point the asset here, in one step once
    all are fetched (``now``) or registered (``lazy``) (12.3).

    :raise 404: no such asset. :raise 403: a host not allowed.
    :raise 400, 502, 504: as the archive mirror; nothing changes then.
    """
    scopes.require("assets", "write", ns)
    need_namespace(ns)
    park: Park | None = request.environ.get(PARK_KEY)
    notes = park.notes if park is not None else {}
    # Sent again after a fetch (core/park.py), the request has no body left.
    data = notes["body"] if "body" in notes else read_raw()
    notes["body"] = data
    body = strictjson.parse_object(data) if data.strip() else {}
    lazy = body.get("fetch", "now")
    if lazy not in ("now", "lazy"):
        raise BadRequest("fetch must be now or lazy")
    lazy = lazy == "lazy"
    headers = body.get("headers")
    if headers is not None and (
        not isinstance(headers, dict)
        or not all(isinstance(v, str) for v in headers.values())
    ):
        raise BadRequest("headers must be an object of strings")
    ctx = mirror_context()
    found = ctx.client.run(ctx.store.asset(ns, name))
    if found is None:
        raise NotFound(f"asset {name} not found")
    asset = load_asset(json.loads(found[0]))
    here = base_url() + "/archives/"
    todo = [e for e in _entries(asset) if not e["url"].startswith(here)]
    for entry in todo:
        if not ARCHIVE_ID.fullmatch(entry["sha512"].lower()):
            raise BadRequest(f"asset {name}: {entry['url']} has no SHA-512 to verify")
        upstream.check_host(entry["url"], ctx.config)
    now = int(time.time())
    records: dict[str, Stored] = {}
    for entry in todo:
        archive_id = entry["sha512"].lower()
        if archive_id in records:
            continue
        req = mirror.MirrorRequest(
            entry["url"], archive_id, dict(entry["headers"]), None, lazy
        )
        current = ctx.client.run(ctx.store.get(ns, archive_id))
        if current is not None and current.deleted_at is None:
            records[archive_id] = current.stored
            continue
        stored = mirror.pending_record(req, g.user, now)
        if not lazy or ctx.blobs.size(archive_id) is not None:
            sha256, size, kind, warnings = mirror.fetch_now(
                ctx, req.url, req.headers, archive_id, park
            )
            stored = mirror.arrived(stored, sha256, size, kind, warnings, now)
        records[archive_id] = stored
    for entry in todo:
        archive_id = entry["sha512"].lower()
        path = canonical_path(ns, archive_id, records[archive_id]["filename"])
        entry["url"], entry["sha512"] = base_url() + path, archive_id
        if headers is not None:
            entry["headers"] = dict(headers)
    asset["metadata"]["created_by"] = g.user
    out = asset_json(asset)
    encoded = strictjson.dumps(out)
    write = AssetWrite(name, encoded, etag_of(encoded), "", referenced_ids(out))
    call = ctx.store.import_bundle(ns, list(records.items()), [write], "replace")
    outcome = ctx.client.run(call)
    if outcome.no_namespace:
        raise NotFound(f"namespace {ns} does not exist")
    arrived = [i for i, stored in records.items() if stored["state"] != "pending"]
    scan.after_arrival(ctx.client, ctx.store, ns, arrived, ctx.config)
    views = [(i, ctx.client.run(ctx.store.get(ns, i))) for i in records]
    archives = [record(ns, i, v) for i, v in views if v is not None]
    pending = any(a["state"] == "pending" for a in archives)
    return json_response({"asset": out, "archives": archives}, 202 if pending else 200)
