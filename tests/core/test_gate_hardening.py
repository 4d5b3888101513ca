"""The gate against hostile clients: cross-site browser writes, forged request IDs."""

from __future__ import annotations

import json

import pytest

from core.addresses import allowed_origins, origin_key
from core.config_error import ConfigError
from core.gate import Gate
from core.request import RSGIRequest, WSGIRequest

OWN = "http://stashd.example:4567"


def request(method: str = "POST", path: str = "/stashes", **headers: str):
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "wsgi.url_scheme": "http",
        "HTTP_HOST": "stashd.example:4567",
    }
    environ.update({"HTTP_" + k.upper(): v for k, v in headers.items()})
    return WSGIRequest(environ)


def answer_of(gate: Gate, req: WSGIRequest):
    return gate.check(req)[1]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_gate_refuses_a_write_from_another_sites_page(method):
    status, headers, body = answer_of(
        Gate([]), request(method, origin="https://evil.example")
    )
    assert status == 403
    assert json.loads(body) == {"error": "cross-site request refused"}
    assert ("Content-Type", "application/json") in headers


def test_gate_refuses_it_in_the_sensu_go_dialect_on_go_routes():
    status, _, body = answer_of(
        Gate([]), request(path="/api/core/v2/namespaces", sec_fetch_site="cross-site")
    )
    assert status == 403
    assert json.loads(body) == {"message": "cross-site request refused", "code": 4}


@pytest.mark.parametrize(
    "headers",
    [
        {},  # curl and every Sensu client
        {"origin": OWN},
        {"origin": "HTTP://STASHD.example:4567/"},  # the same origin, spelled otherwise
        {"sec_fetch_site": "same-origin"},
        {"sec_fetch_site": "same-origin", "origin": "https://stashd.example"},  # proxy
        {"origin": "https://dash.example"},  # listed
        {"origin": "https://dash.example:443", "sec_fetch_site": "cross-site"},
    ],
)
def test_gate_lets_writes_through_from_no_browser_its_own_origin_or_a_listed_one(
    headers,
):
    gate = Gate([], origins=allowed_origins("https://dash.example"))
    assert answer_of(gate, request(**headers)) is None


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "null"},  # sandboxed pages, file:// documents
        {"origin": "http://stashd.example:8080"},  # another port is another origin
        {"origin": "https://stashd.example:4567"},  # another scheme too
        {"origin": "https://dash.example.evil"},
        {"sec_fetch_site": "cross-site"},
        {"sec_fetch_site": "same-site", "origin": "http://other.stashd.example:4567"},
    ],
)
def test_gate_refuses_writes_from_any_other_origin(headers):
    gate = Gate([], origins=allowed_origins("https://dash.example"))
    assert answer_of(gate, request(**headers))[0] == 403


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_gate_leaves_reads_from_other_sites_to_cors(method):
    answer = answer_of(Gate([]), request(method, origin="https://evil.example"))
    assert answer is None or answer[0] == 200


def test_gate_refuses_a_cross_site_write_before_asking_for_credentials():
    def refuse(header):
        raise AssertionError("no credentials are checked")

    answer = answer_of(Gate([], refuse), request(sec_fetch_site="cross-site"))
    assert answer[0] == 403


def test_allowed_origins_setting_is_read_and_checked():
    assert allowed_origins("") == frozenset()
    assert allowed_origins(" https://A.example:443  http://b.example:8080 ") == {
        "https://a.example",
        "http://b.example:8080",
    }
    for bad in ("dash.example", "https://a.example/path", "ftp://a.example", "null"):
        with pytest.raises(ConfigError, match="STASHD_ALLOWED_ORIGINS"):
            allowed_origins(bad)


def test_origin_key_spells_an_origin_one_way():
    assert origin_key("http://[::1]:80") == "http://[::1]"
    assert origin_key("https://x.example:8443") == "https://x.example:8443"
    assert origin_key("http://x.example:99999") is None
    assert origin_key("http://user@x.example") is None


@pytest.mark.parametrize("given", ["abc", "A-z.0_9:x", "x" * 128, "4b0e-dd2c:trace.1"])
def test_gate_echoes_a_plain_request_id(given):
    extra, _ = Gate([]).check(request("GET", x_request_id=given))
    assert extra[0] == ("X-Request-ID", given)


@pytest.mark.parametrize(
    "given",
    [
        "",
        "x" * 129,
        "a b",
        "a\tb",
        "id\r\nSet-Cookie: x",
        "\u00e9t\u00e9",
        "a,b",
        "a/b",
    ],
)
def test_gate_replaces_any_other_request_id_with_its_own(given):
    extra, _ = Gate([]).check(request("GET", x_request_id=given))
    (name, value), *_ = extra
    assert name == "X-Request-ID" and value != given
    assert len(value) == 36 and value[14] == "4"


class Scope:
    """What RSGIRequest.origin reads of granian's scope."""

    method, path, query_string, scheme = "POST", "/stashes", "", "https"
    server = "10.0.0.5:8443"

    def __init__(self, headers: dict[str, str], authority: str | None = None) -> None:
        self.headers, self.authority = headers, authority


def test_each_request_knows_the_origin_it_was_sent_to():
    assert request().origin() == OWN
    bare = WSGIRequest(
        {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/",
            "wsgi.url_scheme": "https",
            "SERVER_NAME": "10.0.0.5",
            "SERVER_PORT": "8443",
        }
    )
    assert bare.origin() == "https://10.0.0.5:8443"
    assert RSGIRequest(Scope({"host": "h.example"})).origin() == "https://h.example"
    assert RSGIRequest(Scope({}, "h2.example")).origin() == "https://h2.example"
    assert RSGIRequest(Scope({})).origin() == "https://10.0.0.5:8443"
