"""The Sensu Go 6.x API keys API, under /api/core/v2 (spec assets.md section 10).

HTTP only. Only the SHA-256 digest of a key is stored, so a list cannot show keys:
it names each by its digest, and these routes accept either form.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from flask import Blueprint, current_app, g, request

from accounts.authenticator import digest
from accounts.hooks import require_user
from accounts.schemas import apikey_schema
from accounts.scopes import InvalidScope, check_all
from accounts.store import AccountStore, ApiKey, OwnerChange
from core import strictjson
from core.errors import BadRequest, NotFound, PreconditionFailed
from core.http import JSONResponse, json_response
from redisio.clients import get_client
from sensugo.http import empty, read_merge_patch, read_object, selected, with_continue
from sensugo.paging import parse_list_query, take_page
from sensugo.schemas import without_nulls

bp = Blueprint("apikeys", __name__)
bp.before_request(require_user)


def _accounts() -> AccountStore:
    return current_app.extensions["accounts"]


def _apikey_json(key: ApiKey, name: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "metadata": {"name": name, "created_by": key["created_by"]},
        "username": key["username"],
        "created_at": key["created_at"],
    }
    if key.get("scopes"):
        body["scopes"] = key["scopes"]
    return body


def _find_apikey(identifier: str) -> ApiKey:
    """The key named by its value or, in lists, by its digest. :raise NotFound:"""
    client = get_client()
    key = client.run(_accounts().get_apikey(digest(identifier)))
    if key is None and len(identifier) == 64:
        key = client.run(_accounts().get_apikey(identifier.lower()))
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
    batches = _accounts().apikeys(query.after)
    page, more = get_client().drive(take_page(batches, query.limit, keep))
    body = strictjson.dumps([_apikey_json(key, key["digest"]) for key in page])
    return with_continue(page, more, lambda key: key["digest"], body)


@bp.post("/apikeys")
def create_apikey() -> JSONResponse:
    """A new key for an existing user, with optional ``scopes`` (spec archives.md
    section 2); the key is the Location's last segment."""
    body = apikey_schema.load(read_object())
    username = body.get("username") or ""
    if not username:
        raise BadRequest("username cannot be empty")
    try:
        scopes = check_all(body.get("scopes") or [])
    except InvalidScope as exc:
        raise BadRequest(str(exc)) from None
    value = str(uuid.uuid4())
    key = ApiKey(
        digest=digest(value),
        username=username,
        created_by=g.user,
        created_at=int(time.time()),
    )
    if scopes:
        key["scopes"] = scopes
    if not get_client().run(_accounts().put_apikey(key)):
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
        call = _accounts().set_apikey_user(key["digest"], key["username"], username)
        outcome = get_client().run(call)
        if outcome is OwnerChange.GONE:
            raise NotFound()
        if outcome is OwnerChange.CHANGED:
            raise PreconditionFailed("the API key changed meanwhile")
        if outcome is OwnerChange.NO_USER:
            raise BadRequest(f"user {username} does not exist")
        key["username"] = username
    return json_response(_apikey_json(key, identifier))


@bp.delete("/apikeys/<identifier>")
def delete_apikey(identifier: str) -> JSONResponse:
    """Revoke a key at once. :raise 404:"""
    call = _accounts().delete_apikey(_find_apikey(identifier)["digest"])
    if not get_client().run(call):
        raise NotFound()
    return empty(204)
