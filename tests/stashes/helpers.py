"""Helpers shared by the stash API tests (fixtures are in conftest.py)."""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import quote

# Sensu 1.x's CORS headers, byte for byte (spec stashes.md section 10).
DEFAULT_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, OPTIONS",
    "Access-Control-Allow-Credentials": "true",
    "Access-Control-Allow-Headers": (
        "Origin, X-Requested-With, Content-Type, Accept, Authorization"
    ),
}

# A random request ID: UUID version 4 in canonical lowercase form.
UUID4 = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
)

_ABSENT = object()


def stash_url(path: str, prefix: str = "/stashes/") -> str:
    """The URL of the stash at `path`, percent-encoded as an HTTP client would."""
    return prefix + quote(path, safe="/")


class Api:
    """Thin wrappers over the test client for the calls most tests make."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def create(
        self, path: Any, content: Any = None, expire: Any = _ABSENT, **extra: Any
    ) -> Any:
        """POST /stashes with a {path, content, expire} document."""
        doc: dict[str, Any] = {
            "path": path,
            "content": {} if content is None else content,
        }
        if expire is not _ABSENT:
            doc["expire"] = expire
        doc.update(extra)
        return self.client.post("/stashes", data=json.dumps(doc))

    def write(self, path: str, content: Any, prefix: str = "/stashes/") -> Any:
        """POST /stashes/<path> with `content` as the whole body."""
        return self.client.post(stash_url(path, prefix), data=json.dumps(content))

    def get(self, path: str, prefix: str = "/stashes/") -> Any:
        return self.client.get(stash_url(path, prefix))

    def delete(self, path: str, prefix: str = "/stashes/") -> Any:
        return self.client.delete(stash_url(path, prefix))

    def list(self, query: str = "") -> Any:
        """GET /stashes?<query>; `query` is sent as it is, not encoded again."""
        return self.client.get("/stashes", query_string=query)

    def items(self, query: str = "") -> list[dict[str, Any]]:
        """The list's JSON array, after checking it answered 200."""
        response = self.list(query)
        assert response.status_code == 200, response.data
        return response.get_json()

    def paths(self, query: str = "") -> list[str]:
        return [item["path"] for item in self.items(query)]

    def raw(self, method: str, path_info: str, **kwargs: Any) -> Any:
        """A request with PATH_INFO exactly `path_info` (latin-1 text, PEP 3333).

        The test client would take "//x" as a host and cannot send non-UTF-8 bytes.
        """
        environ = {"PATH_INFO": path_info, **kwargs.pop("environ_overrides", {})}
        return self.client.open("/", method=method, environ_overrides=environ, **kwargs)


def assert_json_error(response: Any, status: int = 400) -> str:
    """`response` is `status` with a {"error": "<non-empty reason>"} JSON body."""
    assert response.status_code == status, (response.status_code, response.data)
    assert response.mimetype == "application/json"
    body = json.loads(response.data)
    assert isinstance(body, dict) and set(body) == {"error"}, body
    assert isinstance(body["error"], str) and body["error"], body
    return body["error"]


def assert_empty(response: Any, status: int) -> None:
    """`response` is `status` with an empty body."""
    assert response.status_code == status, (response.status_code, response.data)
    assert response.data == b""


def cors_headers(response: Any) -> list[tuple[str, str]]:
    """Every Access-Control-* header of `response`, duplicates included, in order."""
    return [
        (name, value)
        for name, value in response.headers.items()
        if name.lower().startswith("access-control-")
    ]


def allowed(response: Any) -> list[str]:
    """The Allow header's methods in order, OPTIONS left out (the spec allows it)."""
    methods = [m.strip() for m in response.headers.get("Allow", "").split(",")]
    return [m for m in methods if m and m != "OPTIONS"]


def basic(user: str, password: str, scheme: str = "Basic") -> dict[str, str]:
    """An Authorization header with Basic credentials (UTF-8, as curl sends them)."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"{scheme} {token}"}
