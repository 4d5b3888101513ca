"""TTL semantics: stashes vanish everywhere at their TTL; only writes change it (7)."""

from __future__ import annotations

import time

import pytest

from tests.stashes.helpers import assert_empty


def test_expiry_reads_do_not_extend_the_ttl(api, shorten, pttl):
    api.create("p", {}, expire=60)
    shorten("p", 30_000)  # as if 30 s had passed
    api.get("p")
    api.client.head("/stashes/p")
    api.items()
    api.list("limit=1")
    api.list("filter.path=p")
    assert 0 < pttl("p") <= 30_000


def test_expiry_refused_write_does_not_touch_the_ttl(api, shorten, pttl):
    api.create("p", {"v": 1}, expire=60)
    shorten("p", 30_000)
    api.create("p", {"v": 2}, expire="60")
    api.client.post("/stashes/p", data="[]")
    assert 0 < pttl("p") <= 30_000


def test_expiry_create_write_create_sets_clears_and_sets(api, pttl):
    api.create("p", {}, expire=60)
    assert 0 < pttl("p") <= 60_000
    api.write("p", {})
    assert pttl("p") == -1
    api.create("p", {}, expire=120)
    assert 60_000 < pttl("p") <= 120_000


def test_expiry_is_per_stash(api, pttl):
    api.create("short", {}, expire=10)
    api.create("long", {}, expire=1000)
    api.create("none", {})
    assert 0 < pttl("short") <= 10_000
    assert 10_000 < pttl("long") <= 1_000_000
    assert pttl("none") == -1


@pytest.mark.slow
def test_expiry_stash_disappears_everywhere_at_its_ttl(api):
    api.create("a-permanent", {"keep": True})
    api.create("z-expiring", {"gone": True}, expire=1)
    api.create("b-later", {"later": True}, expire=600)
    assert api.get("z-expiring").status_code == 200
    time.sleep(1.2)
    assert_empty(api.get("z-expiring"), 404)
    assert_empty(api.client.head("/stashes/z-expiring"), 404)
    assert api.paths() == ["a-permanent", "b-later"]
    # The expired stash sorts after the page: it must not be counted anyway.
    response = api.list("limit=1")
    assert response.headers["X-Pagination"] == '{"limit":1,"offset":0,"total":2}'
    assert api.paths("filter.content.gone=true") == []
    assert_empty(api.delete("z-expiring"), 404)
    assert api.paths() == ["a-permanent", "b-later"]
