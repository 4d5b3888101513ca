"""What an API key body must look like (Sensu Go decoding, `sensugo.schemas`)."""

from __future__ import annotations

import marshmallow as ma

from sensugo.schemas import string, strings


class ApiKeySchema(ma.Schema):
    """An API key body: ``username`` and optional ``scopes`` are read; the server
    picks the rest."""

    class Meta:
        unknown = ma.EXCLUDE  # clients send back metadata and created_at

    username = string()
    scopes = strings()


apikey_schema = ApiKeySchema()
