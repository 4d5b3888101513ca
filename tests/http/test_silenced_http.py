"""The silenced match over real HTTP, under granian (`make run`) and gunicorn.

``GET /silenced/match`` is served on the fast path (before Flask) under both
servers; the Sensu Go match goes through Flask. Both must answer as the spec says
once a real server, a real socket and the gate are in front of them.
"""

from __future__ import annotations

import json
import socket

import pytest
import requests

from tests.servers import stashd_on_own_redis

pytestmark = [pytest.mark.http, pytest.mark.integration]

USER, PASSWORD, KEY = "ops", "pa:ss word", "silenced-http-key-0123456789"
KEYED = {"Authorization": f"Key {KEY}"}
GO_MATCH = "/api/core/v2/namespaces/default/silenced/match"
# What a handler asks: its client, the check, the client's subscriptions.
QUESTION = [
    ("client", "web1"),
    ("check", "disk"),
    ("subscription", "linux"),
    ("subscription", "dc-2"),
]


@pytest.fixture
def server(stashd_http, real_redis):
    """The session's server (stash routes open), its Redis emptied for this test."""
    return stashd_http


@pytest.fixture(scope="module")
def guarded(server_kind, tmp_path_factory):
    """A server with an administrator and an API key: the stash routes need them."""
    env = {
        "STASHD_DATA_DIR": str(tmp_path_factory.mktemp("silenced")),
        "STASHD_API_USER": USER,
        "STASHD_API_PASSWORD": PASSWORD,
        "STASHD_API_KEY": KEY,
    }
    with stashd_on_own_redis(server_kind, env) as stashd:
        yield stashd


def silence(url: str, auth: tuple[str, str] | None = None, **body: object) -> None:
    response = requests.post(f"{url}/silenced", json=body, auth=auth)
    assert response.status_code == 201, response.text


def head(port: int, target: str) -> bytes:
    """A raw HEAD of `target`: everything the server sends until it closes."""
    request = f"HEAD {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request.encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_match_after_post_answers_silenced_by(server):
    silence(server.url, subscription="linux", check="disk", reason="new disk")
    silence(server.url, subscription="client:web1")
    silence(server.url, subscription="windows")
    response = requests.get(f"{server.url}/silenced/match", params=QUESTION)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {
        "silenced": True,
        "silenced_by": ["client:web1:*", "linux:disk"],
    }


def test_match_of_an_event_nothing_silences(server):
    silence(server.url, subscription="windows", check="disk")
    response = requests.get(f"{server.url}/silenced/match", params=QUESTION)
    assert response.json() == {"silenced": False, "silenced_by": []}


def test_match_head_is_200_without_a_body(server):
    silence(server.url, check="disk")
    target = "/silenced/match?client=web1&check=disk&subscription=linux"
    got = requests.get(server.url + target)
    response = head(server.ports[0], target)
    headers, _, body = response.partition(b"\r\n\r\n")
    assert headers.startswith(b"HTTP/1.1 200")
    assert body == b""
    # The length is the one GET's body has (RFC 9110 9.3.2).
    length = f"content-length: {len(got.content)}".encode()
    assert length in headers.lower().split(b"\r\n")


@pytest.mark.parametrize(
    "query",
    ["client=web1&subscription=linux", "check=&client=web1"],
    ids=["no-check", "empty-check"],
)
def test_bad_match_query_is_400_with_a_reason(server, query):
    response = requests.get(f"{server.url}/silenced/match?{query}")
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and body["error"]


def test_match_needs_credentials_when_auth_is_on(guarded):
    silence(guarded.url, auth=(USER, PASSWORD), subscription="linux", check="disk")
    url = f"{guarded.url}/silenced/match"
    refused = requests.get(url, params=QUESTION)
    assert refused.status_code == 401
    assert refused.content == b""
    answered = requests.get(url, params=QUESTION, auth=(USER, PASSWORD))
    assert answered.status_code == 200
    assert answered.json() == {"silenced": True, "silenced_by": ["linux:disk"]}
    assert requests.get(url, params=QUESTION, headers=KEYED).status_code == 200
    wrong = requests.get(url, params=QUESTION, auth=(USER, "wrong"))
    assert wrong.status_code == 401


def test_sensu_go_match_with_an_api_key(guarded):
    silence(guarded.url, auth=(USER, PASSWORD), subscription="dc-2", check="cpu")
    silence(guarded.url, auth=(USER, PASSWORD), subscription="entity:web1")
    question = [("entity", "web1"), ("check", "cpu"), ("subscription", "dc-2")]
    response = requests.get(guarded.url + GO_MATCH, params=question, headers=KEYED)
    assert response.status_code == 200, response.text
    assert json.loads(response.content) == {
        "silenced": True,
        "silenced_by": ["dc-2:cpu", "entity:web1:*"],
    }
    other = [("entity", "web2"), ("check", "disk"), ("subscription", "dc-2")]
    response = requests.get(guarded.url + GO_MATCH, params=other, headers=KEYED)
    assert response.json() == {"silenced": False, "silenced_by": []}


def test_sensu_go_match_without_a_key_is_401_in_its_dialect(guarded):
    response = requests.get(guarded.url + GO_MATCH, params=[("check", "cpu")])
    assert response.status_code == 401
    assert response.json() == {"message": "bad credentials", "code": 5}
    bad = requests.get(
        guarded.url + GO_MATCH, params=[("entity", "web1")], headers=KEYED
    )
    assert bad.status_code == 400
    assert bad.json()["code"] == 1
