"""The archives API (management and downloads) in stashd's OpenAPI document.

Records are built by hand (`schemas.record_json`), so their shape is written out
here; tests/test_openapi.py checks that every route of `routes` is here.
"""

from __future__ import annotations

from archives import openapi_part2
from core.openapi import (
    SENSUGO_SECURITY,
    Document,
    errors,
    header_param,
    operation,
    path_param,
    query_param,
    response,
    schema_ref,
)
from sensugo.openapi import CONDITIONS, GO_ERRORS, merge_patch_body

TAG = "archives"
GO = "/api/core/v2"

_STRING = {"type": "string"}
_NULLABLE_INT = {"type": ["integer", "null"]}
_STRINGS = {"type": "array", "items": _STRING}
_STRING_MAP = {"type": "object", "additionalProperties": _STRING}

SCHEMAS: dict[str, object] = {
    "Archive": {
        "type": "object",
        "required": [
            "sha512",
            "sha256",
            "size",
            "type",
            "filename",
            "state",
            "available",
            "origin",
            "aliases",
            "download_url",
            "referenced_by",
            "warnings",
            "created_at",
            "updated_at",
            "deleted_at",
            "last_download_at",
            "metadata",
        ],
        "properties": {
            "sha512": {"type": "string", "pattern": "^[0-9a-f]{128}$"},
            "sha256": _STRING,
            "size": {"type": "integer"},
            "type": {"type": "string", "enum": ["tar+gzip", "tar"]},
            "filename": _STRING,
            "state": _STRING,
            "available": {"type": "boolean"},
            "scan": {"type": "object"},
            "origin": {"type": "object", "required": ["kind"]},
            "aliases": _STRINGS,
            "download_url": _STRING,
            "referenced_by": _STRINGS,
            "warnings": _STRINGS,
            "created_at": {"type": "integer"},
            "updated_at": {"type": "integer"},
            "deleted_at": _NULLABLE_INT,
            "last_download_at": _NULLABLE_INT,
            "metadata": {
                "type": "object",
                "required": ["name", "namespace", "labels", "annotations"],
                "properties": {
                    "name": _STRING,
                    "namespace": _STRING,
                    "labels": _STRING_MAP,
                    "annotations": _STRING_MAP,
                    "created_by": _STRING,
                },
            },
        },
    },
    "ArchiveUpload": {
        "type": "object",
        "required": ["archive", "asset", "asset_stored", "warnings"],
        "properties": {
            "archive": schema_ref("Archive"),
            "asset": {"anyOf": [schema_ref("Asset"), {"type": "null"}]},
            "asset_stored": {"type": "boolean"},
            "warnings": _STRINGS,
        },
    },
    **openapi_part2.SCHEMAS,
    "ArchivePatch": {
        "type": "object",
        "properties": {
            "filename": _STRING,
            "aliases": {"type": ["array", "null"], "items": _STRING},
            "metadata": {
                "type": ["object", "null"],
                "properties": {
                    "labels": {
                        "type": ["object", "null"],
                        "additionalProperties": _STRING,
                    },
                    "annotations": {
                        "type": ["object", "null"],
                        "additionalProperties": _STRING,
                    },
                },
            },
        },
    },
}

_NS = path_param("ns", "A namespace", example="default")
_ID = path_param(
    "archive_id", "The archive's SHA-512 (either case)", pattern="^[0-9a-fA-F]{128}$"
)
# true, 1 or yes; false, 0, no or empty (either case); anything else gets 400.
_FLAG = {
    "type": "string",
    "pattern": "^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|[Yy][Ee][Ss]|[Nn][Oo]|1|0|)$",
}
_SORT = [
    query_param(
        "sort_by",
        "Sort key; empty: sha512",
        {"type": "string", "enum": ["sha512", "created_at", "size", "filename", ""]},
    ),
    query_param(
        "sort_order",
        "Order; empty: asc",
        {"type": "string", "enum": ["asc", "desc", ""]},
    ),
    query_param("include_total", "Send X-Total-Count", _FLAG),
    query_param("deleted", "List the trash instead", _FLAG),
    query_param("limit", "Page size; not an integer: everything"),
    query_param("continue", "The Sensu-Continue of the previous page"),
    query_param("labelSelector", "Label selector"),
    query_param("fieldSelector", "Field selector (`archive.filename`, ...)"),
]
_RECORDS = response(
    "A page of records; `Sensu-Continue` when more follow",
    {"type": "array", "items": schema_ref("Archive")},
    headers=["Sensu-Continue"],
)
_RECORDS["headers"]["X-Total-Count"] = {"schema": {"type": "string"}}
_UPLOAD_PARAMS = [
    query_param("filename", "The file name (else the part's or Content-Disposition's)"),
    query_param("alias", "A download path alias (repeatable)", _STRINGS, explode=True),
    query_param("asset", "Also write the asset of this name pointing at it"),
    query_param(
        "as", "`url` (default) or `build`", {"type": "string", "enum": ["url", "build"]}
    ),
    query_param(
        "filter", "A build's filter (with as=build; repeatable)", _STRINGS, explode=True
    ),
    query_param(
        "share", "Seconds: a share token made with it goes into the asset's url"
    ),
]


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


def _download(summary: str, op: str, params: list[Document]) -> Document:
    binary = {"description": "The archive's exact bytes"}
    ok = response(
        summary,
        media=None,
        headers=["ETag"],
    )
    ok["content"] = {m: {} for m in ("application/gzip", "application/x-tar")}
    ok.update(binary)
    partial = dict(ok, description="One range of the bytes")
    validators = response("Not modified", media=None, headers=["ETag"])
    return operation(
        summary,
        op,
        TAG,
        {
            "200": ok,
            "206": partial,
            "304": validators,
            **errors("sensugo", 404, 410, 416, 502, *GO_ERRORS),
        },
        parameters=[
            *params,
            query_param("token", "A share token: opens this archive alone"),
            header_param("Range", "One byte range (`bytes=0-99`)"),
            header_param("If-None-Match", "304 when the ETag matches"),
            header_param("If-Modified-Since", "304 when not newer"),
            header_param("If-Range", "The range only while this validator holds"),
        ],
        security=[{}, *SENSUGO_SECURITY],
        description="Public when STASHD_ARCHIVES_PUBLIC_READ is true, and with a share "
        "token. A mirrored archive not fetched yet is fetched first (503 with "
        "Retry-After while that takes long, 502 after a failure).",
    )


def paths() -> dict[str, dict[str, Document]]:
    """Every path of the archives API."""
    one = [_NS, _ID]
    record = response("The record", "Archive", headers=["ETag"])
    base = GO + "/namespaces/{ns}/archives"
    return {
        base: {
            "get": _op(
                "The records of a namespace",
                "list_archives",
                {"200": _RECORDS},
                404,
                parameters=[_NS, *_SORT],
            ),
            "post": _op(
                "Upload an archive (raw or multipart), optionally writing an asset",
                "upload_archive",
                {
                    "201": response("Stored", "ArchiveUpload", headers=["Location"]),
                    "200": response(
                        "Those bytes were there already",
                        "ArchiveUpload",
                        headers=["Location"],
                    ),
                },
                404,
                409,
                413,
                parameters=[_NS, *_UPLOAD_PARAMS],
                body={
                    "required": True,
                    "content": {
                        "application/octet-stream": {},
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["file"],
                                "properties": {"file": {}, "definition": _STRING},
                            }
                        },
                    },
                },
            ),
        },
        GO + "/archives": {
            "get": _op(
                "The records of every namespace",
                "list_all_archives",
                {"200": _RECORDS},
                parameters=_SORT,
            )
        },
        GO + "/archives/gc": {
            "post": _op(
                "Garbage collection now",
                "collect_garbage",
                {
                    "200": response(
                        "What was collected",
                        {"type": "object", "additionalProperties": {"type": "integer"}},
                    )
                },
                409,
            )
        },
        base + "/filters": {
            "get": _op(
                "What list filters and sorts accept",
                "archive_filters",
                {
                    "200": response(
                        "Fields, operators, sorts",
                        {"type": "object", "additionalProperties": _STRINGS},
                    )
                },
                404,
                parameters=[_NS],
            )
        },
        base + "/{archive_id}": {
            "get": _op(
                "One record",
                "get_archive",
                {"200": record},
                404,
                410,
                parameters=[*one, query_param("deleted", "Show a trashed one", _FLAG)],
            ),
            "patch": _op(
                "Merge-patch the file name, aliases, labels and annotations",
                "patch_archive",
                {"200": record},
                404,
                409,
                410,
                412,
                413,
                parameters=[*one, *CONDITIONS],
                body=merge_patch_body("ArchivePatch"),
            ),
            "delete": _op(
                "Move a record to the trash (purge=true: remove it)",
                "delete_archive",
                {"204": response("Deleted; an empty body")},
                404,
                409,
                parameters=[
                    *one,
                    query_param("force", "Even while assets name it", _FLAG),
                    query_param("purge", "Remove at once", _FLAG),
                ],
            ),
        },
        base + "/{archive_id}/restore": {
            "post": _op(
                "Take a record out of the trash",
                "restore_archive",
                {"200": response("The record", "Archive")},
                404,
                410,
                parameters=one,
            )
        },
        base + "/{archive_id}/definition": {
            "get": _op(
                "The asset this archive would make; nothing is stored",
                "archive_definition",
                {
                    "200": response(
                        "An asset (wrapped=true: sensuctl's envelope)",
                        {"type": "object"},
                    )
                },
                404,
                410,
                parameters=[
                    *one,
                    query_param("name", "The asset's name"),
                    query_param("wrapped", "In sensuctl's envelope", _FLAG),
                ],
            )
        },
        "/archives/{ns}/{archive_id}/{filename}": {
            "get": _download(
                "The archive's bytes (canonical URL)",
                "download_named",
                [*one, path_param("filename", "Any name", example="a.tar.gz")],
            )
        },
        "/archives/{ns}/{archive_id}": {
            "get": _download("The archive's bytes", "download_archive", one)
        },
        "/archives/{ns}/paths/{alias}": {
            "get": _download(
                "The archive an alias points at now",
                "download_alias",
                [_NS, path_param("alias", "An alias (may hold /)", example="a/latest")],
            )
        },
        **openapi_part2.paths(),
    }
