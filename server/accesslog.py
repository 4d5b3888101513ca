"""gunicorn's plain access lines, without the secrets a URL can hold.

An API key is the name in its own URL (``/api/core/v2/apikeys/<key>``, as in
Sensu Go), so a line naming the request as sent would keep the key in the log.
gunicorn's logger is kept; that one path segment is shown as ``<redacted>``. So is
the value of a ``token`` query argument: an archive's share token (spec
archives.md 11) is the credential of its download URL.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

from gunicorn.glogging import Logger

_KEY = re.compile(r"(/apikeys/)[^/]+")


class AccessLogger(Logger):
    """gunicorn's logger; the request line and path of an API key's URL redacted."""

    def atoms(self, resp: Any, req: Any, environ: dict, request_time: Any) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        query = environ.get("QUERY_STRING") or ""
        # Parsed, not matched as text: "tok%65n=" names the token too.
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(name == "token" for name, _ in pairs):
            shown_query = urlencode(
                [(n, "<redacted>" if n == "token" else v) for n, v in pairs],
                safe="<>",
            )
            atoms["q"] = shown_query
            method, protocol = environ["REQUEST_METHOD"], environ["SERVER_PROTOCOL"]
            path = environ.get("PATH_INFO") or ""
            atoms["r"] = f"{method} {path}?{shown_query} {protocol}"
        # PATH_INFO is decoded: an escaped "/api%6beys/" is caught too.
        path = environ.get("PATH_INFO") or ""
        if "/apikeys/" in path:
            shown = _KEY.sub(r"\1<redacted>", path)
            method, protocol = environ["REQUEST_METHOD"], environ["SERVER_PROTOCOL"]
            atoms["r"] = f"{method} {shown} {protocol}"
            atoms["U"] = shown
        return atoms
