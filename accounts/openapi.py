"""/auth and the API keys API in stashd's OpenAPI document.

The API key body comes from `schemas.ApiKeySchema`; tests/test_openapi.py checks
that every route of `routes` and `apikeys` is here.
"""

from __future__ import annotations

from accounts.schemas import ApiKeySchema
from core.openapi import Api, Document, json_body, path_param, response
from sensugo.openapi import PREFIX, list_operation, merge_patch_body

API = Api("accounts", "sensugo")

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
            "get": API.operation(
                "Log in with HTTP Basic credentials: an access and a refresh token",
                "login",
                {"200": response("New tokens", "Tokens")},
                security=_BASIC,
            )
        },
        "/auth/token": {
            "post": API.operation(
                "A new access token for a (possibly expired) one and its refresh token",
                "refresh",
                {"200": response("A new access token", "Tokens")},
                413,
                body=json_body("RefreshToken"),
                security=_BEARER,
            )
        },
        "/auth/test": {
            "get": API.operation(
                "200 when the Basic credentials are valid",
                "test_credentials",
                {"200": response("Valid; an empty body")},
                security=_BASIC,
            )
        },
        "/auth/logout": {
            "post": API.operation(
                "Revoke the access token, and the refresh token the body names",
                "logout",
                {"200": response("Logged out; an empty body")},
                413,
                body=json_body("RefreshToken", required=False),
                security=_BEARER,
            )
        },
    }


def _apikey_paths() -> dict[str, dict[str, Document]]:
    return {
        PREFIX + "/apikeys": {
            "get": list_operation(
                API, "Every API key, named by its digest", "list_apikeys", "ApiKey", []
            ),
            "post": API.operation(
                "A new key for a user; the key is the Location's last segment",
                "create_apikey",
                {"201": response("Created; an empty body", headers=["Location"])},
                413,
                body=json_body(
                    "ApiKeyWrite",
                    "`scopes`: `<area>:<right>[:<namespace>]` (README: scopes).",
                ),
            ),
        },
        PREFIX + "/apikeys/{identifier}": {
            "get": API.operation(
                "One key",
                "get_apikey",
                {"200": response("The key", "ApiKey")},
                404,
                parameters=[_KEY],
            ),
            "patch": API.operation(
                "A merge patch; only `username` can change",
                "patch_apikey",
                {"200": response("The key", "ApiKey")},
                404,
                412,
                413,
                parameters=[_KEY],
                body=merge_patch_body("ApiKeyWrite"),
            ),
            "delete": API.operation(
                "Revoke a key at once",
                "delete_apikey",
                {"204": response("Revoked; an empty body")},
                404,
                parameters=[_KEY],
            ),
        },
    }


def paths() -> dict[str, dict[str, Document]]:
    """/auth and the API keys API."""
    return {**_auth_paths(), **_apikey_paths()}
