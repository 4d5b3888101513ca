"""Archive distribution in stashd's OpenAPI document (spec archives.md 11-13):
share tokens, mirrors and bundles. `archives.openapi` adds these to hosting's."""

from __future__ import annotations

from archives.openapi_hosting import API, ARCHIVE_ID, RECORDS, STRING, STRINGS
from core.openapi import (
    Document,
    array_of,
    json_body,
    path_param,
    query_param,
    response,
)
from sensugo.openapi import NAMESPACE, PREFIX

_HEADERS = {"type": "object", "additionalProperties": STRING}

SCHEMAS: dict[str, object] = {
    "Share": {
        "type": "object",
        "required": ["id", "archive", "expires_at", "created_by", "created_at"],
        "properties": {
            "id": STRING,
            "archive": STRING,
            "expires_at": {"type": "integer"},
            "note": STRING,
            "created_by": STRING,
            "created_at": {"type": "integer"},
            "token": {"type": "string", "description": "Shown once, at creation"},
            "url": STRING,
        },
    },
    "MirrorRequest": {
        "type": "object",
        "required": ["url", "sha512"],
        "properties": {
            "url": STRING,
            "sha512": {"type": "string", "pattern": "^[0-9a-fA-F]{128}$"},
            "headers": _HEADERS,
            "filename": STRING,
            "fetch": {"type": "string", "enum": ["now", "lazy"]},
        },
    },
    "BundleImported": {
        "type": "object",
        "required": ["archives", "assets"],
        "properties": {
            "archives": {"type": "object", "additionalProperties": STRINGS},
            "assets": {"type": "object", "additionalProperties": STRINGS},
        },
    },
}


def paths() -> dict[str, dict[str, Document]]:
    """The paths of share tokens, mirrors and bundles."""
    one = [NAMESPACE, ARCHIVE_ID]
    record = response("The record", "Archive", headers=["Location"])
    share_body = json_body(
        {
            "type": "object",
            "properties": {"expires_in": {"type": "integer"}, "note": STRING},
        },
        "Optional: the lifetime in seconds and a note",
        required=False,
    )
    return {
        RECORDS + "/{archive_id}/shares": {
            "get": API.operation(
                "The unexpired share tokens of an archive (without the tokens)",
                "list_shares",
                {"200": response("The shares", array_of("Share"))},
                404,
                410,
                parameters=one,
            ),
            "post": API.operation(
                "A new share token: a link that opens this archive's download",
                "create_share",
                {"201": response("The share, with its token and url", "Share")},
                404,
                410,
                413,
                parameters=one,
                body=share_body,
            ),
        },
        RECORDS + "/{archive_id}/shares/{share_id}": {
            "delete": API.operation(
                "Revoke a share token at once",
                "revoke_share",
                {"204": response("Revoked; an empty body")},
                404,
                parameters=[*one, path_param("share_id", "A share's id")],
            )
        },
        RECORDS + "/mirror": {
            "post": API.operation(
                "Mirror an upstream archive: fetched and verified now, or lazily",
                "mirror_archive",
                {
                    "201": record,
                    "200": response("Served here already", "Archive"),
                    "202": response(
                        "Registered; fetched at the first download",
                        "Archive",
                        headers=["Location"],
                    ),
                },
                404,
                409,
                413,
                502,
                504,
                parameters=[NAMESPACE],
                body=json_body("MirrorRequest"),
            )
        },
        PREFIX + "/namespaces/{ns}/assets/{name}/mirror": {
            "post": API.operation(
                "Mirror every URL of an asset, then point it here, in one step",
                "mirror_asset",
                {
                    "200": response("The asset and its records", {"type": "object"}),
                    "202": response(
                        "Some records wait for their first download", {"type": "object"}
                    ),
                },
                404,
                409,
                413,
                502,
                504,
                parameters=[NAMESPACE, path_param("name", "An asset's name")],
                body=json_body(
                    {
                        "type": "object",
                        "properties": {
                            "fetch": {"type": "string", "enum": ["now", "lazy"]},
                            "headers": _HEADERS,
                        },
                    },
                    required=False,
                ),
            )
        },
        PREFIX + "/namespaces/{ns}/bundle": {
            "get": API.operation(
                "A bundle: the selected assets and their archives as one tar",
                "export_bundle",
                {
                    "200": {
                        **response(
                            "The tar, manifest first",
                            media=None,
                            headers=["Content-Length"],
                        ),
                        "content": {"application/x-tar": {}},
                    }
                },
                404,
                409,
                parameters=[
                    NAMESPACE,
                    query_param(
                        "asset", "An asset (repeatable)", STRINGS, explode=True
                    ),
                    query_param(
                        "archive",
                        "An archive's SHA-512 (repeatable)",
                        STRINGS,
                        explode=True,
                    ),
                    query_param("all", "Every asset and archive of the namespace"),
                    query_param("missing", "skip: leave out archives not served here"),
                ],
            ),
            "post": API.operation(
                "Import a bundle, checked whole before anything is stored",
                "import_bundle",
                {"201": response("What was stored", "BundleImported")},
                404,
                409,
                413,
                parameters=[
                    NAMESPACE,
                    query_param("rewrite_urls", "Point the assets here (default true)"),
                    query_param(
                        "on_conflict",
                        "An asset that exists: fail (default), skip or replace",
                        {"type": "string", "enum": ["fail", "skip", "replace"]},
                    ),
                ],
                body={
                    "required": True,
                    "content": {
                        "application/x-tar": {},
                        "application/octet-stream": {},
                        "multipart/form-data": {},
                    },
                },
            ),
        },
    }
