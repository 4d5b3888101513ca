"""gunicorn's plain access lines, without the secrets a URL can hold.

An API key is the name in its own URL (``/api/core/v2/apikeys/<key>``, as in
Sensu Go), so a line naming the request as sent would keep the key in the log.
gunicorn's logger is kept; that one path segment is shown as ``<redacted>``.
"""

from __future__ import annotations

import re
from typing import Any

from gunicorn.glogging import Logger

_KEY = re.compile(r"(/apikeys/)[^/]+")


class AccessLogger(Logger):
    """gunicorn's logger; the request line and path of an API key's URL redacted."""

    def atoms(self, resp: Any, req: Any, environ: dict, request_time: Any) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        # PATH_INFO is decoded: an escaped "/api%6beys/" is caught too.
        path = environ.get("PATH_INFO") or ""
        if "/apikeys/" in path:
            shown = _KEY.sub(r"\1<redacted>", path)
            method, protocol = environ["REQUEST_METHOD"], environ["SERVER_PROTOCOL"]
            atoms["r"] = f"{method} {shown} {protocol}"
            atoms["U"] = shown
        return atoms
