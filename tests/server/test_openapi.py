"""The OpenAPI document: valid OpenAPI 3.1, every route of the app and of the fast
path in it with the same methods, served without credentials."""

from __future__ import annotations

import re

import fakeredis
import pytest
import schemathesis

from app import create_app
from server.openapi import PATH, document

# Flask's `<converter:name>` and `<name>` as OpenAPI's `{name}`.
_VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
_METHODS = ("get", "head", "post", "put", "patch", "delete")


def openapi_path(rule: str) -> str:
    return _VARIABLE.sub(r"{\1}", rule)


@pytest.fixture(scope="module")
def flask_app():
    return create_app({"FAST_PATH": True}, redis=fakeredis.FakeRedis())


def documented() -> dict[str, set[str]]:
    return {
        path: {method.upper() for method in item if method in _METHODS}
        for path, item in document()["paths"].items()
    }


def test_document_is_valid_openapi_3_1():
    raw = document()
    assert raw["openapi"] == "3.1.0"
    schemathesis.openapi.from_dict(raw).validate()  # the OpenAPI 3.1 meta-schema


def test_every_reference_names_a_part_of_the_document():
    raw = document()
    refs: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(raw)
    assert refs
    for ref in refs:
        target: object = raw
        for part in ref.removeprefix("#/").split("/"):
            assert isinstance(target, dict) and part in target, ref
            target = target[part]


def test_document_is_built_once():
    assert document() is document()


def test_every_flask_route_is_documented_with_its_methods(flask_app):
    routes: dict[str, set[str]] = {}
    for rule in flask_app.url_map.iter_rules():
        methods = routes.setdefault(openapi_path(rule.rule), set())
        methods.update(rule.methods - {"OPTIONS"})
    assert routes == documented()


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/stashes", "/stashes"),
        ("/stash/a/b", "/stash/{path}"),
        ("/stashes/a", "/stashes/{path}"),
        ("/silenced/match", "/silenced/match"),
        (
            "/api/core/v2/namespaces/default/silenced/match",
            "/api/core/v2/namespaces/{ns}/silenced/match",
        ),
    ],
)
def test_every_fast_route_is_documented_with_its_methods(flask_app, path, template):
    fast = flask_app.wsgi_app.fast
    served = set()
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
        found = fast.find(method, path)
        if found is not None:
            served.add(method)
            assert openapi_path(found[0].template(path)) == template
    assert served
    assert served <= documented()[template]


@pytest.mark.parametrize("backend", ["fake", "flask"], indirect=True)
@pytest.mark.parametrize(
    "config", [{"API_USER": "ops", "API_PASSWORD": "openapi-pass-1"}]
)
def test_openapi_is_served_without_credentials(client):
    assert client.get("/stashes").status_code == 401  # credentials are on
    response = client.get(PATH)
    assert response.status_code == 200
    assert response.content_type == "application/json"
    assert response.get_json() == document()
    assert client.head(PATH).status_code == 200
