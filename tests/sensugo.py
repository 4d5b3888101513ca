"""What the Sensu Go API tests share: request helpers, and fixtures for a seeded app.

The fixtures are brought into each folder's conftest.py. The assets API has no fast
path, so these tests run on fakeredis and on a real redis-server only (the stash tests
add a third run with the fast path off).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from accounts.authenticator import digest, hash_password
from accounts.store import ApiKey
from server.bootstrap import bootstrap

# An API key of user admin, registered by the `app` fixture.
KEY = "test-key-0123456789abcdef"
AUTH = {"Authorization": f"Key {KEY}"}
SHA = "ab" * 64  # 128 characters: the shortest accepted checksum
CORE = "/api/core/v2"


def asset(name: str, namespace: str = "default", **fields: Any) -> dict[str, Any]:
    """A valid asset body; `fields` override or add top-level keys."""
    body: dict[str, Any] = {
        "url": f"https://example.com/{name}.tar.gz",
        "sha512": SHA,
        "metadata": {"name": name, "namespace": namespace},
    }
    body.update(fields)
    return body


def asset_url(namespace: str, name: str | None = None, escape: bool = True) -> str:
    """The URL of a namespace's assets, or of one asset; like sensuctl, `/` in a name
    is sent as %2F unless `escape` is false (the sensu-go client sends it raw)."""
    url = f"{CORE}/namespaces/{namespace}/assets"
    if name is not None:
        url += "/" + (quote(name, safe=":") if escape else name)
    return url


class Sensu:
    """Thin wrappers over the test client; every call carries the API key unless
    `headers` says otherwise."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def request(
        self,
        method: str,
        url: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        raw: bytes | str | None = None,
        **kwargs: Any,
    ) -> Any:
        data = raw if raw is not None else None if body is None else json.dumps(body)
        sent = {**AUTH, "Content-Type": "application/json"}
        sent.update(headers or {})
        sent = {k: v for k, v in sent.items() if v is not None}
        return self.client.open(url, method=method, data=data, headers=sent, **kwargs)

    def create(self, body: Any, namespace: str = "default", **kw: Any) -> Any:
        return self.request("POST", asset_url(namespace), body, **kw)

    def put(self, body: dict[str, Any], name: str | None = None, **kw: Any) -> Any:
        meta = body.get("metadata") or {}
        name = name if name is not None else meta["name"]
        ns = kw.pop("namespace", None) or meta.get("namespace") or "default"
        return self.request("PUT", asset_url(ns, name), body, **kw)

    def get(self, name: str, namespace: str = "default", **kw: Any) -> Any:
        return self.request("GET", asset_url(namespace, name), **kw)

    def delete(self, name: str, namespace: str = "default", **kw: Any) -> Any:
        return self.request("DELETE", asset_url(namespace, name), **kw)

    def patch(
        self,
        name: str,
        patch: Any,
        namespace: str = "default",
        content_type: str | None = "application/merge-patch+json",
        **kw: Any,
    ) -> Any:
        headers = {"Content-Type": content_type, **kw.pop("headers", {})}
        return self.request(
            "PATCH", asset_url(namespace, name), patch, headers=headers, **kw
        )

    def list(self, url: str = f"{CORE}/namespaces/default/assets", **query: Any) -> Any:
        return self.request("GET", url, query_string=query)

    def names(self, url: str = f"{CORE}/namespaces/default/assets", **query: Any):
        response = self.list(url, **query)
        assert response.status_code == 200, response.data
        return [item["metadata"]["name"] for item in response.get_json()]

    def namespace(self, name: str) -> Any:
        """Create namespace `name` (PUT, as the sensu-go client does)."""
        response = self.request("PUT", f"{CORE}/namespaces/{name}", {"name": name})
        assert response.status_code == 201, response.data
        return response

    def stored(self, name: str, namespace: str = "default") -> Any:
        """The stored asset as GET shows it, or None when absent."""
        response = self.get(name, namespace)
        return response.get_json() if response.status_code == 200 else None


def assert_error(response: Any, status: int, code: int, message: str | None = None):
    """`response` is a Sensu Go error: `status`, {"message", "code": `code`}."""
    assert response.status_code == status, (response.status_code, response.data)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"], body
    if message is not None:
        assert body["message"] == message, body
    return body["message"]


def assert_empty_success(response: Any, status: int) -> None:
    assert response.status_code == status, (response.status_code, response.data)
    assert response.data == b""
    assert response.mimetype == "application/json"


# Fixtures


@pytest.fixture(params=["fake", pytest.param("real", marks=pytest.mark.integration)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def config(tmp_path) -> dict:
    """No configured user; the generated admin's password goes to a temp dir."""
    return {"DATA_DIR": str(tmp_path / "data")}


@pytest.fixture
def app(app: Any) -> Any:
    """The app, seeded as the launchers seed it, with API key `KEY` for `admin`."""
    bootstrap(app.config, app.extensions["redis"])
    accounts, run = app.extensions["accounts"], app.extensions["client"].run
    if run(accounts.password_hash("admin")) is None:
        run(accounts.put_user("admin", hash_password("unused"), 0))
    key = ApiKey(digest=digest(KEY), username="admin", created_by="admin", created_at=1)
    run(accounts.put_apikey(key))
    return app


@pytest.fixture
def sensu(client: Any) -> Sensu:
    return Sensu(client)
