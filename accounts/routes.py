"""Sensu Go's authentication API: ``/auth``, ``/auth/token``, ``/auth/test``,
``/auth/logout`` (spec assets.md section 9). HTTP only; `authenticator` does the
checks, and counts their failures (spec stashes.md 17.4).
"""

from __future__ import annotations

from flask import Blueprint, current_app, request

from accounts.authenticator import Authenticator, digest
from core.errors import BadRequest
from core.http import JSONResponse, json_response
from core.request import WSGIRequest
from core.strictjson import parse_object
from redisio.clients import get_client
from sensugo.http import empty, read_object, read_raw

bp = Blueprint("auth", __name__)


def _auth() -> Authenticator:
    return current_app.extensions["auth"]


def _request() -> WSGIRequest:
    return WSGIRequest(request.environ)


@bp.get("/auth")
def login() -> JSONResponse:
    """HTTP Basic credentials for an access token and a refresh token.

    :raise 401: :raise 429: too many failed logins from this address.
    """
    return json_response(_auth().issue_tokens(_auth().basic_user(_request())))


@bp.post("/auth/token")
def refresh() -> JSONResponse:
    """A new access token for a (possibly expired) one and its refresh token.

    :raise 401: an unknown access token, or a refresh token not of the same user.
    :raise 400: a body that is not JSON.
    """
    _, user = _auth().bearer_token(_request())
    token = read_object().get("refresh_token")
    keep = _auth().refresh_owner(_request(), token, user)
    return json_response(_auth().issue_tokens(user, refresh=token, keep=keep))


@bp.get("/auth/test")
def test_credentials() -> JSONResponse:
    """200 when the Basic credentials are valid. :raise 401: :raise 429:"""
    _auth().basic_user(_request())
    return empty(200)


@bp.post("/auth/logout")
def logout() -> JSONResponse:
    """Forget the access token and, when the body names it, the refresh token."""
    access, user = _auth().bearer_token(_request())
    accounts = _auth().accounts
    client = get_client()
    refresh = None
    body = read_raw()
    if body.strip():  # sensuctl sends the refresh token; 6.x needs none
        token = parse_object(body).get("refresh_token")
        if token is not None and not isinstance(token, str):
            raise BadRequest("refresh_token must be a string")  # as Go's decoder
        if token:
            owner = client.run(accounts.refresh_user(digest(token)))
            if owner is not None and owner[0] == user:
                refresh = digest(token)
    client.run(accounts.revoke_tokens(user, access, refresh))
    return empty(200)
