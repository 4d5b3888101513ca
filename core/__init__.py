"""Below every API: settings, the one error table, strict JSON, the request gate."""
