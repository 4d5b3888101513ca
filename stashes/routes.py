"""The Sensu 1.x API in Flask: stashes, /health and /info. HTTP only.

What each stash request does is in `service`; the fast path (`fast`) serves the
single-stash routes and ``POST /stashes`` with the same functions, without Flask.
"""

from __future__ import annotations

import hashlib
import json

from flask import Blueprint, current_app, request
from werkzeug.routing import BaseConverter

from core.errors import UNREACHABLE
from core.http import JSONResponse, json_response, reply_response
from core.request import read_body
from core.settings import VERSION, public_settings
from redisio.clients import get_client, get_redis
from sensu1.query import parse_list_query, query_args
from stashes import service
from stashes.store import StashStore

bp = Blueprint("stashes", __name__)


class StashPath(BaseConverter):
    """The rest of the URL path, verbatim: empty, leading, inner or trailing "/" too."""

    regex = ".*"
    part_isolating = False


# Both prefixes name the same stash.
ONE_STASH = ("/stash/<stash:path>", "/stashes/<stash:path>")


def _store() -> StashStore:
    return current_app.extensions["stashes"]


def _body() -> bytes:
    return read_body(request.environ, current_app.config["MAX_BODY_BYTES"])


@bp.get("/stashes")
def list_stashes() -> JSONResponse:
    """Live stashes sorted by path; ``filter.*`` first, then ``limit``/``offset``."""
    store = _store()
    # The fast path's own parser, so both read a query alike (it matches request.args).
    query = parse_list_query(query_args(request.environ.get("QUERY_STRING", "")))
    return reply_response(get_client().drive(service.list_stashes(store, query)))


@bp.post("/stashes")
def create_stash() -> JSONResponse:
    """Create or replace the stash a ``{path, content, expire}`` document describes."""
    store = _store()
    return reply_response(get_client().drive(service.create_stash(store, _body())))


@bp.get(ONE_STASH[0])
@bp.get(ONE_STASH[1])
def get_stash(path: str) -> JSONResponse:
    """The content of one stash (HEAD: its size only). :raise 404:"""
    store = _store()
    head = request.method == "HEAD"
    return reply_response(get_client().drive(service.get_stash(store, path, head)))


@bp.post(ONE_STASH[0])
@bp.post(ONE_STASH[1])
def write_stash(path: str) -> JSONResponse:
    """Store the body as the content of `path`, removing any TTL."""
    store = _store()
    return reply_response(get_client().drive(service.write_stash(store, path, _body())))


@bp.delete(ONE_STASH[0])
@bp.delete(ONE_STASH[1])
def delete_stash(path: str) -> JSONResponse:
    """Delete one stash. :raise 404:"""
    store = _store()
    return reply_response(get_client().drive(service.delete_stash(store, path)))


@bp.get("/health")
def health() -> JSONResponse:
    """204 while Redis answers PING, else 412 with the reasons."""
    try:
        get_redis().ping()
    except UNREACHABLE:
        return json_response(["not connected to redis"], 412)
    return JSONResponse(status=204)


@bp.get("/info")
def info() -> JSONResponse:
    """Version and Redis connection, in Sensu's shape; 200 even with Redis down."""
    try:
        connected = bool(get_redis().ping())
    except UNREACHABLE:
        connected = False
    settings = json.dumps(public_settings(current_app.config), sort_keys=True)
    digest = hashlib.sha256(settings.encode()).hexdigest()
    idle = {"messages": 0, "consumers": 0}
    return json_response(
        {
            "sensu": {"version": VERSION, "settings": {"hexdigest": digest}},
            "transport": {
                "name": "none",
                "connected": False,
                "keepalives": idle,
                "results": idle,
            },
            "redis": {"connected": connected},
            "servers": [],
        }
    )
