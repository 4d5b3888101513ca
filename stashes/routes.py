"""The Sensu 1.x API: stashes, /health and /info. HTTP only; storage is in `store`."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Blueprint, current_app, request
from werkzeug.routing import BaseConverter

import strictjson
from config import VERSION, public_settings
from errors import BadRequest, NotFound
from redis_client import UNREACHABLE, get_redis
from stashes.query import matches, parse_list_query
from stashes.schemas import stash_schema
from stashes.store import RawStash, StashStore
from web import JSONResponse, json_response, read_body

log = logging.getLogger(__name__)

bp = Blueprint("stashes", __name__)


class StashPath(BaseConverter):
    """The rest of the URL path, verbatim: empty, leading, inner or trailing "/" too."""

    regex = ".*"
    part_isolating = False


# Both prefixes name the same stash; <stash:path> takes the rest of the URL verbatim.
ONE_STASH = ("/stash/<stash:path>", "/stashes/<stash:path>")


def _store() -> StashStore:
    return current_app.extensions["stashes"]


def _body() -> Any:
    """The request body as JSON, whatever its Content-Type (Sensu never read it)."""
    return strictjson.parse(read_body(current_app.config["MAX_BODY_BYTES"]))


def _object_body() -> dict[str, Any]:
    value = _body()
    if not isinstance(value, dict):
        raise BadRequest("request body must be a JSON object")
    return value


def _readable(items: Iterable[RawStash]) -> Iterator[dict[str, Any]]:
    """Items as list entries; a stored value that is not a JSON object is skipped."""
    for item in items:
        try:
            content = json.loads(item.content)
        except ValueError:
            content = None
        if not isinstance(content, dict):
            log.warning("skipping unreadable stored value of stash %r", item.path)
            continue
        yield {"path": item.path, "content": content, "expire": item.expire}


@bp.get("/stashes")
def list_stashes() -> JSONResponse:
    """Live stashes sorted by path; ``filter.*`` first, then ``limit``/``offset``."""
    query = parse_list_query(request.args)
    store = _store()
    if query.limit is not None and not query.filters:
        total, page = store.page(query.offset, query.limit)
        items = list(_readable(page))
    else:
        items = [i for i in _readable(store.scan()) if matches(i, query.filters)]
        total = len(items)
        if query.limit is not None:
            items = items[query.offset : query.offset + query.limit]
    if query.limit is None:
        return json_response(items)
    paging = {"limit": query.limit, "offset": query.offset, "total": total}
    return json_response(
        items, headers={"X-Pagination": json.dumps(paging, separators=(",", ":"))}
    )


@bp.post("/stashes")
def create_stash() -> JSONResponse:
    """Create or replace the stash a ``{path, content, expire}`` document describes."""
    stash = stash_schema.load(_object_body())
    _store().put(stash["path"], strictjson.dumps(stash["content"]), stash["expire"])
    return json_response({"path": stash["path"]}, 201)


@bp.get(ONE_STASH[0])
@bp.get(ONE_STASH[1])
def get_stash(path: str) -> JSONResponse:
    """The content of one stash. HEAD costs one STRLEN and sends no body.

    :raise 404: no such stash, or it expired.
    """
    store = _store()
    if request.method == "HEAD":
        size = store.size(path) if path else 0
        if not size:
            raise NotFound()
        return JSONResponse(headers={"Content-Length": str(size)})
    content = store.get(path) if path else None
    if content is None:
        raise NotFound()
    return JSONResponse(content)


@bp.post(ONE_STASH[0])
@bp.post(ONE_STASH[1])
def write_stash(path: str) -> JSONResponse:
    """Store the body as the content of `path`; like Sensu, this removes any TTL."""
    if not path:
        raise BadRequest("stash path must not be empty")
    content = _object_body()
    _store().put(path, strictjson.dumps(content), None)
    return json_response({"path": path}, 201)


@bp.delete(ONE_STASH[0])
@bp.delete(ONE_STASH[1])
def delete_stash(path: str) -> JSONResponse:
    """Delete one stash; of two racing deletes, exactly one wins.

    :raise 404: there was none.
    """
    if not (path and _store().delete(path)):
        raise NotFound()
    return JSONResponse(status=204)


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
    digest = hashlib.sha256(settings.encode())
    idle = {"messages": 0, "consumers": 0}
    return json_response(
        {
            "sensu": {
                "version": VERSION,
                "settings": {"hexdigest": digest.hexdigest()},
            },
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
