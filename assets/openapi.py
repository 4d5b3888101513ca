"""The Sensu Go assets API in stashd's OpenAPI document.

Bodies come from `sensugo.assets.AssetSchema` (through apispec's marshmallow
plugin); tests/test_openapi.py checks that every route of `routes` is here.
"""

from __future__ import annotations

from core.openapi import Api, Document, json_body, path_param, response
from sensugo.assets import AssetSchema
from sensugo.openapi import (
    CONDITIONS,
    NAMESPACE,
    PREFIX,
    list_operation,
    merge_patch_body,
)

API = Api("assets", "sensugo")

SCHEMAS: dict[str, object] = {"Asset": AssetSchema}

_NAME = path_param(
    "name",
    "The asset's name; it may hold `/` (sent raw or as %2F) and `:`",
    example="sensu/sensu-slack-handler",
)


def paths() -> dict[str, dict[str, Document]]:
    """Every path of the assets API."""
    one = [NAMESPACE, _NAME]
    return {
        PREFIX + "/namespaces/{ns}/assets": {
            "get": list_operation(
                API,
                "The assets of a namespace by name ([] when it does not exist)",
                "list_assets",
                "Asset",
                [NAMESPACE],
            ),
            "post": API.operation(
                "Create an asset",
                "create_asset",
                {"201": response("Created; an empty body")},
                404,
                409,
                413,
                parameters=[NAMESPACE],
                body=json_body("Asset", "Unknown keys are ignored; null is absent."),
            ),
        },
        PREFIX + "/assets": {
            "get": list_operation(
                API, "The assets of every namespace", "list_all_assets", "Asset", []
            )
        },
        PREFIX + "/namespaces/{ns}/assets/{name}": {
            "get": API.operation(
                "One asset",
                "get_asset",
                {"200": response("The asset", "Asset", headers=["ETag"])},
                404,
                parameters=one,
            ),
            "put": API.operation(
                "Create or replace an asset (201 either way)",
                "put_asset",
                {"201": response("Stored; an empty body")},
                404,
                413,
                parameters=one,
                body=json_body("Asset"),
            ),
            "patch": API.operation(
                "Apply a JSON Merge Patch (null removes a key)",
                "patch_asset",
                {"200": response("The asset as patched", "Asset", headers=["ETag"])},
                404,
                412,
                413,
                parameters=[*one, *CONDITIONS],
                body=merge_patch_body("Asset"),
            ),
            "delete": API.operation(
                "Delete an asset",
                "delete_asset",
                {"204": response("Deleted; an empty body")},
                404,
                parameters=one,
            ),
        },
    }
