"""The Sensu Go namespaces API in stashd's OpenAPI document.

The body comes from `schemas.NamespaceSchema`; tests/test_openapi.py checks that
every route of `routes` is here.
"""

from __future__ import annotations

from core.openapi import (
    SENSUGO_SECURITY,
    Document,
    errors,
    json_body,
    operation,
    path_param,
    response,
)
from namespaces.schemas import NamespaceSchema
from sensugo.openapi import GO_ERRORS, list_operation, merge_patch_body

TAG = "namespaces"
GO = "/api/core/v2"

SCHEMAS: dict[str, object] = {"Namespace": NamespaceSchema}

_NS = path_param("ns", "A namespace", example="default")


def paths() -> dict[str, dict[str, Document]]:
    """Every path of the namespaces API."""
    return {
        GO + "/namespaces": {
            "get": list_operation(
                "Namespaces by name", "list_namespaces", TAG, "Namespace", []
            ),
            "post": operation(
                "Create a namespace",
                "create_namespace",
                TAG,
                {
                    "201": response("Created; an empty body"),
                    **errors("sensugo", 409, 413, *GO_ERRORS),
                },
                body=json_body(
                    "Namespace", "`name`: letters, digits, `_`, `.`, `-` and `:`."
                ),
                security=SENSUGO_SECURITY,
            ),
        },
        GO + "/namespaces/{ns}": {
            "get": operation(
                "One namespace",
                "get_namespace",
                TAG,
                {
                    "200": response("The namespace", "Namespace"),
                    **errors("sensugo", 404, *GO_ERRORS),
                },
                parameters=[_NS],
                security=SENSUGO_SECURITY,
            ),
            "put": operation(
                "Create the namespace, or keep it; the body's name must be the URL's",
                "put_namespace",
                TAG,
                {
                    "201": response("Stored; an empty body"),
                    **errors("sensugo", 413, *GO_ERRORS),
                },
                parameters=[_NS],
                body=json_body("Namespace"),
                security=SENSUGO_SECURITY,
            ),
            "patch": operation(
                "A merge patch, which can change nothing but must name this namespace",
                "patch_namespace",
                TAG,
                {
                    "200": response("The namespace", "Namespace"),
                    **errors("sensugo", 404, 413, *GO_ERRORS),
                },
                parameters=[_NS],
                body=merge_patch_body("Namespace"),
                security=SENSUGO_SECURITY,
            ),
            "delete": operation(
                "Delete an empty namespace",
                "delete_namespace",
                TAG,
                {
                    "204": response("Deleted; an empty body"),
                    **errors("sensugo", 404, 409, *GO_ERRORS),
                },
                parameters=[_NS],
                security=SENSUGO_SECURITY,
            ),
        },
    }
