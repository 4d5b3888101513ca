"""What a stash request body must look like."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

MAX_EXPIRE = 2**31 - 1


def _encodable(path: str) -> None:
    # JSON can carry lone surrogates ("\ud800"); no UTF-8 key can hold them.
    try:
        path.encode()
    except UnicodeEncodeError:
        raise ma.ValidationError("must be valid Unicode text") from None


class StashSchema(ma.Schema):
    """The ``POST /stashes`` document: ``{path, content, expire}``."""

    class Meta:
        unknown = ma.EXCLUDE  # Sensu clients send extra keys (dc, _id); ignore them

    path = fields.String(
        required=True,
        validate=[validate.Length(min=1, error="must not be empty"), _encodable],
        error_messages={"invalid": "must be a string", "null": "must be a string"},
    )
    content = fields.Dict(
        required=True,
        error_messages={
            "invalid": "must be a JSON object",
            "null": "must be a JSON object",
        },
    )
    # strict: 60.0, "60" and true are not integers. <= 0 means "no TTL".
    expire = fields.Integer(
        strict=True,
        allow_none=True,
        load_default=None,
        validate=validate.Range(max=MAX_EXPIRE, error="must be at most {max}"),
        error_messages={"invalid": "must be an integer or null"},
    )


stash_schema = StashSchema()
