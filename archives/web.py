"""What every archive route shares: the two blueprints, the stores, the record.

`bp` holds the management routes under ``/api/core/v2`` (credentials first, as
every Sensu Go route); `downloads` the download routes at ``/archives/...``, which
check credentials themselves (they may be public) and answer from disk.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request
from werkzeug.routing import BaseConverter

from accounts import require_user
from archives import mirror
from archives.blobs import BlobStore
from archives.scan import scanning
from archives.scan_store import ScanStore
from archives.schemas import RecordView, record_json
from archives.store import ArchiveStore
from core.errors import ApiError, BadRequest, NotFound
from namespaces.store import NamespaceStore
from redisio.clients import get_client

bp = Blueprint("archives", __name__)
bp.before_request(require_user)
downloads = Blueprint("archive_downloads", __name__)


class Gone(ApiError):
    status, kind, default = 410, 2, "archive was deleted"


class ArchiveId(BaseConverter):
    """128 hex digits in either case, meaning the lowercased id."""

    regex = "[0-9a-fA-F]{128}"

    def to_python(self, value: str) -> str:
        return value.lower()


def store() -> ArchiveStore:
    return current_app.extensions["archives"]


def blobs() -> BlobStore:
    return current_app.extensions["blobs"]


def namespaces() -> NamespaceStore:
    return current_app.extensions["namespaces"]


def mirror_context() -> mirror.Context:
    """What a mirror fetch needs, from the current app."""
    wake = current_app.extensions.get("scan_wake")
    return mirror.Context(get_client(), store(), blobs(), current_app.config, wake)


def base_url() -> str:
    public = current_app.config["PUBLIC_URL"]
    return (public or request.host_url).rstrip("/")


def need_namespace(ns: str) -> None:
    if not get_client().run(namespaces().exists(ns)):
        raise NotFound(f"namespace {ns} does not exist")


def find(ns: str, archive_id: str, deleted: bool = False) -> RecordView:
    """The record; :raise 404: absent. :raise 410: trashed, unless `deleted`."""
    view = get_client().run(store().get(ns, archive_id))
    if view is None:
        raise NotFound(f"archive {archive_id} not found")
    if view.deleted_at is not None and not deleted:
        raise Gone(f"archive {archive_id} was deleted at {view.deleted_at}")
    return view


def record(ns: str, archive_id: str, view: RecordView) -> dict[str, Any]:
    return record_json(ns, archive_id, view, base_url(), scanning_on())


def scans() -> ScanStore:
    return current_app.extensions["scans"]


def scanning_on() -> bool:
    """True when the scan hook is on (spec archives.md 10)."""
    return scanning(current_app.config)


def wake_scanner() -> None:
    """Let this process's scan worker look at the queue now, not at its next poll."""
    wake = current_app.extensions.get("scan_wake")
    if wake is not None:
        wake.set()


_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no", "")


def truthy(name: str) -> bool:
    """A yes/no query option, absent meaning no. :raise BadRequest: another value
    (a typo such as ``purge=ture`` must not pass as no)."""
    value = (request.args.get(name) or "").lower()
    if value not in _TRUE and value not in _FALSE:
        raise BadRequest(f"{name} must be true or false")
    return value in _TRUE
