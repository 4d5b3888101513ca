"""Archive hosting in stashd's OpenAPI document: records (listed, uploaded, patched,
trashed, restored, scanned again), garbage collection and the download URLs.

Records are built by hand (`schemas.record_json`), so their shape is written out
here; `archives.openapi` puts this part and `openapi_distribution` together.
"""

from __future__ import annotations

from core.openapi import (
    SENSUGO_SECURITY,
    Api,
    Document,
    array_of,
    header_param,
    path_param,
    query_param,
    response,
    schema_ref,
)
from sensugo.openapi import CONDITIONS, NAMESPACE, PREFIX, merge_patch_body

API = Api("archives", "sensugo")
RECORDS = PREFIX + "/namespaces/{ns}/archives"

STRING = {"type": "string"}
STRINGS = {"type": "array", "items": STRING}
_NULLABLE_INT = {"type": ["integer", "null"]}
_STRING_MAP = {"type": "object", "additionalProperties": STRING}

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
            "sha256": STRING,
            "size": {"type": "integer"},
            "type": {"type": "string", "enum": ["tar+gzip", "tar"]},
            "filename": STRING,
            "state": STRING,
            "available": {"type": "boolean"},
            "scan": {"type": "object"},
            "origin": {"type": "object", "required": ["kind"]},
            "aliases": STRINGS,
            "download_url": STRING,
            "referenced_by": STRINGS,
            "warnings": STRINGS,
            "created_at": {"type": "integer"},
            "updated_at": {"type": "integer"},
            "deleted_at": _NULLABLE_INT,
            "last_download_at": _NULLABLE_INT,
            "metadata": {
                "type": "object",
                "required": ["name", "namespace", "labels", "annotations"],
                "properties": {
                    "name": STRING,
                    "namespace": STRING,
                    "labels": _STRING_MAP,
                    "annotations": _STRING_MAP,
                    "created_by": STRING,
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
            "warnings": STRINGS,
        },
    },
}

# What a PATCH of a record sends; apart from SCHEMAS because the document lists it
# after distribution's schemas (archives.openapi).
PATCH_SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {
        "filename": STRING,
        "aliases": {"type": ["array", "null"], "items": STRING},
        "metadata": {
            "type": ["object", "null"],
            "properties": {
                "labels": {
                    "type": ["object", "null"],
                    "additionalProperties": STRING,
                },
                "annotations": {
                    "type": ["object", "null"],
                    "additionalProperties": STRING,
                },
            },
        },
    },
}

ARCHIVE_ID = path_param(
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
    array_of("Archive"),
    headers=["Sensu-Continue"],
)
_RECORDS["headers"]["X-Total-Count"] = {"schema": {"type": "string"}}
_UPLOAD_PARAMS = [
    query_param("filename", "The file name (else the part's or Content-Disposition's)"),
    query_param("alias", "A download path alias (repeatable)", STRINGS, explode=True),
    query_param("asset", "Also write the asset of this name pointing at it"),
    query_param(
        "as", "`url` (default) or `build`", {"type": "string", "enum": ["url", "build"]}
    ),
    query_param(
        "filter", "A build's filter (with as=build; repeatable)", STRINGS, explode=True
    ),
    query_param(
        "share", "Seconds: a share token made with it goes into the asset's url"
    ),
]


def _download(summary: str, op: str, params: list[Document]) -> Document:
    ok = response("The archive's exact bytes", media=None, headers=["ETag"])
    ok["content"] = {m: {} for m in ("application/gzip", "application/x-tar")}
    partial = dict(ok, description="One range of the bytes")
    validators = response("Not modified", media=None, headers=["ETag"])
    return API.operation(
        summary,
        op,
        {"200": ok, "206": partial, "304": validators},
        404,
        410,
        416,
        502,
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
    """The paths of records, GC and downloads."""
    one = [NAMESPACE, ARCHIVE_ID]
    record = response("The record", "Archive", headers=["ETag"])
    return {
        RECORDS: {
            "get": API.operation(
                "The records of a namespace",
                "list_archives",
                {"200": _RECORDS},
                404,
                parameters=[NAMESPACE, *_SORT],
            ),
            "post": API.operation(
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
                parameters=[NAMESPACE, *_UPLOAD_PARAMS],
                body={
                    "required": True,
                    "content": {
                        "application/octet-stream": {},
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["file"],
                                "properties": {"file": {}, "definition": STRING},
                            }
                        },
                    },
                },
            ),
        },
        PREFIX + "/archives": {
            "get": API.operation(
                "The records of every namespace",
                "list_all_archives",
                {"200": _RECORDS},
                parameters=_SORT,
            )
        },
        PREFIX + "/archives/gc": {
            "post": API.operation(
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
        RECORDS + "/filters": {
            "get": API.operation(
                "What list filters and sorts accept",
                "archive_filters",
                {
                    "200": response(
                        "Fields, operators, sorts",
                        {"type": "object", "additionalProperties": STRINGS},
                    )
                },
                404,
                parameters=[NAMESPACE],
            )
        },
        RECORDS + "/{archive_id}": {
            "get": API.operation(
                "One record",
                "get_archive",
                {"200": record},
                404,
                410,
                parameters=[*one, query_param("deleted", "Show a trashed one", _FLAG)],
            ),
            "patch": API.operation(
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
            "delete": API.operation(
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
        RECORDS + "/{archive_id}/restore": {
            "post": API.operation(
                "Take a record out of the trash",
                "restore_archive",
                {"200": response("The record", "Archive")},
                404,
                410,
                parameters=one,
            )
        },
        RECORDS + "/{archive_id}/definition": {
            "get": API.operation(
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
                [
                    NAMESPACE,
                    path_param("alias", "An alias (may hold /)", example="a/latest"),
                ],
            )
        },
        RECORDS + "/{archive_id}/scan": {
            "post": API.operation(
                "Scan an archive's bytes again (400 while scanning is off)",
                "scan_archive",
                {"202": response("Queued; the record, unscanned", "Archive")},
                404,
                410,
                parameters=one,
            )
        },
    }
