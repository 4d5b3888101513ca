"""The archives API in Flask (spec archives.md 1, 5-9). HTTP only.

`bp` holds the management routes under ``/api/core/v2`` (credentials first, as
every Sensu Go route); `downloads` the download routes at ``/archives/...``, which
check credentials themselves (they may be public) and answer from disk.
"""

from __future__ import annotations

import os
import time
from typing import Any, NamedTuple

from flask import Blueprint, current_app, g, request
from werkzeug.routing import BaseConverter

from accounts import require_user, scopes
from accounts.authenticator import Authenticator
from archives import download, service, upload
from archives.blobs import BlobStore, TempBlob
from archives.schemas import (
    ARCHIVE_ID,
    Invalid,
    RecordView,
    canonical_path,
    check_aliases,
    check_filename,
    parse_options,
    record_json,
    suggested_name,
)
from archives.store import (
    ArchiveStore,
    ListedRecord,
    RestoreOutcome,
    TrashOutcome,
    WriteOutcome,
    sort_member,
)
from core.errors import (
    ApiError,
    BadRequest,
    Conflict,
    NotFound,
    PreconditionFailed,
)
from core.files import FileBody
from core.http import JSONResponse, json_response
from core.request import WSGIRequest
from namespaces.store import NamespaceStore
from redisio.clients import get_client
from sensugo.assets import asset_json
from sensugo.http import check_conditions, empty, quoted, read_merge_patch
from sensugo.paging import (
    Batches,
    ListQuery,
    continue_headers,
    parse_list_query,
    take_page,
)
from sensugo.schemas import merge_patch
from sensugo.selectors import matches

bp = Blueprint("archives", __name__)
bp.before_request(require_user)
downloads = Blueprint("archive_downloads", __name__)

FIELDS = [
    "archive.sha512",
    "archive.namespace",
    "archive.filename",
    "archive.type",
    "archive.state",
    "archive.origin",
    "archive.labels.<key>",
]
OPERATORS = ["==", "!=", "in", "notin", "matches"]
SORTS = ["sha512", "created_at", "size", "filename"]


class Gone(ApiError):
    status, kind, default = 410, 2, "archive was deleted"


class ArchiveId(BaseConverter):
    """128 hex digits in either case, meaning the lowercased id."""

    regex = "[0-9a-fA-F]{128}"

    def to_python(self, value: str) -> str:
        return value.lower()


def _store() -> ArchiveStore:
    return current_app.extensions["archives"]


def _blobs() -> BlobStore:
    return current_app.extensions["blobs"]


def _namespaces() -> NamespaceStore:
    return current_app.extensions["namespaces"]


def _base_url() -> str:
    public = current_app.config["PUBLIC_URL"]
    return (public or request.host_url).rstrip("/")


def _need_namespace(ns: str) -> None:
    if not get_client().run(_namespaces().exists(ns)):
        raise NotFound(f"namespace {ns} does not exist")


def _view(ns: str, archive_id: str, deleted: bool = False) -> RecordView:
    """The record; :raise 404: absent. :raise 410: trashed, unless `deleted`."""
    view = get_client().run(_store().get(ns, archive_id))
    if view is None:
        raise NotFound(f"archive {archive_id} not found")
    if view.deleted_at is not None and not deleted:
        raise Gone(f"archive {archive_id} was deleted at {view.deleted_at}")
    return view


def _record(ns: str, archive_id: str, view: RecordView) -> dict[str, Any]:
    return record_json(ns, archive_id, view, _base_url())


_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no", "")


def _truthy(name: str) -> bool:
    """A yes/no query option, absent meaning no. :raise BadRequest: another value
    (a typo such as ``purge=ture`` must not pass as no)."""
    value = (request.args.get(name) or "").lower()
    if value not in _TRUE and value not in _FALSE:
        raise BadRequest(f"{name} must be true or false")
    return value in _TRUE


# Uploads


def _query_options() -> dict[str, list[str]]:
    return {name: request.args.getlist(name) for name in request.args}


@bp.post("/namespaces/<ns>/archives")
def upload_archive(ns: str) -> JSONResponse:
    """Upload an archive (raw body or multipart), optionally writing an asset.

    :raise 400: a bad option or bytes. :raise 404: no such namespace.
    :raise 409: an asset conflict. :raise 413: too large.
    """
    query = _query_options()
    if "asset" in query:
        scopes.require("assets", "write", ns)
    _need_namespace(ns)
    try:
        options = parse_options(query)  # before a byte of the body is read
    except Invalid as exc:
        raise BadRequest(str(exc)) from None
    limit = current_app.config["ARCHIVE_MAX_BYTES"]
    environ = request.environ
    boundary = upload.multipart_boundary(request.headers.get("Content-Type"))
    overhead = upload.MULTIPART_OVERHEAD if boundary else 0
    length = upload.declared_length(environ.get("CONTENT_LENGTH"), limit, overhead)
    if length is None and not environ.get("wsgi.input_terminated", False):
        length = 0
    stream = environ["wsgi.input"]
    definition = None
    if boundary is None:
        temp = upload.receive_raw(_blobs(), stream, length, limit)
        filename = upload.disposition_filename(
            request.headers.get("Content-Disposition")
        )
    else:
        received = upload.receive_multipart(_blobs(), stream, length, boundary, limit)
        temp, filename, definition = (
            received.temp,
            received.filename,
            received.definition,
        )
        try:
            options = parse_options({**received.options, **query})
        except Invalid as exc:
            temp.discard()
            raise BadRequest(str(exc)) from None
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
        kind, warnings = service.check_bytes(temp)
    except BaseException:
        temp.discard()
        raise
    service.commit(_blobs(), temp)
    config = current_app.config
    job = service.Upload(
        ns,
        g.user,
        options,
        filename,
        definition,
        _base_url(),
        config["ARCHIVES_PUBLIC_READ"],
    )
    outcome = service.store_upload(get_client(), _store(), job, temp, kind, warnings)
    response = json_response(outcome.body, outcome.status)
    response.headers["Location"] = f"/api/core/v2/namespaces/{ns}/archives/{temp.id}"
    return response


# Records


def _fields(item: ListedRecord) -> dict[str, str]:
    stored = item.view.stored
    found = {
        "archive.sha512": item.id,
        "archive.namespace": item.namespace,
        "archive.filename": stored["filename"],
        "archive.type": stored["type"],
        "archive.state": stored["state"],
        "archive.origin": stored["origin"]["kind"],
    }
    for key, value in stored["labels"].items():
        found["archive.labels." + key] = value
    return found


class Sort(NamedTuple):
    """A list's order: the sort key, descending or not."""

    by: str
    desc: bool

    def key(self, member: str) -> str:
        """The paging key of the item with `member`: plain ids in Sensu's default
        order, else the sort named first, so a token fits only its own sort."""
        if self.by == "sha512" and not self.desc:
            return member
        return f"~{self.by}:{'desc' if self.desc else 'asc'}:{member}"

    def member(self, key: str | None) -> str | None:
        """The member a paging key resumes after. :raise BadRequest: another
        sort's key."""
        if key is None:
            return None
        if self.by == "sha512" and not self.desc:
            if key.startswith("~"):
                raise BadRequest("continue token does not match the sort")
            return key
        prefix = self.key("")
        if not key.startswith(prefix):
            raise BadRequest("continue token does not match the sort")
        return key[len(prefix) :]


def _sort() -> Sort:
    """``sort_by`` and ``sort_order`` (8.1). :raise BadRequest: unknown ones."""
    by = request.args.get("sort_by") or "sha512"
    if by not in SORTS:
        raise BadRequest(f"sort_by must be one of {', '.join(SORTS)}")
    order = request.args.get("sort_order") or "asc"
    if order not in ("asc", "desc"):
        raise BadRequest("sort_order must be asc or desc")
    return Sort(by, order == "desc")


def _record_list(
    batches: Batches, query: ListQuery, sort: Sort, every: bool
) -> JSONResponse:
    keep = None
    if query.labels or query.fields:

        def keep(item: ListedRecord) -> bool:
            labels = item.view.stored["labels"]
            return matches(query.labels, labels) and matches(
                query.fields, _fields(item)
            )

    page, more = get_client().drive(take_page(batches, query.limit, keep))
    base = _base_url()
    body = [record_json(i.namespace, i.id, i.view, base) for i in page]
    response = json_response(body)
    last = page[-1] if page else None
    if last is not None:
        key = sort.key(sort_member(last, sort.by))
        key = f"{last.namespace}/{key}" if every else key
        response.headers.update(continue_headers(more, key))
    if _truthy("include_total"):
        total, _ = get_client().drive(take_page(batches, None, keep))
        response.headers["X-Total-Count"] = str(len(total))
    return response


@bp.get("/namespaces/<ns>/archives")
def list_archives(ns: str) -> JSONResponse:
    """The records of `ns` by id (``deleted=true``: the trash)."""
    _need_namespace(ns)
    sort = _sort()
    query = parse_list_query(request.args)
    after = sort.member(query.after)
    if after is not None and sort.by == "sha512" and not ARCHIVE_ID.fullmatch(after):
        raise BadRequest("invalid continue token")
    trash = _truthy("deleted")
    batches = _store().records(ns, after, trash, 500, sort.by, sort.desc)
    return _record_list(batches, query, sort, every=False)


@bp.get("/archives")
def list_all_archives() -> JSONResponse:
    """The records of every namespace, by namespace, then the sort."""
    sort = _sort()
    query = parse_list_query(request.args)
    if query.after is not None and "/" not in query.after:
        raise BadRequest("invalid continue token")
    names = sorted(get_client().drive(_namespaces().names()))
    after_ns, _, after_key = (query.after or "").partition("/")
    after_id = sort.member(after_key) if query.after is not None else None
    after = None if query.after is None else (after_ns, after_id)
    batches = _store().every_record(
        names, after, _truthy("deleted"), 500, sort.by, sort.desc
    )
    return _record_list(batches, query, sort, every=True)


@bp.get("/namespaces/<ns>/archives/filters")
def archive_filters(ns: str) -> JSONResponse:
    """What list filters and sorts accept (8.2)."""
    _need_namespace(ns)
    return json_response({"fields": FIELDS, "operators": OPERATORS, "sort_by": SORTS})


@bp.get("/namespaces/<ns>/archives/<archive_id:archive_id>")
def get_archive(ns: str, archive_id: str) -> JSONResponse:
    """One record, with its ETag. :raise 404: :raise 410: trashed."""
    _need_namespace(ns)
    view = _view(ns, archive_id, deleted=_truthy("deleted"))
    response = json_response(_record(ns, archive_id, view))
    response.headers["ETag"] = quoted(view.etag)
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
    _need_namespace(ns)
    client = get_client()
    key = f"/stashd/archives/{ns}/{archive_id}"
    for _ in range(service.ATTEMPTS):
        view = _view(ns, archive_id)
        check_conditions(view.etag, key)
        filename, aliases, meta = _patched(view, patch)
        stored = view.stored
        stored["filename"] = filename
        stored["labels"], stored["annotations"] = meta["labels"], meta["annotations"]
        stored["updated_at"] = int(time.time())
        etag = service.new_etag()
        call = _store().write(
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
        final = _view(ns, archive_id)
        response = json_response(_record(ns, archive_id, final))
        response.headers["ETag"] = quoted(final.etag)
        return response
    raise Conflict("the archive kept changing; try again")


@bp.delete("/namespaces/<ns>/archives/<archive_id:archive_id>")
def delete_archive(ns: str, archive_id: str) -> JSONResponse:
    """Move a record to the trash (``purge=true``: remove it).

    :raise 404: absent or already trashed. :raise 409: in use, without force.
    """
    _need_namespace(ns)
    client = get_client()
    purge, force = _truthy("purge"), _truthy("force")
    if purge:
        scopes.require_unscoped()
    view = _view(ns, archive_id, deleted=True)
    if view.deleted_at is not None and not purge:
        raise NotFound(f"archive {archive_id} not found")
    if not force:
        names = client.drive(_namespaces().names())
        users = service.referencing(client, _store(), names, archive_id, ns)
        if users:
            raise Conflict(
                f"archive {archive_id} is used by asset(s) {', '.join(users)}; "
                "pass force=true to delete it anyway"
            )
    if purge:
        client.run(_store().purge(ns, archive_id, None))
        return empty(204)
    now = int(time.time())
    call = _store().trash(ns, archive_id, now, service.new_etag(), force)
    outcome = client.run(call)
    if outcome is TrashOutcome.REFERENCED:
        users = client.run(_store().refs(ns, archive_id))
        raise Conflict(
            f"archive {archive_id} is used by asset(s) {', '.join(users)}; "
            "pass force=true to delete it anyway"
        )
    if outcome is not TrashOutcome.TRASHED:
        raise NotFound(f"archive {archive_id} not found")
    return empty(204)


@bp.post("/namespaces/<ns>/archives/<archive_id:archive_id>/restore")
def restore_archive(ns: str, archive_id: str) -> JSONResponse:
    """Take a record out of the trash, with the aliases nobody took. :raise 404:"""
    _need_namespace(ns)
    outcome = get_client().run(_store().restore(ns, archive_id, service.new_etag()))
    if outcome is RestoreOutcome.ABSENT:
        raise NotFound(f"archive {archive_id} not found")
    view = _view(ns, archive_id)
    return json_response(_record(ns, archive_id, view))


@bp.get("/namespaces/<ns>/archives/<archive_id:archive_id>/definition")
def archive_definition(ns: str, archive_id: str) -> JSONResponse:
    """The asset this archive would make (6.4); nothing is stored."""
    _need_namespace(ns)
    view = _view(ns, archive_id)
    filename = view.stored["filename"]
    name = request.args.get("name") or suggested_name(filename)
    url = _base_url() + canonical_path(ns, archive_id, filename)
    asset = asset_json(service.suggested_definition(ns, name, archive_id, url))
    if _truthy("wrapped"):
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
    names = client.drive(_namespaces().names())
    report = service.collect_garbage(
        client, _store(), _blobs(), names, current_app.config
    )
    if report is None:
        raise Conflict("garbage collection is already running")
    return json_response(report._asdict())


# Downloads


def _download_user() -> None:
    """Credentials and scope first (7.1), unless downloads are public."""
    if current_app.config["ARCHIVES_PUBLIC_READ"]:
        return
    auth: Authenticator = current_app.extensions["auth"]
    g.user, g.scopes = auth.sensu_go_identity(WSGIRequest(request.environ))
    namespace = (request.view_args or {}).get("ns")
    scopes.check_route(g.scopes, request.blueprint, request.method, namespace)


downloads.before_request(_download_user)


def _serve(ns: str, archive_id: str, canonical: bool) -> JSONResponse:
    """The checks of 7.1 from the record on, then the bytes from disk."""
    _need_namespace(ns)
    view = _view(ns, archive_id)
    stored = view.stored
    path = _blobs().path(archive_id)
    try:
        file = open(path, "rb")  # noqa: SIM115 - the server closes it after sending
    except FileNotFoundError:
        file = None
    if file is None or os.fstat(file.fileno()).st_size != stored["size"]:
        if file is not None:
            file.close()
        current_app.logger.error(
            "archive %s: blob missing or of the wrong size", archive_id
        )
        raise ApiError("archive storage is damaged")
    public = current_app.config["ARCHIVES_PUBLIC_READ"]
    cache = "no-cache"
    if canonical:
        cache = ("public, " if public else "private, ") + download.IMMUTABLE
    headers = {
        name: request.headers.get(name)
        for name in ("if-none-match", "if-modified-since", "range", "if-range")
    }
    headers["method"] = request.method
    try:
        answer = download.plan(
            archive_id,
            stored["sha256"],
            stored["size"],
            stored["type"],
            stored["filename"],
            stored["created_at"],
            cache,
            headers,
        )
    except BaseException:
        file.close()
        raise
    if answer.status in (200, 206) and request.method == "GET":
        get_client().run(_store().touch(ns, archive_id, int(time.time())))
    response = JSONResponse(status=answer.status)
    response.headers.clear()
    for name, value in answer.headers:
        response.headers[name] = value
    if answer.span is None:
        file.close()
        return response
    offset, length = answer.span
    wrapper = request.environ.get("wsgi.file_wrapper")
    if wrapper is not None and offset == 0 and length == stored["size"]:
        response.response = wrapper(file, 1 << 20)  # gunicorn: sendfile
    else:
        response.response = FileBody(file, path, offset, length)
    response.direct_passthrough = True
    return response


@downloads.route(
    "/archives/<ns>/<archive_id:archive_id>/<filename>", methods=["GET", "HEAD"]
)
def download_named(ns: str, archive_id: str, filename: str) -> JSONResponse:
    """The canonical URL: the archive's exact bytes, whatever `filename` says."""
    return _serve(ns, archive_id, canonical=True)


@downloads.route("/archives/<ns>/<archive_id:archive_id>", methods=["GET", "HEAD"])
def download_archive(ns: str, archive_id: str) -> JSONResponse:
    """The canonical URL without a file name."""
    return _serve(ns, archive_id, canonical=True)


@downloads.route("/archives/<ns>/paths/<path:alias>", methods=["GET", "HEAD"])
def download_alias(ns: str, alias: str) -> JSONResponse:
    """The archive an alias points at now; revalidated on every use."""
    _need_namespace(ns)
    archive_id = get_client().run(_store().alias(ns, alias))
    if archive_id is None:
        raise NotFound(f"alias {alias} not found")
    return _serve(ns, archive_id, canonical=False)
