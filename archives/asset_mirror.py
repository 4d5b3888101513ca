"""Mirroring an asset (spec archives.md 12.3): every upstream URL it names fetched
(or registered) as an archive, then the asset pointed here in one step with the
records. No Flask; the route is in `archives.mirror_routes`.

The fetches take long, and the asset may be written meanwhile: the final step is a
compare-and-set on the ETag read, and a lost race starts again from the asset as
it now is (6.3), so a concurrent PUT is never overwritten unseen. Each round reads
the records again; bytes already in place are not fetched again.
"""

from __future__ import annotations

import json
import time
from typing import Any, NamedTuple

from archives import fetcher, mirror, scan, service, upstream
from archives.import_store import ImportStore
from archives.schemas import ARCHIVE_ID, RecordView, Stored, canonical_path
from archives.store import AssetWrite
from core import strictjson
from core.errors import BadRequest, Conflict, NotFound
from core.park import Park
from sensugo.assets import Asset, asset_json, etag_of, load_asset, referenced_ids


class Mirrored(NamedTuple):
    """The asset as written, and the records of the ids it now names here."""

    asset: dict[str, Any]
    records: list[tuple[str, RecordView]]


def _entries(asset: Asset) -> list[Any]:
    """The entries of an asset that name a URL: its builds, else itself."""
    if asset["builds"]:
        return list(asset["builds"])
    return [asset] if asset["url"] else []


def mirror_asset(
    ctx: mirror.Context,
    ns: str,
    name: str,
    lazy: bool,
    headers: dict[str, str] | None,
    base_url: str,
    user: str,
    park: Park | None = None,
) -> Mirrored:
    """Mirror every upstream URL of asset `name` and point it here (12.3), retried
    when the asset changed between its read and the write.

    :raise NotFound: no such asset or namespace. :raise Conflict: the asset kept
    changing. :raise: as `fetcher.fetch_now` (Parked: sent again with `park`, the
    fetched ids are in its notes) and `upstream.check_host`.
    """
    for _ in range(service.ATTEMPTS):
        found = ctx.client.run(ctx.store.asset(ns, name))
        if found is None:
            raise NotFound(f"asset {name} not found")
        data, etag = found
        asset = load_asset(json.loads(data))
        here = base_url + "/archives/"
        todo = [e for e in _entries(asset) if not e["url"].startswith(here)]
        for entry in todo:
            if not ARCHIVE_ID.fullmatch(entry["sha512"].lower()):
                raise BadRequest(
                    f"asset {name}: {entry['url']} has no SHA-512 to verify"
                )
            upstream.check_host(entry["url"], ctx.config)
        now = int(time.time())
        wanted: dict[str, Stored] = {}
        for entry in todo:
            archive_id = entry["sha512"].lower()
            if archive_id not in wanted:
                wanted[archive_id] = _record(
                    ctx, ns, entry, archive_id, lazy, user, now, park
                )
        for entry in todo:
            archive_id = entry["sha512"].lower()
            path = canonical_path(ns, archive_id, wanted[archive_id]["filename"])
            entry["url"], entry["sha512"] = base_url + path, archive_id
            if headers is not None:
                entry["headers"] = dict(headers)
        asset["metadata"]["created_by"] = user
        out = asset_json(asset)
        encoded = strictjson.dumps(out)
        write = AssetWrite(name, encoded, etag_of(encoded), etag, referenced_ids(out))
        step = ImportStore(ctx.store.keys)
        call = step.import_bundle(ns, list(wanted.items()), [write], "replace")
        outcome = ctx.client.run(call)
        if outcome.no_namespace:
            raise NotFound(f"namespace {ns} does not exist")
        if outcome.changed is not None:
            continue
        arrived = [i for i, stored in wanted.items() if stored["state"] != "pending"]
        scan.after_arrival(ctx.client, ctx.store, ns, arrived, ctx.config)
        views = [(i, ctx.client.run(ctx.store.get(ns, i))) for i in wanted]
        return Mirrored(out, [(i, v) for i, v in views if v is not None])
    raise Conflict(f"asset {name} kept changing; try again")


def _record(
    ctx: mirror.Context,
    ns: str,
    entry: Any,
    archive_id: str,
    lazy: bool,
    user: str,
    now: int,
    park: Park | None,
) -> Stored:
    """The record an entry's id gets: the live one of `ns` as it is, else a new
    one with the bytes fetched (``now``, or already here) or pending."""
    current = ctx.client.run(ctx.store.get(ns, archive_id))
    if current is not None and current.deleted_at is None:
        return current.stored
    req = mirror.MirrorRequest(
        entry["url"], archive_id, dict(entry["headers"]), None, lazy
    )
    stored = mirror.pending_record(req, user, now)
    if not lazy or ctx.blobs.size(archive_id) is not None:
        sha256, size, kind, warnings = fetcher.fetch_now(
            ctx, req.url, req.headers, archive_id, park
        )
        stored = mirror.arrived(stored, sha256, size, kind, warnings, now)
    return stored
