"""/auth and the API keys API in stashd's OpenAPI document.

The API key body comes from `schemas.ApiKeySchema`; tests/test_openapi.py checks
that every route of `routes` and `apikeys` is here.
"""

from __future__ import annotations

from accounts.schemas import ApiKeySchema
from core.openapi import (
    GUARDED,
    SENSUGO_SECURITY,
    Document,
    errors,
    json_body,
    operation,
    path_param,
    response,
)
from sensugo.openapi import GO_ERRORS, list_operation, merge_patch_body

TAG = "accounts"
GO = "/api/core/v2"

SCHEMAS: dict[str, object] = {
    "ApiKeyWrite": ApiKeySchema,
    "ApiKey": {
        "type": "object",
        "required": ["metadata", "username", "created_at"],
        "properties": {
            "metadata": {
                "type": "object",
                "required": ["name", "created_by"],
                "properties": {
                    "name": {
                        "type": "string",
                        "description": "The key as the request named it; in lists, "
                        "its SHA-256 digest (only digests are stored).",
                    },
                    "created_by": {"type": "string"},
                },
            },
            "username": {"type": "string"},
            "created_at": {"type": "integer"},
            "scopes": {"type": "array", "items": {"type": "string"}},
        },
    },
    "Tokens": {
        "type": "object",
        "required": ["access_token", "expires_at", "refresh_token"],
        "properties": {
            "access_token": {"type": "string"},
            "expires_at": {"type": "integer", "description": "Unix seconds"},
            "refresh_token": {"type": "string"},
        },
    },
    "RefreshToken": {
        "type": "object",
        "properties": {"refresh_token": {"type": ["string", "null"]}},
    },
}

_BASIC: list[Document] = [{"basic": []}]
_BEARER: list[Document] = [{"bearer": []}]
_KEY = path_param("identifier", "The API key, or its SHA-256 digest as lists name it")


def _auth_paths() -> dict[str, dict[str, Document]]:
    return {
        "/auth": {
            "get": operation(
                "Log in with HTTP Basic credentials: an access and a refresh token",
                "login",
                TAG,
                {
                    "200": response("New tokens", "Tokens"),
                    **errors("sensugo", *GUARDED),
                },
                security=_BASIC,
            )
        },
        "/auth/token": {
            "post": operation(
                "A new access token for a (possibly expired) one and its refresh token",
                "refresh",
                TAG,
                {
                    "200": response("A new access token", "Tokens"),
                    **errors("sensugo", 413, *GUARDED),
                },
                body=json_body("RefreshToken"),
                security=_BEARER,
            )
        },
        "/auth/test": {
            "get": operation(
                "200 when the Basic credentials are valid",
                "test_credentials",
                TAG,
                {
                    "200": response("Valid; an empty body"),
                    **errors("sensugo", *GUARDED),
                },
                security=_BASIC,
            )
        },
        "/auth/logout": {
            "post": operation(
                "Revoke the access token, and the refresh token the body names",
                "logout",
                TAG,
                {
                    "200": response("Logged out; an empty body"),
                    **errors("sensugo", 413, *GUARDED),
                },
                body=json_body("RefreshToken", required=False),
                security=_BEARER,
            )
        },
    }


def _apikey_paths() -> dict[str, dict[str, Document]]:
    return {
        GO + "/apikeys": {
            "get": list_operation(
                "Every API key, named by its digest", "list_apikeys", TAG, "ApiKey", []
            ),
            "post": operation(
                "A new key for a user; the key is the Location's last segment",
                "create_apikey",
                TAG,
                {
                    "201": response("Created; an empty body", headers=["Location"]),
                    **errors("sensugo", 413, *GO_ERRORS),
                },
                body=json_body(
                    "ApiKeyWrite",
                    "`scopes`: `<area>:<right>[:<namespace>]` (README: scopes).",
                ),
                security=SENSUGO_SECURITY,
            ),
        },
        GO + "/apikeys/{identifier}": {
            "get": operation(
                "One key",
                "get_apikey",
                TAG,
                {
                    "200": response("The key", "ApiKey"),
                    **errors("sensugo", 404, *GO_ERRORS),
                },
                parameters=[_KEY],
                security=SENSUGO_SECURITY,
            ),
            "patch": operation(
                "A merge patch; only `username` can change",
                "patch_apikey",
                TAG,
                {
                    "200": response("The key", "ApiKey"),
                    **errors("sensugo", 404, 412, 413, *GO_ERRORS),
                },
                parameters=[_KEY],
                body=merge_patch_body("ApiKeyWrite"),
                security=SENSUGO_SECURITY,
            ),
            "delete": operation(
                "Revoke a key at once",
                "delete_apikey",
                TAG,
                {
                    "204": response("Revoked; an empty body"),
                    **errors("sensugo", 404, *GO_ERRORS),
                },
                parameters=[_KEY],
                security=SENSUGO_SECURITY,
            ),
        },
    }


def paths() -> dict[str, dict[str, Document]]:
    """/auth and the API keys API."""
    return {**_auth_paths(), **_apikey_paths()}
