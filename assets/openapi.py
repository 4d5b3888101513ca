"""The Sensu Go assets API in stashd's OpenAPI document.

Bodies come from `sensugo.assets.AssetSchema` (through apispec's marshmallow
plugin); tests/test_openapi.py checks that every route of `routes` is here.
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
from sensugo.assets import AssetSchema
from sensugo.openapi import CONDITIONS, GO_ERRORS, list_operation, merge_patch_body

TAG = "assets"
GO = "/api/core/v2"

SCHEMAS: dict[str, object] = {"Asset": AssetSchema}

NS = path_param("ns", "A namespace", example="default")
_NAME = path_param(
    "name",
    "The asset's name; it may hold `/` (sent raw or as %2F) and `:`",
    example="sensu/sensu-slack-handler",
)


def paths() -> dict[str, dict[str, Document]]:
    """Every path of the assets API."""
    one = [NS, _NAME]
    return {
        GO + "/namespaces/{ns}/assets": {
            "get": list_operation(
                "The assets of a namespace by name ([] when it does not exist)",
                "list_assets",
                TAG,
                "Asset",
                [NS],
            ),
            "post": operation(
                "Create an asset",
                "create_asset",
                TAG,
                {
                    "201": response("Created; an empty body"),
                    **errors("sensugo", 404, 409, 413, *GO_ERRORS),
                },
                parameters=[NS],
                body=json_body("Asset", "Unknown keys are ignored; null is absent."),
                security=SENSUGO_SECURITY,
            ),
        },
        GO + "/assets": {
            "get": list_operation(
                "The assets of every namespace", "list_all_assets", TAG, "Asset", []
            )
        },
        GO + "/namespaces/{ns}/assets/{name}": {
            "get": operation(
                "One asset",
                "get_asset",
                TAG,
                {
                    "200": response("The asset", "Asset", headers=["ETag"]),
                    **errors("sensugo", 404, *GO_ERRORS),
                },
                parameters=one,
                security=SENSUGO_SECURITY,
            ),
            "put": operation(
                "Create or replace an asset (201 either way)",
                "put_asset",
                TAG,
                {
                    "201": response("Stored; an empty body"),
                    **errors("sensugo", 404, 413, *GO_ERRORS),
                },
                parameters=one,
                body=json_body("Asset"),
                security=SENSUGO_SECURITY,
            ),
            "patch": operation(
                "Apply a JSON Merge Patch (null removes a key)",
                "patch_asset",
                TAG,
                {
                    "200": response("The asset as patched", "Asset", headers=["ETag"]),
                    **errors("sensugo", 404, 412, 413, *GO_ERRORS),
                },
                parameters=[*one, *CONDITIONS],
                body=merge_patch_body("Asset"),
                security=SENSUGO_SECURITY,
            ),
            "delete": operation(
                "Delete an asset",
                "delete_asset",
                TAG,
                {
                    "204": response("Deleted; an empty body"),
                    **errors("sensugo", 404, *GO_ERRORS),
                },
                parameters=one,
                security=SENSUGO_SECURITY,
            ),
        },
    }
