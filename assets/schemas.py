"""What an asset body must look like, and how assets are sent back.

Bodies are decoded as Sensu decodes them (Go's encoding/json, `sensugo.schemas`):
unknown keys are ignored at every level (clients send back what they read), ``null``
means absent, and a known key of the wrong JSON type is an error. Output follows
Sensu's protobuf JSON: ``filters``, ``builds`` and ``headers`` are ``null`` when
empty, empty strings and maps are left out (spec assets.md section 3).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, TypedDict

import esprima
import marshmallow as ma
from marshmallow import fields

from sensugo.schemas import string, string_map, strings

# Go's \w is ASCII only and its $ matches only at the very end (spec 4, 13).
ASSET_NAME = re.compile(r"[\w/.\-:]+", re.ASCII)
MIN_SHA512 = 128


class Invalid(ValueError):
    """A resource that breaks a rule of section 4; the message is Sensu's reason."""


class MetadataSchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE  # Go ignores unknown keys, and clients send them

    name = string()
    namespace = string()
    labels = string_map()
    annotations = string_map()
    created_by = string()


class BuildSchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE  # as above

    url = string()
    sha512 = string()
    filters = strings()
    headers = string_map()


class AssetSchema(ma.Schema):
    """An asset body (POST, PUT, and the result of a PATCH)."""

    class Meta:
        unknown = ma.EXCLUDE  # as above

    url = string()
    sha512 = string()
    filters = strings()
    builds = fields.List(
        fields.Nested(BuildSchema, error_messages={"type": "must be an object"}),
        allow_none=True,
        error_messages={"invalid": "must be an array of objects"},
    )
    headers = string_map()
    metadata = fields.Nested(
        MetadataSchema,
        allow_none=True,
        error_messages={"type": "must be an object"},
    )


asset_schema = AssetSchema()


class Build(TypedDict):
    url: str
    sha512: str
    filters: list[str]
    headers: dict[str, str]


class Metadata(TypedDict):
    name: str
    namespace: str
    labels: dict[str, str]
    annotations: dict[str, str]
    created_by: str


class Asset(TypedDict):
    """An asset with every field present; `asset_json` turns it into Sensu's shape."""

    url: str
    sha512: str
    filters: list[str]
    builds: list[Build]
    headers: dict[str, str]
    metadata: Metadata


def _normal_build(loaded: dict[str, Any]) -> Build:
    return Build(
        url=loaded.get("url") or "",
        sha512=loaded.get("sha512") or "",
        filters=list(loaded.get("filters") or []),
        headers=dict(loaded.get("headers") or {}),
    )


def load_asset(body: Any) -> Asset:
    """The asset a decoded JSON body describes, every field filled in.

    :raise marshmallow.ValidationError: a known key with the wrong JSON type.
    """
    if not isinstance(body, dict):
        raise ma.ValidationError("request body must be a JSON object")
    loaded = asset_schema.load(body)
    meta = loaded.get("metadata") or {}
    return Asset(
        url=loaded.get("url") or "",
        sha512=loaded.get("sha512") or "",
        filters=list(loaded.get("filters") or []),
        builds=[_normal_build(b) for b in loaded.get("builds") or []],
        headers=dict(loaded.get("headers") or {}),
        metadata=Metadata(
            name=meta.get("name") or "",
            namespace=meta.get("namespace") or "",
            labels=dict(meta.get("labels") or {}),
            annotations=dict(meta.get("annotations") or {}),
            created_by=meta.get("created_by") or "",
        ),
    )


def _build_json(build: Build) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if build["url"]:
        out["url"] = build["url"]
    if build["sha512"]:
        out["sha512"] = build["sha512"]
    out["filters"] = build["filters"] or None
    out["headers"] = build["headers"] or None
    return out


def asset_json(asset: Asset) -> dict[str, Any]:
    """`asset` in Sensu's output shape (section 3.1), keys in Sensu's order."""
    out: dict[str, Any] = {}
    if asset["url"]:
        out["url"] = asset["url"]
    if asset["sha512"]:
        out["sha512"] = asset["sha512"]
    out["filters"] = asset["filters"] or None
    out["builds"] = [_build_json(b) for b in asset["builds"]] or None
    meta = asset["metadata"]
    metadata: dict[str, Any] = {}
    for name, value in (
        ("name", meta["name"]),
        ("namespace", meta["namespace"]),
        ("labels", meta["labels"]),
        ("annotations", meta["annotations"]),
        ("created_by", meta["created_by"]),
    ):
        if value:
            metadata[name] = value
    out["metadata"] = metadata
    out["headers"] = asset["headers"] or None
    return out


def _check_filters(filters: list[str]) -> None:
    for i, expression in enumerate(filters):
        try:
            esprima.parseScript(expression)
        except esprima.Error as exc:
            raise Invalid(f"syntax error in expression {i}: {exc}") from None
        except RecursionError:
            raise Invalid(
                f"syntax error in expression {i}: nested too deeply"
            ) from None


def _check_artifact(url: str, sha512: str, filters: list[str]) -> None:
    if not sha512:
        raise Invalid("SHA-512 checksum cannot be empty")
    if len(sha512) < MIN_SHA512:
        raise Invalid(f"SHA-512 checksum must be at least {MIN_SHA512} characters")
    if not url:
        raise Invalid("URL cannot be empty")
    _check_filters(filters)


def validate_asset(asset: Asset) -> None:
    """Sensu's checks in Sensu's order; the first failure is raised (section 4).

    :raise Invalid: with Sensu's reason; the caller adds ``resource is invalid: ``.
    """
    name = asset["metadata"]["name"]
    if not name:
        raise Invalid("name cannot be empty")
    if not ASSET_NAME.fullmatch(name):
        raise Invalid(
            "name may only contain letters, forward slashes, underscores, dashes "
            "and numbers"
        )
    if not asset["metadata"]["namespace"]:
        raise Invalid("namespace cannot be empty")
    if not asset["builds"]:
        _check_artifact(asset["url"], asset["sha512"], asset["filters"])
    for build in asset["builds"]:
        _check_artifact(build["url"], build["sha512"], build["filters"])


def asset_fields(asset: dict[str, Any]) -> dict[str, str]:
    """What ``fieldSelector`` matches an asset (output shape) against."""
    meta = asset.get("metadata") or {}
    found = {
        "asset.name": meta.get("name", ""),
        "asset.namespace": meta.get("namespace", ""),
        "asset.filters": ",".join(asset.get("filters") or ()),
    }
    for key, value in (meta.get("labels") or {}).items():
        found["asset.labels." + key] = value
    return found


def etag_of(data: bytes) -> str:
    """The ETag of a stored asset: a digest of exactly what GET sends."""
    return hashlib.sha256(data).hexdigest()[:32]
