"""Archive hosting's second part in stashd's OpenAPI document (spec archives.md
10-13): rescans, share tokens, mirrors and bundles. `archives.openapi` adds these
paths to its own."""

from __future__ import annotations

from core.openapi import (
    SENSUGO_SECURITY,
    Document,
    errors,
    json_body,
    operation,
    path_param,
    query_param,
    response,
    schema_ref,
)
from sensugo.openapi import GO_ERRORS

TAG = "archives"
GO = "/api/core/v2"

_STRING = {"type": "string"}
_STRINGS = {"type": "array", "items": _STRING}
_HEADERS = {"type": "object", "additionalProperties": _STRING}

SCHEMAS: dict[str, object] = {
    "Share": {
        "type": "object",
        "required": ["id", "archive", "expires_at", "created_by", "created_at"],
        "properties": {
            "id": _STRING,
            "archive": _STRING,
            "expires_at": {"type": "integer"},
            "note": _STRING,
            "created_by": _STRING,
            "created_at": {"type": "integer"},
            "token": {"type": "string", "description": "Shown once, at creation"},
            "url": _STRING,
        },
    },
    "MirrorRequest": {
        "type": "object",
        "required": ["url", "sha512"],
        "properties": {
            "url": _STRING,
            "sha512": {"type": "string", "pattern": "^[0-9a-fA-F]{128}$"},
            "headers": _HEADERS,
            "filename": _STRING,
            "fetch": {"type": "string", "enum": ["now", "lazy"]},
        },
    },
    "BundleImported": {
        "type": "object",
        "required": ["archives", "assets"],
        "properties": {
            "archives": {"type": "object", "additionalProperties": _STRINGS},
            "assets": {"type": "object", "additionalProperties": _STRINGS},
        },
    },
}

_NS = path_param("ns", "A namespace", example="default")
_ID = path_param(
    "archive_id", "The archive's SHA-512 (either case)", pattern="^[0-9a-fA-F]{128}$"
)


def _op(
    summary: str, op: str, ok: dict[str, Document], *statuses: int, **kw: object
) -> Document:
    return operation(
        summary,
        op,
        TAG,
        {**ok, **errors("sensugo", *statuses, *GO_ERRORS)},
        security=SENSUGO_SECURITY,
        **kw,  # type: ignore[arg-type]
    )


def paths() -> dict[str, dict[str, Document]]:
    """The paths of the scan hook, share tokens, mirrors and bundles."""
    one = [_NS, _ID]
    base = GO + "/namespaces/{ns}/archives"
    record = response("The record", "Archive", headers=["Location"])
    share_body = json_body(
        {
            "type": "object",
            "properties": {"expires_in": {"type": "integer"}, "note": _STRING},
        },
        "Optional: the lifetime in seconds and a note",
        required=False,
    )
    return {
        base + "/{archive_id}/scan": {
            "post": _op(
                "Scan an archive's bytes again (400 while scanning is off)",
                "scan_archive",
                {"202": response("Queued; the record, unscanned", "Archive")},
                404,
                410,
                parameters=one,
            )
        },
        base + "/{archive_id}/shares": {
            "get": _op(
                "The unexpired share tokens of an archive (without the tokens)",
                "list_shares",
                {
                    "200": response(
                        "The shares", {"type": "array", "items": schema_ref("Share")}
                    )
                },
                404,
                410,
                parameters=one,
            ),
            "post": _op(
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
        base + "/{archive_id}/shares/{share_id}": {
            "delete": _op(
                "Revoke a share token at once",
                "revoke_share",
                {"204": response("Revoked; an empty body")},
                404,
                parameters=[*one, path_param("share_id", "A share's id")],
            )
        },
        base + "/mirror": {
            "post": _op(
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
                parameters=[_NS],
                body=json_body("MirrorRequest"),
            )
        },
        GO + "/namespaces/{ns}/assets/{name}/mirror": {
            "post": _op(
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
                parameters=[_NS, path_param("name", "An asset's name")],
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
        GO + "/namespaces/{ns}/bundle": {
            "get": _op(
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
                    _NS,
                    query_param(
                        "asset", "An asset (repeatable)", _STRINGS, explode=True
                    ),
                    query_param(
                        "archive",
                        "An archive's SHA-512 (repeatable)",
                        _STRINGS,
                        explode=True,
                    ),
                    query_param("all", "Every asset and archive of the namespace"),
                    query_param("missing", "skip: leave out archives not served here"),
                ],
            ),
            "post": _op(
                "Import a bundle, checked whole before anything is stored",
                "import_bundle",
                {"201": response("What was stored", "BundleImported")},
                404,
                409,
                413,
                parameters=[
                    _NS,
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
