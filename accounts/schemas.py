"""What an API key body must look like (Sensu Go decoding, `sensugo.schemas`)."""

from __future__ import annotations

import marshmallow as ma

from sensugo.schemas import string


class ApiKeySchema(ma.Schema):
    """An API key body: only ``username`` is read; the server picks the rest."""

    class Meta:
        unknown = ma.EXCLUDE  # clients send back metadata and created_at

    username = string()


apikey_schema = ApiKeySchema()
