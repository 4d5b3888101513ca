"""Request helpers for the Sensu Go silenced tests."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from tests.sensugo import CORE


def url(ns: str = "default", name: str | None = None, quoting: str = "sensuctl"):
    """A silenced URL; names escaped as sensuctl (``*`` as %2A), Ansible (every
    reserved character) or the sensu-go client (raw) send them."""
    base = f"{CORE}/namespaces/{ns}/silenced"
    if name is None:
        return base
    safe = {"sensuctl": ":", "ansible": "", "raw": ":*"}[quoting]
    return f"{base}/{quote(name, safe=safe)}"


def silence(ns: str = "default", **fields: Any) -> dict[str, Any]:
    """A body as sensuctl's `silenced create` sends it; `fields` override."""
    body: dict[str, Any] = {
        "metadata": {"namespace": ns},
        "expire": -1,
        "expire_on_resolve": False,
        "reason": "maintenance",
        "begin": 0,
        "expire_at": 0,
    }
    body.update(fields)
    return body


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.data
    return [item["metadata"]["name"] for item in response.get_json()]
