"""The Sensu Go namespaces API in stashd's OpenAPI document.

The body comes from `schemas.NamespaceSchema`; tests/test_openapi.py checks that
every route of `routes` is here.
"""

from __future__ import annotations

from core.openapi import Api, Document, json_body, response
from namespaces.schemas import NamespaceSchema
from sensugo.openapi import NAMESPACE, PREFIX, list_operation, merge_patch_body

API = Api("namespaces", "sensugo")

SCHEMAS: dict[str, object] = {"Namespace": NamespaceSchema}


def paths() -> dict[str, dict[str, Document]]:
    """Every path of the namespaces API."""
    return {
        PREFIX + "/namespaces": {
            "get": list_operation(
                API, "Namespaces by name", "list_namespaces", "Namespace", []
            ),
            "post": API.operation(
                "Create a namespace",
                "create_namespace",
                {"201": response("Created; an empty body")},
                409,
                413,
                body=json_body(
                    "Namespace", "`name`: letters, digits, `_`, `.`, `-` and `:`."
                ),
            ),
        },
        PREFIX + "/namespaces/{ns}": {
            "get": API.operation(
                "One namespace",
                "get_namespace",
                {"200": response("The namespace", "Namespace")},
                404,
                parameters=[NAMESPACE],
            ),
            "put": API.operation(
                "Create the namespace, or keep it; the body's name must be the URL's",
                "put_namespace",
                {"201": response("Stored; an empty body")},
                413,
                parameters=[NAMESPACE],
                body=json_body("Namespace"),
            ),
            "patch": API.operation(
                "A merge patch, which can change nothing but must name this namespace",
                "patch_namespace",
                {"200": response("The namespace", "Namespace")},
                404,
                413,
                parameters=[NAMESPACE],
                body=merge_patch_body("Namespace"),
            ),
            "delete": API.operation(
                "Delete an empty namespace",
                "delete_namespace",
                {"204": response("Deleted; an empty body")},
                404,
                409,
                parameters=[NAMESPACE],
            ),
        },
    }
