"""Request bodies: strict JSON whatever the Content-Type; size and depth (section 5).

Most tests run on both writing routes: ``POST /stashes/<path>`` (the body is the
content) and ``POST /stashes`` (the body is a {path, content, expire} document).
"""

from __future__ import annotations

import io
import json

import pytest

from tests.stashes.helpers import assert_json_error


def as_document(content: str) -> str:
    """The POST /stashes body that stores `content` (JSON text) at "p"."""
    return '{"path": "p", "content": ' + content + "}"


ROUTES = {
    "write": ("/stashes/p", lambda content: content),
    "create": ("/stashes", as_document),
}


@pytest.fixture(params=sorted(ROUTES))
def route(request):
    """(url, body-from-content) for each writing route."""
    return ROUTES[request.param]


def post(client, route, content: str | bytes, **kwargs):
    url, body = route
    data = content if isinstance(content, bytes) else body(content)
    return client.post(url, data=data, **kwargs)


def nested(depth: int) -> str:
    """An object `depth` levels deep: {"a": [[...[1]...]]}."""
    return '{"a": ' + "[" * (depth - 1) + "1" + "]" * (depth - 1) + "}"


def assert_unchanged(api, pttl):
    """The stash `keep_existing` made is still there, as it was, with its TTL."""
    assert api.get("p").get_json() == {"old": True}
    assert 0 < pttl("p") <= 1000_000


@pytest.fixture
def keep_existing(api):
    """An existing stash "p" (with a TTL) that a refused write must not touch."""
    assert api.create("p", {"old": True}, expire=1000).status_code == 201


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/octet-stream",
        "multipart/form-data; boundary=xyz",
        "application/json",
        "application/json; charset=utf-8",
    ],
)
def test_body_content_type_is_ignored(api, route, content_type):
    response = post(api.client, route, '{"k": "v"}', content_type=content_type)
    assert response.status_code == 201, response.data
    assert api.get("p").get_json() == {"k": "v"}


def test_body_form_encoded_looking_json_is_parsed_as_json(api):
    response = api.client.post(
        "/stashes/p",
        data='{"a": "b=c&d=e"}',
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 201
    assert api.get("p").get_json() == {"a": "b=c&d=e"}


BAD_BODIES = {
    "empty": b"",
    "whitespace only": b"  \n\n ",
    "truncated": b'{"a": 1',
    "not json": b"nope",
    "single quotes": b"{'a': 1}",
    "trailing comma": b'{"a": 1,}',
    "comment": b"// note\n{}",
    "trailing garbage": b"{} x",
    "two values": b"{}{}",
    "stray bracket": b"{}]",
    "bom": b"\xef\xbb\xbf{}",
    "invalid utf-8 in a string": b'{"a": "\xff"}',
    "latin-1 text": b'{"a": "caf\xe9"}',
    "invalid utf-8 byte": b"\xff",
    "utf-16": '{"a": 1}'.encode("utf-16"),
    "undefined": b'{"a": undefined}',
}


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_body_malformed_is_400_and_changes_nothing(
    api, pttl, route, keep_existing, body
):
    url, _ = route
    assert_json_error(api.client.post(url, data=body))
    assert_unchanged(api, pttl)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_body_nan_and_infinity_are_400(api, pttl, route, keep_existing, constant):
    assert_json_error(post(api.client, route, '{"x": [1, ' + constant + "]}"))
    assert_unchanged(api, pttl)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_body_nan_as_expire_is_400(api, pttl, keep_existing, constant):
    body = '{"path": "p", "content": {}, "expire": ' + constant + "}"
    assert_json_error(api.client.post("/stashes", data=body))
    assert_unchanged(api, pttl)


def test_body_duplicate_key_last_wins(api, route):
    post(api.client, route, '{"a": 1, "b": 0, "a": 2}')
    assert api.get("p").get_json() == {"a": 2, "b": 0}


def test_body_duplicate_path_key_last_wins(api):
    body = '{"path": "first", "content": {}, "path": "second"}'
    assert api.client.post("/stashes", data=body).get_json() == {"path": "second"}
    assert api.paths() == ["second"]


def test_body_duplicate_content_key_last_wins(api):
    body = '{"path": "p", "content": {"a": 1}, "content": {"b": 2}}'
    api.client.post("/stashes", data=body)
    assert api.get("p").get_json() == {"b": 2}


def test_body_uchiwa_trailing_newlines_are_accepted(api):
    body = json.dumps({"path": "p", "content": {"u": 1}, "expire": -1}) + "\n\n"
    assert api.client.post("/stashes", data=body).status_code == 201
    assert api.get("p").get_json() == {"u": 1}


def test_body_surrounding_whitespace_is_accepted(api, route):
    url, body = route
    response = api.client.post(url, data=" \r\n\t" + body('{"w": 1}') + " \r\n\t")
    assert response.status_code == 201
    assert api.get("p").get_json() == {"w": 1}


def test_body_non_ascii_content_round_trips(api, route):
    content = {"ünïcode": "日本語 😀", "escaped": '\u00e9\t"\\/'}
    post(api.client, route, json.dumps(content))
    assert api.get("p").get_json() == content
    assert api.items()[0]["content"] == content


def test_body_256_levels_deep_round_trips(api):
    content = nested(256)
    assert api.client.post("/stashes/p", data=content).status_code == 201
    assert api.get("p").get_json() == json.loads(content)
    assert api.items()[0]["content"] == json.loads(content)


def test_body_256_levels_deep_document_round_trips(api):
    content = nested(255)  # the document around it is the 256th level
    response = api.client.post("/stashes", data=as_document(content))
    assert response.status_code == 201
    assert api.get("p").get_json() == json.loads(content)
    assert api.items()[0]["content"] == json.loads(content)


def test_body_256_levels_of_objects_round_trip(api):
    content = '{"k": ' * 256 + "1" + "}" * 256
    assert api.client.post("/stashes/p", data=content).status_code == 201
    assert api.get("p").get_json() == json.loads(content)


@pytest.mark.parametrize("depth", [257, 300, 400, 480, 511, 512])
def test_body_depth_that_is_accepted_is_also_served_back(api, depth):
    # Between 257 and 512 levels the limit is the server's choice, but whatever it
    # accepts must come back, alone and in the list.
    content = nested(depth)
    response = api.client.post("/stashes/p", data=content)
    if response.status_code != 201:
        assert_json_error(response)
        return
    assert api.get("p").get_json() == json.loads(content)
    assert api.items()[0]["content"] == json.loads(content)
    assert api.list("limit=1").get_json()[0]["content"] == json.loads(content)


@pytest.mark.parametrize("depth", [513, 600, 1000, 20_000, 100_000])
def test_body_deeper_than_512_levels_is_400(api, pttl, route, keep_existing, depth):
    assert_json_error(post(api.client, route, nested(depth)))
    assert_unchanged(api, pttl)


def test_body_deep_object_nesting_is_400(api):
    content = '{"k": ' * 20_000 + "1" + "}" * 20_000
    assert_json_error(api.client.post("/stashes/p", data=content))
    assert api.items() == []


def test_body_brackets_inside_strings_are_not_nesting(api):
    content = {"s": "[" * 2000 + "{" * 2000}
    assert api.write("p", content).status_code == 201
    assert api.get("p").get_json() == content


def test_body_many_shallow_containers_are_not_deep(api):
    content = {"list": [[] for _ in range(2000)], "objs": [{} for _ in range(2000)]}
    assert api.write("p", content).status_code == 201
    assert api.get("p").get_json() == content


@pytest.mark.parametrize("sign", ["", "-"])
def test_body_4300_digit_integer_round_trips_exactly(api, route, sign):
    digits = sign + "9" + "8" * 4298 + "7"
    assert post(api.client, route, '{"n": ' + digits + "}").status_code == 201
    assert api.get("p").get_json() == {"n": int(digits)}
    assert api.items()[0]["content"] == {"n": int(digits)}


def test_body_4301_digit_integer_is_400(api, pttl, route, keep_existing):
    assert_json_error(post(api.client, route, '{"n": 1' + "0" * 4300 + "}"))
    assert_unchanged(api, pttl)


FLOATS = [
    0.1,
    -0.0,
    3.0,
    1e-7,
    1e22,
    123456789.12345679,
    1.7976931348623157e308,
    2.2250738585072014e-308,
    5e-324,
    -2.5e-10,
]


def test_body_floats_come_back_as_the_same_double(api, route):
    post(api.client, route, '{"f": ' + json.dumps(FLOATS) + "}")
    for served in (api.get("p").get_json()["f"], api.items()[0]["content"]["f"]):
        assert [repr(f) for f in served] == [repr(f) for f in FLOATS]


def test_body_float_exponent_forms_keep_their_value(api):
    api.client.post("/stashes/p", data='{"a": 1E2, "b": 1.5e+3, "c": 25e-1}')
    served = api.get("p").get_json()
    assert served == {"a": 100.0, "b": 1500.0, "c": 2.5}
    assert all(isinstance(v, float) for v in served.values())


@pytest.mark.parametrize("number", ["1e400", "-1e400", "1e309", "2e308", "1.8e308"])
def test_body_number_overflowing_a_double_is_400(
    api, pttl, route, keep_existing, number
):
    assert_json_error(post(api.client, route, '{"x": ' + number + "}"))
    assert_unchanged(api, pttl)


def test_body_underflowing_float_is_accepted(api):
    assert api.client.post("/stashes/p", data='{"x": 1e-400}').status_code == 201
    assert api.get("p").get_json() == {"x": 0.0}


class TestSmallBodyLimit:
    LIMIT = 64

    @pytest.fixture
    def config(self):
        return {"MAX_BODY_BYTES": self.LIMIT}

    def padded(self, route, size: int) -> bytes:
        """A valid body for `route` exactly `size` bytes long."""
        _, body = route
        base = body('{"x": ""}')
        text = base.replace('""', '"' + "y" * (size - len(base)) + '"', 1)
        assert len(text) == size
        return text.encode()

    def test_body_at_the_limit_is_accepted(self, api, route):
        response = api.client.post(route[0], data=self.padded(route, self.LIMIT))
        assert response.status_code == 201
        assert api.paths() == ["p"]

    def test_body_over_the_limit_is_413_and_stores_nothing(self, api, route):
        response = api.client.post(route[0], data=self.padded(route, self.LIMIT + 1))
        assert_json_error(response, 413)
        assert api.items() == []

    def test_body_over_the_limit_leaves_an_existing_stash(self, api, pttl, route):
        api.create("p", {"old": True}, expire=1000)
        response = api.client.post(route[0], data=self.padded(route, 10 * self.LIMIT))
        assert_json_error(response, 413)
        assert_unchanged(api, pttl)

    def test_body_over_the_limit_without_a_content_type_is_413(self, api):
        response = api.client.post(
            "/stashes/p", data=b'{"x": "' + b"z" * 200 + b'"}', content_type=None
        )
        assert_json_error(response, 413)

    def post_chunked(self, api, body: bytes):
        # As a server that has decoded chunked framing passes it on (no length).
        return api.client.post(
            "/stashes/p",
            input_stream=io.BytesIO(body),
            headers={"Transfer-Encoding": "chunked"},
            environ_overrides={"wsgi.input_terminated": True},
        )

    def test_body_chunked_within_the_limit_is_read(self, api):
        assert self.post_chunked(api, b'{"chunked": true}').status_code == 201
        assert api.get("p").get_json() == {"chunked": True}

    def test_body_chunked_at_the_limit_is_accepted(self, api):
        body = b'{"x": "' + b"y" * (self.LIMIT - 9) + b'"}'
        assert len(body) == self.LIMIT
        assert self.post_chunked(api, body).status_code == 201

    def test_body_chunked_over_the_limit_is_413_and_stores_nothing(self, api):
        body = b'{"x": "' + b"y" * (self.LIMIT - 8) + b'"}'
        assert len(body) == self.LIMIT + 1
        assert_json_error(self.post_chunked(api, body), 413)
        assert api.items() == []

    def test_body_limit_does_not_apply_to_get(self, api):
        api.client.post("/stashes/p", data="{}")
        response = api.client.get("/stashes/p", data=b"x" * 1000)
        assert response.status_code == 200

    def test_body_limit_does_not_apply_to_health_or_delete(self, api):
        api.client.post("/stashes/p", data="{}")
        assert api.client.get("/health", data=b"x" * 1000).status_code == 204
        assert api.client.delete("/stashes/p", data=b"x" * 1000).status_code == 204


def test_body_of_8_mib_is_accepted_by_default(api):
    size = 8 * 1024 * 1024
    head = b'{"x": "'
    body = head + b"a" * (size - len(head) - 2) + b'"}'
    assert len(body) == size
    assert api.client.post("/stashes/p", data=body).status_code == 201
    assert len(api.get("p").get_json()["x"]) == size - len(head) - 2


def test_body_over_8_mib_is_413_by_default(api):
    size = 8 * 1024 * 1024 + 1
    head = b'{"x": "'
    body = head + b"a" * (size - len(head) - 2) + b'"}'
    assert_json_error(api.client.post("/stashes/p", data=body), 413)
    assert api.items() == []
