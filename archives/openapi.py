"""The archives API in stashd's OpenAPI document: hosting (`openapi_hosting`:
records, GC, downloads) and distribution (`openapi_distribution`: share tokens,
mirrors, bundles). tests/test_openapi.py checks that every route is here.
"""

from __future__ import annotations

from archives import openapi_distribution, openapi_hosting
from core.openapi import Document

SCHEMAS: dict[str, object] = {
    **openapi_hosting.SCHEMAS,
    **openapi_distribution.SCHEMAS,
    "ArchivePatch": openapi_hosting.PATCH_SCHEMA,
}


def paths() -> dict[str, dict[str, Document]]:
    """Every path of the archives API."""
    return {**openapi_hosting.paths(), **openapi_distribution.paths()}
