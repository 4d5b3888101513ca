"""The gate on a request value: request ID, CORS, OPTIONS, UTF-8 path, credentials."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
import redis

from core.errors import TooManyRequests, Unauthorized
from core.gate import PENDING, Gate, new_request_id
from core.request import WSGIRequest

CORS = [("Access-Control-Allow-Origin", "*")]


class HeaderCheck:
    """The gate's credential check from a function of the Authorization header:
    True passes, False is 401, and it may raise."""

    def __init__(self, allows):
        self.allows = allows

    def quick(self, request):
        if not self.allows(request.header("authorization")):
            raise Unauthorized()
        return True

    def check(self, request):
        self.quick(request)

    async def settle(self, request, client):
        self.quick(request)


def request(method: str = "GET", path: str = "/stash/a", **headers: str):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path}
    environ.update({"HTTP_" + k.upper(): v for k, v in headers.items()})
    return WSGIRequest(environ)


def test_gate_passes_a_request_on_with_its_id_and_the_cors_headers():
    extra, answer = Gate(CORS).check(request(x_request_id="abc"))
    assert answer is None
    assert extra == [("X-Request-ID", "abc"), *CORS]


def test_gate_makes_a_request_id_when_none_came():
    extra, _ = Gate([]).check(request())
    (name, value), *_ = extra
    assert name == "X-Request-ID" and len(value) == 36 and value[14] == "4"


def test_made_request_ids_are_random_version_4_uuids():
    made = [new_request_id() for _ in range(2000)]
    for value in made:
        parsed = uuid.UUID(value)
        assert str(parsed) == value  # canonical: lowercase, dashes in place
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
    assert len(set(made)) == len(made)
    # Every digit but the version's is random; the variant's takes 8, 9, a and b.
    for place in range(36):
        seen = {value[place] for value in made}
        if place in (8, 13, 18, 23):
            assert seen == {"-"}
        elif place == 14:
            assert seen == {"4"}
        elif place == 19:
            assert seen == set("89ab")
        else:
            assert len(seen) == 16


def test_gate_answers_options_without_asking_for_credentials():
    def refuse(header):
        raise AssertionError("no credentials are checked")

    _, answer = Gate(CORS, HeaderCheck(refuse)).check(request("OPTIONS"))
    assert answer is not None and answer[0] == 200


def test_gate_refuses_a_path_that_is_not_utf8():
    _, answer = Gate(CORS).check(request(path="/stash/\xff"))
    assert answer is not None and answer[0] == 400


@pytest.mark.parametrize(("header", "status"), [("good", None), ("bad", 401)])
def test_gate_hands_the_authorization_header_to_the_credential_check(header, status):
    _, answer = Gate(CORS, HeaderCheck(lambda given: given == "good")).check(
        request(authorization=header)
    )
    assert (answer and answer[0]) == status


def test_gate_leaves_sensu_go_routes_to_check_their_own_credentials():
    _, answer = Gate(CORS, HeaderCheck(lambda given: False)).check(
        request(path="/api/core/v2")
    )
    assert answer is None


def test_gate_answers_a_credential_check_that_fails_from_the_error_table():
    def down(header):
        raise redis.ConnectionError("refused")

    _, answer = Gate(CORS, HeaderCheck(down)).check(request())
    assert answer is not None
    status, _, body = answer
    assert (status, json.loads(body)) == (500, {"error": "not connected to redis"})


class Deferred:
    """A credential check that cannot tell from memory: `settle` decides."""

    def __init__(self, error=None):
        self.error = error
        self.client = None

    def quick(self, request):
        return False

    def check(self, request):
        raise AssertionError("an event loop never waits")

    async def settle(self, request, client):
        self.client = client
        if self.error is not None:
            raise self.error


def test_gate_not_waiting_leaves_undecided_credentials_pending():
    credentials = Deferred()
    gate = Gate(CORS, credentials)
    extra, answer = gate.check(request(x_request_id="abc"), wait=False)
    assert answer is PENDING
    assert extra == [("X-Request-ID", "abc"), *CORS]
    assert asyncio.run(gate.settle(request(), "the loop's client")) is None
    assert credentials.client == "the loop's client"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/stash/a", {"error": "too many failed logins, retry later"}),
        (
            "/api/core/v2/x",
            {"message": "too many failed logins, retry later", "code": 4},
        ),
    ],
)
def test_gate_settles_a_refusal_in_the_dialect_of_the_path(path, body):
    gate = Gate(CORS, Deferred(TooManyRequests(2.2)))
    status, headers, text = asyncio.run(gate.settle(request(path=path), None))
    assert (status, json.loads(text)) == (429, body)
    assert ("Retry-After", "3") in headers


def test_gate_settles_redis_down_as_500():
    gate = Gate(CORS, Deferred(redis.ConnectionError("refused")))
    status, _, text = asyncio.run(gate.settle(request(), None))
    assert (status, json.loads(text)) == (500, {"error": "not connected to redis"})
