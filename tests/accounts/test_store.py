"""The account store's round trips on fakeredis and on a real redis-server: the
failed-login count read and raised with each credential lookup, and the token index
that lets a user's tokens end with the user or its password."""

from __future__ import annotations

import time

import fakeredis
import pytest

from accounts.store import AccountStore, ApiKey, Attempt, Outcome
from redisio.clients import BlockingClient
from redisio.keys import Keys

KEYS = Keys("stashd")
ADDRESS = "192.0.2.1"
LIMIT, WINDOW = 3, 60


@pytest.fixture
def redis(backend, request):
    if backend == "fake":
        return fakeredis.FakeRedis()
    return request.getfixturevalue("real_redis")


@pytest.fixture
def run(redis):
    client = BlockingClient(redis)
    yield client.run
    client.close()


@pytest.fixture
def store(run):
    store = AccountStore(KEYS)
    run(store.put_user("ops", "scrypt$stored", 0))
    return store


def failed(run, store, address=ADDRESS):
    return run(store.failed_login(address, LIMIT, WINDOW))


def test_failures_are_counted_with_the_window_set_once(run, store, redis):
    first = failed(run, store)
    assert first == Attempt(None, Outcome.FAILED, 1, first.window_left)
    assert 59 < first.window_left <= 60
    redis.pexpire(KEYS.failures(ADDRESS), 10_000)
    second = failed(run, store)
    assert (second.outcome, second.failures) == (Outcome.FAILED, 2)
    assert second.window_left <= 10
    assert redis.pttl(KEYS.failures(ADDRESS)) <= 10_000


def test_past_the_limit_lookups_are_throttled_and_count_no_more(run, store, redis):
    for _ in range(LIMIT):
        failed(run, store)
    lookups = [
        store.login(ADDRESS, "ops", LIMIT, WINDOW),
        store.apikey_login(ADDRESS, "d" * 64, LIMIT, WINDOW),
        store.token_login(ADDRESS, "d" * 64, LIMIT, WINDOW, time.time()),
        store.failed_login(ADDRESS, LIMIT, WINDOW),
    ]
    for call in lookups:
        attempt = run(call)
        assert (attempt.value, attempt.outcome) == (None, Outcome.THROTTLED)
        assert attempt.failures == LIMIT and 0 < attempt.window_left <= 60
    assert int(redis.get(KEYS.failures(ADDRESS))) == LIMIT
    # Another address is another count.
    other = run(store.login("192.0.2.2", "ops", LIMIT, WINDOW))
    assert other == Attempt("scrypt$stored", Outcome.PASSED, 0, 0)


def test_a_password_lookup_counts_nothing(run, store, redis):
    assert run(store.login(ADDRESS, "ops", LIMIT, WINDOW)).value == "scrypt$stored"
    assert run(store.login(ADDRESS, "nobody", LIMIT, WINDOW)).value is None
    assert redis.get(KEYS.failures(ADDRESS)) is None


def test_a_key_lookup_counts_its_failure_in_the_same_round_trip(run, store, redis):
    key = ApiKey(digest="k" * 64, username="ops", created_by="ops", created_at=0)
    run(store.put_apikey(key))
    found = run(store.apikey_login(ADDRESS, "k" * 64, LIMIT, WINDOW))
    assert (found.value, found.outcome) == ("ops", Outcome.PASSED)
    missing = run(store.apikey_login(ADDRESS, "x" * 64, LIMIT, WINDOW))
    assert (missing.value, missing.outcome, missing.failures) == (
        None,
        Outcome.FAILED,
        1,
    )
    assert int(redis.get(KEYS.failures(ADDRESS))) == 1


def tokens(run, store, user="ops", access="a", refresh="r", expires_at=None):
    expires_at = int(time.time()) + 300 if expires_at is None else expires_at
    return run(store.put_tokens(access * 64, refresh * 64, user, expires_at, 600))


def test_a_token_lookup_checks_expiry_and_its_user(run, store, redis):
    assert tokens(run, store)
    now = time.time()

    def login(at, expired=False):
        call = store.token_login(ADDRESS, "a" * 64, LIMIT, WINDOW, at, expired)
        return run(call)

    assert login(now).value == "ops"
    assert login(now + 301).outcome is Outcome.FAILED
    assert login(now + 301, expired=True).value == "ops"
    redis.delete(KEYS.user("ops"))  # gone without its index, as before this version
    assert login(now, expired=True).outcome is Outcome.FAILED


def test_tokens_are_not_issued_for_a_user_that_is_gone(run, store, redis):
    assert not tokens(run, store, user="nobody")
    assert redis.exists(KEYS.access_token("a" * 64)) == 0


def test_tokens_are_listed_with_their_user_for_as_long_as_they_are_kept(
    run, store, redis
):
    assert tokens(run, store)
    listed = {m.decode() for m in redis.zrange(KEYS.tokens("ops"), 0, -1)}
    assert listed == {KEYS.access_token("a" * 64), KEYS.refresh_token("r" * 64)}
    assert 590 < redis.ttl(KEYS.tokens("ops")) <= 600
    assert 590 < redis.ttl(KEYS.access_token("a" * 64)) <= 600


def test_a_new_password_ends_the_users_tokens_only(run, store, redis):
    run(store.put_user("eve", "scrypt$eve", 0))
    assert tokens(run, store)
    assert tokens(run, store, user="eve", access="b", refresh="s")
    run(store.put_user("ops", "scrypt$new", 1))
    assert redis.exists(KEYS.access_token("a" * 64), KEYS.refresh_token("r" * 64)) == 0
    assert redis.exists(KEYS.tokens("ops")) == 0
    assert redis.exists(KEYS.access_token("b" * 64), KEYS.refresh_token("s" * 64)) == 2


def test_deleting_a_user_ends_its_keys_and_tokens(run, store, redis):
    key = ApiKey(digest="k" * 64, username="ops", created_by="ops", created_at=0)
    run(store.put_apikey(key))
    assert tokens(run, store)
    assert run(store.delete_user("ops"))
    assert redis.exists(KEYS.apikey("k" * 64), KEYS.access_token("a" * 64)) == 0
    assert redis.exists(KEYS.refresh_token("r" * 64), KEYS.tokens("ops")) == 0
    assert run(store.apikey_login(ADDRESS, "k" * 64, LIMIT, WINDOW)).value is None


def test_logout_unlists_the_tokens_it_forgets(run, store, redis):
    assert tokens(run, store)
    assert tokens(run, store, access="b", refresh="s")
    run(store.revoke_tokens("ops", "a" * 64, "r" * 64))
    listed = {m.decode() for m in redis.zrange(KEYS.tokens("ops"), 0, -1)}
    assert listed == {KEYS.access_token("b" * 64), KEYS.refresh_token("s" * 64)}


def test_the_configured_user_is_remembered(run, store):
    assert run(store.configured_user()) is None
    run(store.set_configured_user("ops"))
    assert run(store.configured_user()) == "ops"
