"""``GET /openapi.json``: stashd's OpenAPI 3.1 document, built once per process.

Each API describes its routes in its own ``openapi.py`` (`paths()`, and `SCHEMAS`:
marshmallow schemas, which apispec turns into JSON Schema, or JSON Schema written
out); this module adds what every API shares (core/openapi.py), a HEAD operation
for each GET (Flask and the fast path answer both), /metrics and this route. The
route needs no credentials: it is documentation (core/gate.py `PUBLIC_PATH`).
"""

from __future__ import annotations

import copy
import functools
import json
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint

import accounts.openapi
import archives.openapi
import assets.openapi
import namespaces.openapi
import silenced.openapi
import stashes.openapi
from core import openapi
from core.gate import PUBLIC_PATH
from core.http import JSONResponse
from core.openapi import Document
from core.settings import VERSION

bp = Blueprint("openapi", __name__)

PATH = PUBLIC_PATH

_DESCRIPTION = """\
A stash store with TTLs (the Sensu 1.x stash API), an asset registry (the Sensu Go
6.x assets API, with namespaces, API keys and tokens), one registry of silences
served through both the Sensu 1.x and the Sensu Go silenced APIs, and archive
hosting. Each API answers errors in its own dialect: `Sensu1Error` (or an empty
body for 401, 404 and 405) on the Sensu 1.x routes, `SensuGoError` under
`/api/core/v2`, `/auth` and `/archives`. Every path also answers OPTIONS (200,
CORS headers, no credentials), and every response carries `X-Request-ID`.
"""

# Every API's part of the document, in the order of its tags.
_PARTS = (
    stashes.openapi,
    silenced.openapi,
    assets.openapi,
    namespaces.openapi,
    accounts.openapi,
    archives.openapi,
)


def _head(get: Document) -> Document:
    """The HEAD operation of a GET: the same statuses and headers, no body."""
    head = copy.deepcopy(get)
    head["operationId"] = get["operationId"] + "_head"
    head["summary"] = get["summary"] + " (headers only)"
    for answer in head["responses"].values():
        answer.pop("content", None)  # references keep theirs: HEAD bodies are dropped
    return head


def _own_paths() -> dict[str, dict[str, Document]]:
    """/metrics and this document."""
    return {
        "/metrics": {
            "get": openapi.Api("operations", "sensu1").operation(
                "Prometheus metrics of every worker (README: Monitoring stashd)",
                "get_metrics",
                {
                    "200": openapi.response(
                        "Prometheus's text format 0.0.4",
                        {"type": "string"},
                        media="text/plain",
                    )
                },
            )
        },
        PATH: {
            "get": openapi.operation(
                "This document",
                "get_openapi",
                "operations",
                {"200": openapi.response("OpenAPI 3.1", {"type": "object"})},
                security=[{}],
            )
        },
    }


@functools.cache
def document() -> dict[str, Any]:
    """The whole document, as a JSON-ready dict (built on first use, then kept)."""
    spec = APISpec(
        title="stashd",
        version=VERSION,
        openapi_version="3.1.0",
        plugins=[MarshmallowPlugin()],
        info={"description": _DESCRIPTION},
    )
    for name, schema in openapi.SCHEMAS.items():
        spec.components.schema(name, schema)
    for name, header in openapi.HEADERS.items():
        spec.components.header(name, header)
    for name, answer in openapi.RESPONSES.items():
        spec.components.response(name, answer)
    for name, scheme in openapi.SECURITY_SCHEMES.items():
        spec.components.security_scheme(name, scheme)
    paths: dict[str, dict[str, Document]] = {}
    for part in _PARTS:
        for name, schema in part.SCHEMAS.items():
            if isinstance(schema, dict):
                spec.components.schema(name, schema)
            else:
                spec.components.schema(name, schema=schema)
        paths.update(part.paths())
    paths.update(_own_paths())
    for path, operations in paths.items():
        if "get" in operations:
            operations["head"] = _head(operations["get"])
        spec.path(path=path, operations=operations)
    # A round trip through JSON: what is served is exactly what tests load.
    return json.loads(json.dumps(spec.to_dict()))


@functools.cache
def _encoded() -> bytes:
    return json.dumps(document(), separators=(",", ":")).encode()


@bp.get(PATH)
def get_openapi() -> JSONResponse:
    """The OpenAPI document; no credentials needed."""
    return JSONResponse(_encoded(), 200)
