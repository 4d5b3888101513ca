"""Bundle work shared by the routes and the commands (spec archives.md 13): what an
export holds, and storing an import once it is read and checked. Runs a
`BlockingClient`; no Flask. The tar itself is `archives.bundles`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

import marshmallow as ma

from archives import bundles, scan, service
from archives.blobs import BlobStore
from archives.import_store import ANY_ETAG, ImportStore
from archives.schemas import Origin, RecordView, Stored, canonical_path
from archives.store import ArchiveStore, AssetWrite
from core import strictjson
from core.errors import ApiError, BadRequest, Conflict, NotFound
from redisio.clients import BlockingClient
from sensugo.assets import Invalid as AssetInvalid
from sensugo.assets import (
    asset_json,
    etag_of,
    load_asset,
    redacted,
    referenced_ids,
    validate_asset,
)

log = logging.getLogger(__name__)

CONFLICTS = ("fail", "skip", "replace")
SERVABLE = ("unscanned", "clean")


class Selection(NamedTuple):
    """What an export holds: the archives, the assets (as GET shows them), and
    the ids assets name that are not here (``missing=skip``)."""

    entries: list[bundles.Entry]
    assets: list[dict[str, Any]]
    missing: list[str]


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


def select(
    client: BlockingClient,
    store: ArchiveStore,
    blobs: BlobStore,
    ns: str,
    names: list[str],
    ids: list[str],
    everything: bool,
    skip_missing: bool,
    redact: bool,
) -> Selection:
    """The assets `names` with every archive they name, the archives `ids`, or
    (`everything`) all of `ns`; asset header values redacted with `redact`.

    :raise BadRequest: nothing selected. :raise NotFound: an unknown name or id.
    :raise Conflict: an asset names an archive not served here (unless
    `skip_missing`). :raise ApiError: a blob is damaged.
    """
    if not names and not ids and not everything:
        raise BadRequest(
            "select what to export: asset=<name>, archive=<id> or all=true"
        )
    ids = [i.lower() for i in ids]
    if everything:
        names = sorted(set(names) | set(client.run(store.asset_names(ns))))
        ids = sorted(set(ids) | set(client.run(store.live_ids(ns))))
    assets: list[dict[str, Any]] = []
    wanted: dict[str, str | None] = {}  # id -> the asset needing it (None: asked)
    for name in dict.fromkeys(names):
        found = client.run(store.asset(ns, name))
        if found is None:
            raise NotFound(f"asset {name} not found")
        data = found[0]
        assets.append(json.loads(redacted(data) if redact else data))
        for archive_id in referenced_ids(json.loads(data)):
            wanted.setdefault(archive_id, name)
    for archive_id in ids:
        view = client.run(store.get(ns, archive_id))
        if view is None or view.deleted_at is not None:
            raise NotFound(f"archive {archive_id} not found")
        wanted[archive_id] = None
    entries: list[bundles.Entry] = []
    missing: list[str] = []
    for archive_id, needed_by in wanted.items():
        view = client.run(store.get(ns, archive_id))
        if view is None or not _servable(view):
            if needed_by is not None and skip_missing:
                missing.append(archive_id)
                continue
            if needed_by is not None:
                raise Conflict(
                    f"asset {needed_by} needs {archive_id}, which this namespace does "
                    "not host; mirror it or pass missing=skip"
                )
            raise Conflict(f"archive {archive_id} is not available")
        if blobs.size(archive_id) != view.stored["size"]:
            log.error("archive %s: blob missing or of the wrong size", archive_id)
            raise ApiError("archive storage is damaged")
        entries.append(_entry(archive_id, view))
    return Selection(entries, assets, missing)


def asset_writes(
    ns: str, received: bundles.Received, rewrite: bool, base_url: str, user: str
) -> list[AssetWrite]:
    """The bundle's assets as `ns` stores them: namespace replaced, and with
    `rewrite`, each URL of an archive in the bundle pointed at `base_url`.

    :raise BadRequest: an invalid asset, or one named twice.
    """
    filenames = {e.sha512: e.filename for e in received.entries}
    writes: dict[str, AssetWrite] = {}
    for item in received.assets:
        meta_in = item.get("metadata") if isinstance(item, dict) else None
        label = meta_in.get("name") if isinstance(meta_in, dict) else None
        try:
            asset = load_asset(item)
            meta = asset["metadata"]
            meta["namespace"], meta["created_by"] = ns, user
            if rewrite:
                for entry in [asset, *asset["builds"]]:
                    archive_id = entry["sha512"].lower()
                    if archive_id in filenames:
                        path = canonical_path(ns, archive_id, filenames[archive_id])
                        entry["url"] = base_url + path
            validate_asset(asset)
        except (AssetInvalid, ma.ValidationError, ValueError) as exc:
            raise BadRequest(f"asset {label} is invalid: {exc}") from None
        name = meta["name"]
        if name in writes:
            raise BadRequest(f"asset {name} comes twice")
        out = asset_json(asset)
        data = strictjson.dumps(out)
        # on_conflict decides what becomes of an asset found there, in the same
        # step as the write, so nothing read before it can be stale.
        writes[name] = AssetWrite(
            name, data, etag_of(data), ANY_ETAG, referenced_ids(out)
        )
    return list(writes.values())


def store_import(
    client: BlockingClient,
    store: ArchiveStore,
    blobs: BlobStore,
    ns: str,
    received: bundles.Received,
    rewrite: bool,
    on_conflict: str,
    base_url: str,
    user: str,
    config: Mapping[str, Any],
) -> dict[str, Any]:
    """A bundle read and checked whole: its blobs into place, then its records and
    assets in one step; the body of 13.2's 201. The caller discards `received`.

    :raise BadRequest: an invalid asset. :raise Conflict: an asset exists
    (``fail``). :raise NotFound: the namespace went.
    """
    writes = asset_writes(ns, received, rewrite, base_url, user)
    if on_conflict == "fail":
        for write in writes:
            if client.run(store.asset(ns, write.name)) is not None:
                raise Conflict(f"asset {write.name} already exists")
    records: list[tuple[str, Stored]] = []
    now = int(time.time())
    for entry in received.entries:
        temp, kind, warnings = received.temps.pop(entry.sha512)
        service.commit(blobs, temp, cached=False)
        origin = Origin(
            kind="bundle", url=None, headers=[], fetched_at=None, error=None
        )
        records.append(
            (
                entry.sha512,
                Stored(
                    sha256=entry.sha256,
                    size=entry.size,
                    type=kind,
                    filename=entry.filename,
                    state="unscanned",
                    origin=origin,
                    warnings=warnings,
                    created_at=now,
                    updated_at=now,
                    labels=entry.labels,
                    annotations=entry.annotations,
                    created_by=user,
                ),
            )
        )
    call = ImportStore(store.keys).import_bundle(ns, records, writes, on_conflict)
    outcome = client.run(call)
    if outcome.no_namespace:
        raise NotFound(f"namespace {ns} does not exist")
    if outcome.conflict is not None:
        raise Conflict(f"asset {outcome.conflict} already exists")
    scan.after_arrival(client, store, ns, outcome.created, config)
    return {
        "archives": {"created": outcome.created, "existing": outcome.existing},
        "assets": {
            "created": outcome.assets_created,
            "replaced": outcome.assets_replaced,
            "skipped": outcome.assets_skipped,
        },
    }
