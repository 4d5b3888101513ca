"""Archive downloads (spec archives.md 7): the checks of 7.1 in order, then the
exact bytes from disk, with conditionals and single ranges."""

from __future__ import annotations

import os
import time

from flask import current_app, g, request

from accounts import scopes
from accounts.authenticator import Authenticator
from archives import download, fetcher, shares
from archives.schemas import record_state, scan_blocks
from archives.web import (
    Gone,
    blobs,
    downloads,
    find,
    mirror_context,
    need_namespace,
    scanning_on,
    store,
)
from core.errors import ApiError, NotFound, Unauthorized
from core.files import FileBody
from core.http import JSONResponse
from core.park import PARK_KEY
from core.request import WSGIRequest
from redisio.clients import get_client


def _download_user() -> None:
    """Credentials and scope first (7.1), unless downloads are public. A share
    token, when given, alone decides (11)."""
    g.share = None
    tokens = request.args.getlist("token")
    if tokens:
        g.share = _share(tokens)
        g.user, g.scopes = g.share.created_by, None
        return
    if current_app.config["ARCHIVES_PUBLIC_READ"]:
        return
    auth: Authenticator = current_app.extensions["auth"]
    g.user, g.scopes = auth.sensu_go_identity(WSGIRequest(request.environ))
    namespace = (request.view_args or {}).get("ns")
    scopes.check_route(g.scopes, request.blueprint, request.method, namespace)


def _share(tokens: list[str]) -> shares.Share:
    """The share the ``token`` query names, if it opens this namespace's archive
    (the one in the URL; an alias's is checked once resolved).

    :raise Unauthorized: ``invalid or expired share token``.
    """
    view_args = request.view_args or {}
    parts = shares.split(tokens[0]) if len(tokens) == 1 else None
    share = None
    if parts is not None:
        held = current_app.extensions["shares"]
        share = get_client().run(held.get(view_args["ns"], parts[0]))
    secret = parts[1] if parts is not None else ""
    if not shares.opens(share, secret, view_args.get("archive_id"), int(time.time())):
        raise Unauthorized(shares.INVALID)
    assert share is not None
    return share


downloads.before_request(_download_user)


def _serve(ns: str, archive_id: str, canonical: bool) -> JSONResponse:
    """The checks of 7.1 from the record on, then the bytes from disk."""
    need_namespace(ns)
    if g.share is not None and g.share.archive != archive_id:
        raise Unauthorized(shares.INVALID)  # an alias of another archive
    view = find(ns, archive_id)
    if fetcher.waits(view, scanning_on()):
        park = request.environ.get(PARK_KEY)
        view = fetcher.pull_through(mirror_context(), ns, archive_id, view, park)
        if view.deleted_at is not None:
            raise Gone(f"archive {archive_id} was deleted at {view.deleted_at}")
    state = record_state(view)
    if scan_blocks(state, scanning_on()):
        raise NotFound(f"archive {archive_id} is not available (scan state: {state})")
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
