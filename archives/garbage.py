"""Archive garbage: references across namespaces (19.1), purging unreferenced
trash and blobs no record names (4.3, 9), the reference backfill at start, and
fsck. Shared by the routes, the background thread and the commands; runs a
`BlockingClient`, no Flask.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from archives.blobs import BlobStore
from archives.store import ArchiveStore
from redisio.clients import BlockingClient

log = logging.getLogger(__name__)


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
