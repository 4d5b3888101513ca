"""Sensu Go's authentication API: ``/auth``, ``/auth/token``, ``/auth/test``,
``/auth/logout`` (spec assets.md section 9). HTTP only; `authenticator` does the
checks.
"""

from __future__ import annotations

from flask import Blueprint, current_app, request

from accounts.authenticator import Authenticator, digest
from core.errors import Unauthorized
from core.http import JSONResponse, json_response
from core.strictjson import parse_object
from redisio.clients import get_client
from sensugo.http import empty, read_object, read_raw

bp = Blueprint("auth", __name__)


def _auth() -> Authenticator:
    return current_app.extensions["auth"]


def _header() -> str | None:
    return request.headers.get("Authorization")


@bp.get("/auth")
def login() -> JSONResponse:
    """HTTP Basic credentials for an access token and a refresh token."""
    user = _auth().basic_user(_header())
    if user is None:
        raise Unauthorized()
    return json_response(_auth().issue_tokens(user))


@bp.post("/auth/token")
def refresh() -> JSONResponse:
    """A new access token for a (possibly expired) one and its refresh token.

    :raise 401: an unknown access token, or a refresh token not of the same user.
    :raise 400: a body that is not JSON.
    """
    _, user, _ = _auth().bearer_token(_header())
    token = read_object().get("refresh_token")
    if not isinstance(token, str) or not token:
        raise Unauthorized("invalid refresh token")
    return json_response(_auth().issue_tokens(user, refresh=token))


@bp.get("/auth/test")
def test_credentials() -> JSONResponse:
    """200 when the Basic credentials are valid. :raise 401:"""
    if _auth().basic_user(_header()) is None:
        raise Unauthorized()
    return empty(200)


@bp.post("/auth/logout")
def logout() -> JSONResponse:
    """Forget the access token and, when the body names it, the refresh token."""
    access, user, _ = _auth().bearer_token(_header())
    accounts = _auth().accounts
    client = get_client()
    refresh = None
    body = read_raw()
    if body.strip():  # sensuctl sends the refresh token; 6.x needs none
        token = parse_object(body).get("refresh_token")
        if isinstance(token, str) and token:
            owner = client.run(accounts.refresh_user(digest(token)))
            if owner is not None and owner[0] == user:
                refresh = digest(token)
    client.run(accounts.revoke_tokens(access, refresh))
    return empty(200)
