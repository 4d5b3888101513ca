"""The Sensu Go 6.x assets API in Flask (spec assets.md sections 3-7). HTTP only.

Every route needs an API key or an access token, checked before anything else;
unknown paths and methods are answered before that, so they are 404/405 without
credentials, as in Sensu (`accounts.require_user`). Errors are raised and rendered
by `core.errors` in Sensu Go's ``{"message", "code"}`` dialect.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from flask import Blueprint, current_app, g, request
from werkzeug.routing import BaseConverter

from accounts import require_user
from assets.schemas import (
    Asset,
    Invalid,
    asset_fields,
    asset_json,
    etag_of,
    load_asset,
    validate_asset,
)
from assets.store import AssetStore, ListedAsset, PutOutcome, SwapOutcome
from core import strictjson
from core.errors import BadRequest, Conflict, NotFound, PreconditionFailed
from core.http import JSONResponse
from namespaces.store import NamespaceStore
from redisio.clients import get_client
from sensugo.http import (
    check_conditions,
    empty,
    quoted,
    read_json,
    read_merge_patch,
    with_continue,
)
from sensugo.paging import Batches, ListQuery, batch_size, parse_list_query, take_page
from sensugo.schemas import merge_patch, without_nulls
from sensugo.selectors import matches

bp = Blueprint("assets", __name__)
bp.before_request(require_user)


class AssetName(BaseConverter):
    """The rest of the path: asset names hold ``/`` (sent raw or as ``%2F``, which
    WSGI decodes alike), and may even begin or end with one."""

    regex = ".+"
    part_isolating = False


def _assets() -> AssetStore:
    return current_app.extensions["assets"]


def _namespaces() -> NamespaceStore:
    return current_app.extensions["namespaces"]


def _validated(asset: Asset) -> bytes:
    try:
        validate_asset(asset)
    except Invalid as exc:
        raise BadRequest(f"resource is invalid: {exc}") from None
    return strictjson.dumps(asset_json(asset))


def _check_namespace(asset: Asset, ns: str) -> None:
    body_ns = asset["metadata"]["namespace"]
    if body_ns != ns:
        raise BadRequest(
            f"the namespace of the resource ({body_ns}) does not match the namespace "
            f"of the URI ({ns})"
        )


def _store(ns: str, name: str, data: bytes, create: bool) -> None:
    call = _assets().put_asset(ns, name, data, etag_of(data), create)
    outcome = get_client().run(call)
    if outcome is PutOutcome.EXISTS:
        raise Conflict()
    if outcome is PutOutcome.NO_NAMESPACE:
        raise NotFound(f"the namespace {ns} does not exist")


def _asset_list(
    batches: Batches, query: ListQuery, key: Callable[[ListedAsset], str]
) -> JSONResponse:
    keep = None
    if query.labels or query.fields:

        def keep(item: ListedAsset) -> bool:
            asset = json.loads(item.json)
            labels = (asset.get("metadata") or {}).get("labels") or {}
            return matches(query.labels, labels) and matches(
                query.fields, asset_fields(asset)
            )

    page, more = get_client().drive(take_page(batches, query.limit, keep))
    body = b"[" + b",".join(item.json for item in page) + b"]"
    return with_continue(page, more, key, body)


@bp.get("/namespaces/<ns>/assets")
def list_assets(ns: str) -> JSONResponse:
    """The assets of `ns` by name; ``[]`` for a namespace that does not exist."""
    query = parse_list_query(request.args)
    batches = _assets().assets(ns, query.after, batch_size(query))
    return _asset_list(batches, query, lambda item: item.name)


@bp.get("/assets")
def list_all_assets() -> JSONResponse:
    """The assets of every namespace, by ``<namespace>/<name>``."""
    query = parse_list_query(request.args)
    if query.after is not None and "/" not in query.after:
        raise BadRequest("invalid continue token")
    namespaces = get_client().drive(_namespaces().names())
    batches = _assets().every_asset(namespaces, query.after, batch_size(query))
    return _asset_list(batches, query, lambda item: item.key)


@bp.post("/namespaces/<ns>/assets")
def create_asset(ns: str) -> JSONResponse:
    """Create an asset. :raise 409: `ns` has one of that name."""
    asset = load_asset(read_json())
    _check_namespace(asset, ns)
    asset["metadata"]["created_by"] = g.user
    data = _validated(asset)
    _store(ns, asset["metadata"]["name"], data, create=True)
    return empty(201)


@bp.get("/namespaces/<ns>/assets/<asset:name>")
def get_asset(ns: str, name: str) -> JSONResponse:
    """One asset, with its ETag. :raise 404:"""
    stored = get_client().run(_assets().get_asset(ns, name))
    if stored is None:
        raise NotFound()
    response = JSONResponse(stored.json, 200)
    response.headers["ETag"] = quoted(stored.etag)
    return response


@bp.put("/namespaces/<ns>/assets/<asset:name>")
def put_asset(ns: str, name: str) -> JSONResponse:
    """Create or replace an asset: 201 either way (as Sensu)."""
    asset = load_asset(read_json())
    _check_namespace(asset, ns)
    body_name = asset["metadata"]["name"]
    if body_name != name:
        raise BadRequest(
            f"the name of the resource ({body_name}) does not match the name of the "
            f"URI ({name})"
        )
    asset["metadata"]["created_by"] = g.user
    _store(ns, name, _validated(asset), create=False)
    return empty(201)


@bp.patch("/namespaces/<ns>/assets/<asset:name>")
def patch_asset(ns: str, name: str) -> JSONResponse:
    """Apply a JSON Merge Patch, honouring If-Match / If-None-Match (spec 7).

    :raise 404: no such asset. :raise 412: a condition failed, or the asset
    changed while the patch was being applied.
    """
    patch = read_merge_patch()
    meta = load_asset(without_nulls(patch))["metadata"]
    for field, sent, in_url in (
        ("name", meta["name"], name),
        ("namespace", meta["namespace"], ns),
    ):
        if sent and sent != in_url:
            raise BadRequest(
                f"the {field} of the resource ({sent}) does not match the {field} "
                f"in the URI ({in_url})"
            )
    client = get_client()
    stored = client.run(_assets().get_asset(ns, name))
    if stored is None:
        raise NotFound()
    key = f"/sensu.io/assets/{ns}/{name}"
    check_conditions(stored.etag, key)
    current = json.loads(stored.json)
    patched = load_asset(merge_patch(current, patch))
    metadata = patched["metadata"]
    metadata["name"], metadata["namespace"] = name, ns
    metadata["created_by"] = (current.get("metadata") or {}).get("created_by", "")
    data = _validated(patched)
    etag = etag_of(data)
    outcome = client.run(_assets().swap_asset(ns, name, stored.etag, data, etag))
    if outcome is SwapOutcome.GONE:
        raise NotFound()
    if outcome is SwapOutcome.CHANGED:
        raise PreconditionFailed(f"at least one condition failed for the key {key}")
    response = JSONResponse(data, 200)
    response.headers["ETag"] = quoted(etag)
    return response


@bp.delete("/namespaces/<ns>/assets/<asset:name>")
def delete_asset(ns: str, name: str) -> JSONResponse:
    """Delete an asset. :raise 404:"""
    if not get_client().run(_assets().delete_asset(ns, name)):
        raise NotFound()
    return empty(204)
