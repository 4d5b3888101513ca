"""The Sensu Go 6.x core API in Flask: assets, namespaces, API keys. HTTP only.

Every route needs an API key or an access token, checked before anything else
(spec assets.md section 2); unknown paths and methods are answered before that, so
they are 404/405 without credentials, as in Sensu. Errors are raised and rendered
by `errors` in Sensu Go's ``{"message", "code"}`` dialect.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from flask import Blueprint, current_app, g, request
from werkzeug.routing import BaseConverter

from accounts.authenticator import Authenticator, digest
from accounts.store import AccountStore, ApiKey
from assets.schemas import (
    Asset,
    Invalid,
    apikey_schema,
    asset_fields,
    asset_json,
    load_asset,
    merge_patch,
    namespace_problem,
    namespace_schema,
    validate_asset,
    without_nulls,
)
from assets.store import (
    CHANGED,
    EXISTS,
    GONE,
    NO_NAMESPACE,
    AssetStore,
    ListedAsset,
)
from core import strictjson
from core.errors import BadRequest, Conflict, NotFound, PreconditionFailed
from core.http import JSONResponse, json_response
from sensugo.http import (
    check_conditions,
    empty,
    quoted,
    read_json,
    read_merge_patch,
    read_object,
    selected,
    with_continue,
)
from sensugo.paging import (
    ListQuery,
    batch_size,
    parse_list_query,
    take_page,
)
from sensugo.selectors import matches

bp = Blueprint("assets", __name__)


class AssetName(BaseConverter):
    """The rest of the path: asset names hold ``/`` (sent raw or as ``%2F``, which
    WSGI decodes alike), and may even begin or end with one."""

    regex = ".+"
    part_isolating = False


def _assets() -> AssetStore:
    return current_app.extensions["assets"]


def _accounts() -> AccountStore:
    return current_app.extensions["accounts"]


@bp.before_request
def authenticate() -> None:
    """Key or Bearer credentials, before body, validation or existence checks."""
    auth: Authenticator = current_app.extensions["auth"]
    g.user = auth.sensu_go_user(request.headers.get("Authorization"))


# Namespaces (spec section 11)


def _namespace_json(ns: str) -> dict[str, str]:
    return {"name": ns}


def _namespace_name(body: dict[str, Any]) -> str:
    name = namespace_schema.load(body).get("name") or ""
    problem = namespace_problem(name)
    if problem is not None:
        raise BadRequest(f"namespace name {problem}")
    return name


@bp.get("/namespaces")
def list_namespaces() -> JSONResponse:
    """Namespaces by name, paged and filtered (``namespace.name``)."""
    query = parse_list_query(request.args)
    keep = selected(query, lambda ns: {}, lambda ns: {"namespace.name": ns})
    page, more = take_page(_assets().iter_namespaces(query.after), query.limit, keep)
    body = strictjson.dumps([_namespace_json(ns) for ns in page])
    return with_continue(page, more, lambda ns: ns, body)


@bp.post("/namespaces")
def create_namespace() -> JSONResponse:
    """Create a namespace. :raise 409: it exists."""
    name = _namespace_name(read_object())
    if not _assets().create_namespace(name):
        raise Conflict()
    return empty(201)


@bp.get("/namespaces/<ns>")
def get_namespace(ns: str) -> JSONResponse:
    """One namespace. :raise 404:"""
    if not _assets().namespace_exists(ns):
        raise NotFound()
    return json_response(_namespace_json(ns))


@bp.put("/namespaces/<ns>")
def put_namespace(ns: str) -> JSONResponse:
    """Create the namespace, or keep it; the body's name must be the URL's."""
    body = read_object()
    name = namespace_schema.load(body).get("name") or ""
    if name != ns:
        raise BadRequest(
            f"the name of the resource ({name}) does not match the name of the URI "
            f"({ns})"
        )
    _assets().create_namespace(_namespace_name(body))
    return empty(201)


@bp.patch("/namespaces/<ns>")
def patch_namespace(ns: str) -> JSONResponse:
    """A merge patch that can change nothing: a namespace is only its name."""
    patch = read_merge_patch()
    name = namespace_schema.load(without_nulls(patch)).get("name")
    if name and name != ns:
        raise BadRequest(
            f"the name of the resource ({name}) does not match the name in the URI "
            f"({ns})"
        )
    if not _assets().namespace_exists(ns):
        raise NotFound()
    return json_response(_namespace_json(ns))


@bp.delete("/namespaces/<ns>")
def delete_namespace(ns: str) -> JSONResponse:
    """Delete an empty namespace. :raise 404: :raise 409: it still holds assets."""
    outcome = _assets().delete_namespace(ns)
    if outcome == 0:
        raise NotFound()
    if outcome < 0:
        raise Conflict("resource is invalid: namespace is not empty")
    return empty(204)


# Assets (spec sections 3-7)


def etag_of(data: bytes) -> str:
    """The ETag of a stored asset: a digest of exactly what GET sends."""
    return hashlib.sha256(data).hexdigest()[:32]


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
    outcome = _assets().put_asset(ns, name, data, etag_of(data), create)
    if outcome == EXISTS:
        raise Conflict()
    if outcome == NO_NAMESPACE:
        raise NotFound(f"the namespace {ns} does not exist")


def _asset_list(
    items: Iterator[ListedAsset], query: ListQuery, key: Callable[[ListedAsset], str]
) -> JSONResponse:
    keep = None
    if query.labels or query.fields:

        def keep(item: ListedAsset) -> bool:
            asset = json.loads(item.json)
            labels = (asset.get("metadata") or {}).get("labels") or {}
            return matches(query.labels, labels) and matches(
                query.fields, asset_fields(asset)
            )

    page, more = take_page(items, query.limit, keep)
    body = b"[" + b",".join(item.json for item in page) + b"]"
    return with_continue(page, more, key, body)


@bp.get("/namespaces/<ns>/assets")
def list_assets(ns: str) -> JSONResponse:
    """The assets of `ns` by name; ``[]`` for a namespace that does not exist."""
    query = parse_list_query(request.args)
    items = _assets().iter_assets(ns, query.after, batch_size(query))
    return _asset_list(items, query, lambda item: item.name)


@bp.get("/assets")
def list_all_assets() -> JSONResponse:
    """The assets of every namespace, by ``<namespace>/<name>``."""
    query = parse_list_query(request.args)
    if query.after is not None and "/" not in query.after:
        raise BadRequest("invalid continue token")
    items = _assets().iter_all_assets(query.after, batch_size(query))
    return _asset_list(items, query, lambda item: item.key)


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
    stored = _assets().get_asset(ns, name)
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
    stored = _assets().get_asset(ns, name)
    if stored is None:
        raise NotFound()
    key = f"/sensu.io/assets/{ns}/{name}"
    check_conditions(stored.etag, key)
    current = json.loads(stored.json)
    patched = load_asset(merge_patch(current, patch))
    patched["metadata"].update(
        name=name,
        namespace=ns,
        created_by=(current.get("metadata") or {}).get("created_by", ""),
    )
    data = _validated(patched)
    etag = etag_of(data)
    outcome = _assets().swap_asset(ns, name, stored.etag, data, etag)
    if outcome == GONE:
        raise NotFound()
    if outcome == CHANGED:
        raise PreconditionFailed(f"at least one condition failed for the key {key}")
    response = JSONResponse(data, 200)
    response.headers["ETag"] = quoted(etag)
    return response


@bp.delete("/namespaces/<ns>/assets/<asset:name>")
def delete_asset(ns: str, name: str) -> JSONResponse:
    """Delete an asset. :raise 404:"""
    if not _assets().delete_asset(ns, name):
        raise NotFound()
    return empty(204)


# API keys (spec section 10)


def _apikey_json(key: ApiKey, name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "created_by": key["created_by"]},
        "username": key["username"],
        "created_at": key["created_at"],
    }


def _find_apikey(identifier: str) -> ApiKey:
    """The key named by its value or, in lists, by its digest. :raise NotFound:

    Only the SHA-256 digest of a key is stored, so a list cannot show keys: it
    names each by its digest, and these routes accept either form.
    """
    key = _accounts().get_apikey(digest(identifier))
    if key is None and len(identifier) == 64:
        key = _accounts().get_apikey(identifier.lower())
    if key is None:
        raise NotFound()
    return key


@bp.get("/apikeys")
def list_apikeys() -> JSONResponse:
    """Every API key, named by its digest (the keys themselves are not stored)."""
    query = parse_list_query(request.args)
    keep = selected(
        query,
        lambda key: {},
        lambda key: {"apikey.name": key["digest"], "apikey.username": key["username"]},
    )
    keys: Iterable[ApiKey] = _accounts().iter_apikeys(query.after)
    page, more = take_page(keys, query.limit, keep)
    body = strictjson.dumps([_apikey_json(key, key["digest"]) for key in page])
    return with_continue(page, more, lambda key: key["digest"], body)


@bp.post("/apikeys")
def create_apikey() -> JSONResponse:
    """A new key for an existing user; the key is the Location's last segment."""
    username = apikey_schema.load(read_object()).get("username") or ""
    if not username:
        raise BadRequest("username cannot be empty")
    value = str(uuid.uuid4())
    key = ApiKey(
        digest=digest(value),
        username=username,
        created_by=g.user,
        created_at=int(time.time()),
    )
    if not _accounts().put_apikey(key):
        raise BadRequest(f"user {username} does not exist")
    response = empty(201)
    response.headers["Location"] = f"{request.path.rstrip('/')}/{value}"
    return response


@bp.get("/apikeys/<identifier>")
def get_apikey(identifier: str) -> JSONResponse:
    """One key, by its value (or its digest, as lists name it). :raise 404:"""
    return json_response(_apikey_json(_find_apikey(identifier), identifier))


@bp.patch("/apikeys/<identifier>")
def patch_apikey(identifier: str) -> JSONResponse:
    """Merge patch; only ``username`` can change (sensuctl uses it)."""
    patch = read_merge_patch()
    username = apikey_schema.load(without_nulls(patch)).get("username")
    key = _find_apikey(identifier)
    if username and username != key["username"]:
        outcome = _accounts().set_apikey_user(key["digest"], key["username"], username)
        if outcome == 0:
            raise NotFound()
        if outcome == -1:
            raise PreconditionFailed("the API key changed meanwhile")
        if outcome == -2:
            raise BadRequest(f"user {username} does not exist")
        key["username"] = username
    return json_response(_apikey_json(key, identifier))


@bp.delete("/apikeys/<identifier>")
def delete_apikey(identifier: str) -> JSONResponse:
    """Revoke a key at once. :raise 404:"""
    if not _accounts().delete_apikey(_find_apikey(identifier)["digest"]):
        raise NotFound()
    return empty(204)
