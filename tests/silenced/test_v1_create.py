"""POST /silenced where Sensu 1.x was broken (spec silenced.md 3.3, D3, D4)."""

from __future__ import annotations

import time

import pytest

from tests.silenced.helpers import assert_empty, assert_json_error


def test_null_sides_are_absent_in_the_id(v1):
    # Sensu stored {"subscription": null, "check": "foo"} as ":foo", never matched.
    v1.created(subscription=None, check="foo", expire=None, reason=None, creator=None)
    entry = v1.entry("*:foo").get_json()
    assert entry["subscription"] is None and entry["check"] == "foo"
    assert entry["expire"] == -1 and entry["reason"] is None


def test_python_sensu_cli_body_with_nulls_and_host(v1):
    body = {
        "host": ["web1.example.com"],
        "check": "foo",
        "subscription": None,
        "expire": None,
        "reason": None,
        "creator": None,
    }
    assert_empty(v1.create(body), 201)
    assert v1.ids() == ["*:foo"]


@pytest.mark.parametrize("expire", [0, -1, -3600])
def test_expire_of_zero_or_less_means_no_ttl(v1, pttl, expire):
    # Sensu 1.x deleted the entry behind its 201 (Uchiwa 0.18 sent -1).
    v1.created(subscription="web", expire=expire)
    assert v1.entry("web:*").get_json()["expire"] == -1
    assert pttl("web:*") == -1


def test_a_post_replaces_the_entry_and_its_ttl(v1, pttl):
    v1.created(subscription="web", expire=60, reason="first")
    v1.created(subscription="web", reason="second")
    entry = v1.entry("web:*").get_json()
    assert entry["reason"] == "second" and entry["expire"] == -1
    assert pttl("web:*") == -1
    v1.created(subscription="web", expire=120)
    assert 115_000 < pttl("web:*") <= 120_000
    assert v1.entry("web:*").get_json()["reason"] is None


def test_begin_in_the_future_without_expire_has_no_ttl(v1, pttl):
    v1.created(subscription="web", begin=int(time.time()) + 600)
    assert pttl("web:*") == -1


def test_begin_in_the_past_counts_from_now(v1, pttl):
    v1.created(subscription="web", begin=int(time.time()) - 600, expire=60)
    assert 55_000 < pttl("web:*") <= 60_000


@pytest.mark.parametrize(
    "body",
    [
        {"subscription": "web", "expire": 2**31},
        {"subscription": "web", "expire": 10**30},
        {"subscription": "web", "expire": 2**31 - 100, "begin": 2**40},
        {"subscription": "web", "begin": 2**53},
        {"subscription": "web", "begin": -(2**53)},
    ],
)
def test_huge_numbers_are_refused(v1, body):
    assert_json_error(v1.create(body))
    assert v1.items() == []


def test_largest_ttl_is_accepted(v1, pttl):
    v1.created(subscription="web", expire=2**31 - 1)
    assert pttl("web:*") > (2**31 - 10) * 1000


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ([1, 2], "body must be a JSON object"),
        ("text", "body must be a JSON object"),
        ({"reason": "x"}, "subscription or check is required"),
        ({"subscription": ""}, "subscription must match [A-Za-z0-9_.:-]+"),
        ({"subscription": "a b"}, "subscription must match [A-Za-z0-9_.:-]+"),
        ({"subscription": "café"}, "subscription must match [A-Za-z0-9_.:-]+"),
        ({"check": "a:b"}, "check must match [A-Za-z0-9_.-]+"),
        ({"check": "*"}, "check must match [A-Za-z0-9_.-]+"),
        ({"subscription": "a", "reason": 5}, "reason must be a string or null"),
        ({"subscription": "a", "creator": []}, "creator must be a string or null"),
        ({"subscription": "a", "expire": 60.0}, "expire must be an integer or null"),
        ({"subscription": "a", "expire": True}, "expire must be an integer or null"),
        ({"subscription": "a", "begin": "1"}, "begin must be an integer or null"),
        (
            {"subscription": "a", "expire_on_resolve": 1},
            "expire_on_resolve must be true, false or null",
        ),
        ({"subscription": "a", "expire": 2**31}, "expire too large"),
    ],
)
def test_bad_bodies_get_a_reason_and_change_nothing(v1, body, reason):
    v1.created(subscription="keep")
    error = assert_json_error(v1.create(body))
    assert reason in error
    assert v1.ids() == ["keep:*"]


@pytest.mark.parametrize("raw", [b"", b"{", b'{"subscription": NaN}', b"\xff\xfe"])
def test_bodies_that_are_not_json_get_400(v1, raw):
    assert_json_error(v1.create(raw=raw))
    assert v1.items() == []


def test_lone_surrogate_in_reason_is_refused(v1):
    assert_json_error(v1.create(raw=b'{"subscription": "a", "reason": "\\ud800"}'))
    assert v1.items() == []


def test_unknown_keys_and_trailing_blank_lines_are_ignored(v1):
    # Uchiwa 1.7.0 sends "id" and "dc", and ends its body with two newlines.
    raw = '{"id":"","dc":"dc1","subscription":"client:web1","expire_on_resolve":true}'
    assert_empty(v1.create(raw=raw + "\n\n"), 201)
    entry = v1.entry("client:web1:*").get_json()
    assert entry["subscription"] == "client:web1" and entry["expire_on_resolve"]


class TestPolicy:
    @pytest.fixture
    def config(self):
        return {"SILENCED_MAX_SECONDS": 3600, "SILENCED_DEFAULT_SECONDS": 600}

    def test_default_applies_without_expire(self, v1, pttl):
        v1.created(subscription="web")
        assert 595_000 < pttl("web:*") <= 600_000
        v1.created(subscription="db", expire=-1)
        assert 595_000 < pttl("db:*") <= 600_000

    def test_past_the_maximum_is_400(self, v1):
        error = assert_json_error(v1.create({"subscription": "web", "expire": 3601}))
        assert error == "expire exceeds the maximum of 3600 seconds"
        assert v1.items() == []

    def test_the_maximum_itself_is_allowed(self, v1, pttl):
        v1.created(subscription="web", expire=3600)
        assert pttl("web:*") > 3595_000


class TestMaximumWithoutDefault:
    @pytest.fixture
    def config(self):
        return {"SILENCED_MAX_SECONDS": 60}

    def test_no_expiry_breaks_the_maximum(self, v1):
        error = assert_json_error(v1.create({"subscription": "web"}))
        assert error == "expire exceeds the maximum of 60 seconds"
