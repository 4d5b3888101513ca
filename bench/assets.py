"""The asset cases' data: 10,000 assets in namespace ``default``, through the API.

Assets are written with ``PUT /api/core/v2/namespaces/default/assets/<name>``, the
way sensuctl writes them, so this needs nothing of the assets store but its API.
List pages are found by following ``Sensu-Continue`` from the first page: the
request file holds every page of the namespace, each a ``continue`` cursor.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
from urllib.parse import quote

from bench.load import Request, write_requests

ASSETS = 10_000
PAGE = 100
_BASE = "/api/core/v2/namespaces/default/assets"


def asset(n: int) -> dict:
    """A typical single-build asset."""
    name = f"sensu-plugins-disk-checks-{n:05d}"
    return {
        "url": f"https://assets.example.com/{name}_5.1.4_linux_amd64.tar.gz",
        "sha512": hashlib.sha512(name.encode()).hexdigest(),
        "filters": ["entity.system.os == 'linux'", "entity.system.arch == 'amd64'"],
        "metadata": {"name": name, "namespace": "default"},
    }


class AssetsApi:
    """An HTTP connection to stashd's assets API, authenticated with an API key."""

    def __init__(self, port: int, header: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        name, _, value = header.partition(": ")
        self.headers = {name: value, "Content-Type": "application/json"}

    def call(self, method: str, url: str, body: dict | None = None) -> tuple:
        """Status, headers and body of one request on the kept-alive connection."""
        data = json.dumps(body) if body is not None else None
        self.conn.request(method, url, body=data, headers=self.headers)
        response = self.conn.getresponse()
        return response.status, response.headers, response.read()

    def close(self) -> None:
        self.conn.close()


def missing(port: int, header: str) -> str:
    """Why the asset cases cannot run against the server on `port`; "" when they can."""
    api = AssetsApi(port, header)
    try:
        status, _, _ = api.call("GET", f"{_BASE}?limit=1")
    finally:
        api.close()
    if status == 200:
        return ""
    return f"not available yet: GET {_BASE} answered {status}"


def request_files(port: int, header: str, workdir: str) -> dict[str, str]:
    """Store the assets, and write the request files "asset-get" and "asset-list".

    :raise RuntimeError: a write was refused, or the list does not hold them all.
    """
    api = AssetsApi(port, header)
    try:
        for n in range(ASSETS):
            item = asset(n)
            status, _, body = api.call(
                "PUT", f"{_BASE}/{item['metadata']['name']}", item
            )
            if status != 201:
                raise RuntimeError(
                    f"PUT of asset {n} answered {status}: {body[:200]!r}"
                )
        pages, listed = [f"{_BASE}?limit={PAGE}"], 0
        while True:
            status, headers, body = api.call("GET", pages[-1])
            if status != 200:
                raise RuntimeError(f"GET {pages[-1]} answered {status}")
            listed += len(json.loads(body))
            token = headers.get("Sensu-Continue")
            if not token:
                break
            pages.append(f"{_BASE}?limit={PAGE}&continue={quote(token, safe='')}")
    finally:
        api.close()
    if listed < ASSETS:
        raise RuntimeError(f"the asset list holds {listed} assets, not {ASSETS}")
    gets = [
        Request("GET", f"{_BASE}/{asset(n)['metadata']['name']}") for n in range(ASSETS)
    ]
    lists = [Request("GET", url) for url in pages]
    return {
        "asset-get": write_requests(os.path.join(workdir, "asset-get.requests"), gets),
        "asset-list": write_requests(
            os.path.join(workdir, "asset-list.requests"), lists
        ),
    }
