"""Fields of Sensu Go request bodies, decoded as Go's encoding/json decodes them.

Unknown keys are ignored at every level (clients send back what they read), ``null``
means absent, and a known key of the wrong JSON type is an error whose message names
the type wanted. Also the merge patch (RFC 7386) that PATCH routes apply.
"""

from __future__ import annotations

from typing import Any

from marshmallow import fields

_STRING_ERRORS: dict[str, str | list | dict] = {"invalid": "must be a string"}
_MAP_ERRORS: dict[str, str | list | dict] = {"invalid": "must be an object of strings"}
_LIST_ERRORS: dict[str, str | list | dict] = {"invalid": "must be an array of strings"}


def string() -> fields.String:
    """A string field; ``null`` is allowed and means absent."""
    return fields.String(allow_none=True, error_messages=_STRING_ERRORS)


def string_map() -> fields.Dict:
    """An object of strings (labels, annotations, headers); ``null`` means absent."""
    return fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        allow_none=True,
        error_messages=_MAP_ERRORS,
    )


def strings() -> fields.List:
    """An array of strings; ``null`` means absent."""
    return fields.List(fields.String(), allow_none=True, error_messages=_LIST_ERRORS)


def without_nulls(value: Any) -> Any:
    """A merge patch with its ``null`` members left out, to type-check the rest."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    return value


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: `patch` applied to `target`; ``null`` deletes, arrays are replaced."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result
