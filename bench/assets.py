"""The asset cases' data: 1,000 and 10,000 assets in a namespace each, through the API.

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

# Sizes measured: each a namespace of its own holding that many assets.
SIZES = {"1k": ("bench-1k", 1_000), "10k": ("default", 10_000)}
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
    """Store the assets, and write the request files "asset-get-<size>" and
    "asset-list-<size>" for each size of `SIZES`.

    :raise RuntimeError: a write was refused, or a list does not hold them all.
    """
    files = {}
    api = AssetsApi(port, header)
    try:
        for size, (namespace, count) in SIZES.items():
            gets, lists = _store(api, namespace, count)
            files[f"asset-get-{size}"] = write_requests(
                os.path.join(workdir, f"asset-get-{size}.requests"), gets
            )
            files[f"asset-list-{size}"] = write_requests(
                os.path.join(workdir, f"asset-list-{size}.requests"), lists
            )
    finally:
        api.close()
    return files


def _store(api: AssetsApi, namespace: str, count: int) -> tuple[list, list]:
    """PUT `count` assets into `namespace` (made first); GETs of each, every page."""
    base = _BASE.replace("/default/", f"/{namespace}/")
    ns_url = f"/api/core/v2/namespaces/{namespace}"
    status, _, body = api.call("PUT", ns_url, {"name": namespace})
    if status != 201:
        raise RuntimeError(f"PUT {ns_url} answered {status}: {body[:200]!r}")
    for n in range(count):
        item = asset(n)
        item["metadata"]["namespace"] = namespace
        status, _, body = api.call("PUT", f"{base}/{item['metadata']['name']}", item)
        if status != 201:
            raise RuntimeError(f"PUT of asset {n} answered {status}: {body[:200]!r}")
    pages, listed = [f"{base}?limit={PAGE}"], 0
    while True:
        status, headers, body = api.call("GET", pages[-1])
        if status != 200:
            raise RuntimeError(f"GET {pages[-1]} answered {status}")
        listed += len(json.loads(body))
        token = headers.get("Sensu-Continue")
        if not token:
            break
        pages.append(f"{base}?limit={PAGE}&continue={quote(token, safe='')}")
    if listed < count:
        raise RuntimeError(f"{namespace} lists {listed} assets, not {count}")
    gets = [
        Request("GET", f"{base}/{asset(n)['metadata']['name']}") for n in range(count)
    ]
    return gets, [Request("GET", url) for url in pages]
