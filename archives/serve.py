"""Archive downloads (spec archives.md 7): the checks of 7.1 in order, then the
exact bytes from disk, with conditionals and single ranges."""

from __future__ import annotations

import os
import time

from flask import current_app, g, request

from accounts import scopes
from accounts.authenticator import Authenticator
from archives import download, mirror
from archives.web import (
    Gone,
    blobs,
    downloads,
    find,
    mirror_context,
    need_namespace,
    store,
)
from core.errors import ApiError, NotFound
from core.files import FileBody
from core.http import JSONResponse
from core.request import WSGIRequest
from redisio.clients import get_client


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
    need_namespace(ns)
    view = find(ns, archive_id)
    if view.stored["state"] in ("pending", "failed"):
        view = mirror.pull_through(mirror_context(), ns, archive_id, view)
        if view.deleted_at is not None:
            raise Gone(f"archive {archive_id} was deleted at {view.deleted_at}")
    stored = view.stored
    path = blobs().path(archive_id)
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
        get_client().run(store().touch(ns, archive_id, int(time.time())))
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
    need_namespace(ns)
    archive_id = get_client().run(store().alias(ns, alias))
    if archive_id is None:
        raise NotFound(f"alias {alias} not found")
    return _serve(ns, archive_id, canonical=False)
