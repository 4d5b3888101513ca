"""POST /silenced/clear (spec silenced.md 4.4, D8, D11)."""

from __future__ import annotations

import pytest

from tests.silenced.helpers import assert_empty, assert_json_error


@pytest.fixture
def some(v1):
    for sub, check in [
        ("web", None),
        ("web", "disk"),
        ("web", "cpu"),
        ("db", "disk"),
        (None, "disk"),
    ]:
        v1.created(subscription=sub, check=check)


def test_clear_by_subscription_clears_only_sub_star(v1, some):
    # One entry per call, as in Sensu (sensu/sensu#1915).
    assert_empty(v1.clear({"subscription": "web"}), 204)
    assert v1.ids() == ["*:disk", "db:disk", "web:cpu", "web:disk"]


def test_clear_with_null_sides_uses_star(v1, some):
    assert_empty(v1.clear({"subscription": None, "check": "disk"}), 204)
    assert "*:disk" not in v1.ids()


def test_an_id_wins_over_the_other_keys(v1, some):
    assert_empty(v1.clear({"id": "db:disk", "subscription": "web"}), 204)
    assert v1.ids() == ["*:disk", "web:*", "web:cpu", "web:disk"]


def test_empty_id_is_valid_and_clears_nothing(v1, some):
    assert_empty(v1.clear({"id": ""}), 404)


def test_clear_all_by_subscription(v1, some):
    assert_empty(v1.clear({"subscription": "web", "all": True}), 204)
    assert v1.ids() == ["*:disk", "db:disk"]
    assert_empty(v1.clear({"subscription": "web", "all": True}), 404)


def test_clear_all_by_check(v1, some):
    assert_empty(v1.clear({"check": "disk", "all": True}), 204)
    assert v1.ids() == ["web:*", "web:cpu"]


def test_clear_all_by_both_clears_that_one(v1, some):
    assert_empty(v1.clear({"subscription": "web", "check": "disk", "all": True}), 204)
    assert v1.ids() == ["*:disk", "db:disk", "web:*", "web:cpu"]


def test_clear_all_false_is_one_entry(v1, some):
    assert_empty(v1.clear({"check": "disk", "all": False}), 204)
    assert v1.ids() == ["db:disk", "web:*", "web:cpu", "web:disk"]


def test_clear_all_skips_expired_entries(v1, some, shorten):
    shorten("web:cpu", -1)
    assert_empty(v1.clear({"check": "cpu", "all": True}), 404)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"reason": "x"},
        {"id": None},
        {"id": 5},  # the Python sensu-cli's `unsilence --id 5`
        {"subscription": 5},
        {"check": "a b"},
        {"check": "x", "all": "yes"},
        {"id": "web:*", "all": True},
        [],
    ],
)
def test_bad_clears_get_a_reason_and_change_nothing(v1, some, body):
    before = v1.ids()
    assert_json_error(v1.clear(body))
    assert v1.ids() == before


def test_ruby_sensu_cli_clear_by_id_alone_is_400(v1, some):
    # sensu-cli 0.11.0's `silenced clear -i <id>` sends creator only (agent462#58).
    assert_json_error(v1.clear({"creator": "me"}))
