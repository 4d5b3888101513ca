"""Helpers shared by the silenced API tests (fixtures are in conftest.py)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote


class V1:
    """Thin wrappers over the test client for the Sensu 1.x silenced routes."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def create(self, body: Any = None, raw: bytes | str | None = None, **kw: Any):
        """POST /silenced with `body` as JSON (or `raw` as it is)."""
        data = raw if raw is not None else json.dumps(body)
        return self.client.post("/silenced", data=data, **kw)

    def created(self, **body: Any) -> None:
        """POST /silenced with `body`, which must answer 201."""
        response = self.create(body)
        assert response.status_code == 201, response.data

    def clear(self, body: Any = None, raw: bytes | str | None = None):
        data = raw if raw is not None else json.dumps(body)
        return self.client.post("/silenced/clear", data=data)

    def get(self, path: str = "/silenced", query: str = "") -> Any:
        return self.client.get(path, query_string=query)

    def items(self, path: str = "/silenced", query: str = "") -> list[dict[str, Any]]:
        """The JSON array `path` answers, after checking it is 200."""
        response = self.get(path, query)
        assert response.status_code == 200, response.data
        return response.get_json()

    def ids(self, path: str = "/silenced", query: str = "") -> list[str]:
        return [item["id"] for item in self.items(path, query)]

    def entry(self, name: str) -> Any:
        """GET /silenced/ids/<name>, the name percent-encoded as Go clients send it."""
        return self.client.get("/silenced/ids/" + quote(name, safe=""))

    def match(self, **query: Any) -> dict[str, Any]:
        response = self.client.get("/silenced/match", query_string=query)
        assert response.status_code == 200, response.data
        return response.get_json()


def assert_json_error(response: Any, status: int = 400) -> str:
    """`response` is `status` with a {"error": "<non-empty reason>"} JSON body."""
    assert response.status_code == status, (response.status_code, response.data)
    assert response.mimetype == "application/json"
    body = json.loads(response.data)
    assert isinstance(body, dict) and set(body) == {"error"}, body
    assert isinstance(body["error"], str) and body["error"], body
    return body["error"]


def assert_empty(response: Any, status: int) -> None:
    assert response.status_code == status, (response.status_code, response.data)
    assert response.data == b""
