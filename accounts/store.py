"""Users, API keys and tokens in Redis. No HTTP, no cryptography and no Redis calls
in here: methods describe round trips (`redisio.calls`) for a client to run.

Secrets never reach Redis as they are: API keys and tokens are stored under the
SHA-256 digest of their value (`passwords` makes the values and the digests),
passwords as salted scrypt hashes. All these keys share the ``{accounts}`` hash tag,
so the scripts (`accounts.scripts`) touch one Redis Cluster slot. Each credential
lookup also reads, and on failure raises, the failed-login count of the client's
address (spec stashes.md 17.4) in its one round trip.
"""

from __future__ import annotations

import enum
import json
from typing import Any, NamedTuple, NotRequired, TypedDict

from accounts import scripts
from redisio.calls import Call, text
from redisio.keys import Keys
from sensugo.paging import Batch, Batches, lex_start


class ApiKey(TypedDict):
    """An API key as stored: its digest, never the key itself."""

    digest: str
    username: str
    created_by: str
    created_at: int
    # Only on keys made with scopes (spec archives.md section 2).
    scopes: NotRequired[list[str]]


class AccessToken(TypedDict):
    username: str
    expires_at: int  # Unix seconds; the record outlives it, for refreshes


class OwnerChange(enum.Enum):
    """What giving an API key to another user did; values are the script's replies."""

    DONE = 1
    GONE = 0  # no such key
    CHANGED = -1  # it belonged to someone else meanwhile: nothing written
    NO_USER = -2  # the new owner does not exist: nothing written


class Outcome(enum.Enum):
    """How a credential lookup went; values are the scripts' replies."""

    PASSED = 0  # looked up (a password hash, when there is one, is still to check)
    FAILED = 1  # wrong credentials, counted against the address
    THROTTLED = 2  # the address had failed too often: nothing was looked up


class Attempt(NamedTuple):
    """A credential lookup's reply: what it found, and the address's failures."""

    value: Any  # the user, or a password hash; None when not found
    outcome: Outcome
    failures: int  # of the address, in its current window
    window_left: float  # seconds, when the lookup failed or was throttled
    scopes: list[str] | None = None  # an API key's, when it has any


def _optional_text(reply: bytes | str | None) -> str | None:
    return None if reply is None else text(reply)


def _attempt(reply: list) -> Attempt:
    value, outcome, failures, left_ms, *extra = reply
    scopes = json.loads(extra[0]) if extra and extra[0] else None
    return Attempt(
        _optional_text(value),
        Outcome(outcome),
        int(failures),
        left_ms / 1000,
        scopes,
    )


def _users(reply: list) -> list[tuple[str, bool]]:
    return [
        (text(reply[i]), text(reply[i + 1]) == "1") for i in range(0, len(reply), 2)
    ]


def _apikey(
    digest: str,
    username: bytes,
    created_by: bytes | None,
    created_at: bytes | None,
    scopes: bytes | None = None,
) -> ApiKey:
    key = ApiKey(
        digest=digest,
        username=text(username),
        created_by=text(created_by or b""),
        created_at=int(created_at or 0),
    )
    if scopes:
        key["scopes"] = json.loads(scopes)
    return key


def _key_batch(reply: list) -> Batch:
    last, *flat = reply
    keys = [
        _apikey(text(flat[i]), *flat[i + 1 : i + 5]) for i in range(0, len(flat), 5)
    ]
    return Batch(keys, text(last) or None)


class UserRecord(NamedTuple):
    """A user as stored, password hash and all (backups only)."""

    name: str
    password_hash: str
    created_at: int
    generated: bool


def _user_batch(reply: list) -> Batch:
    last, *flat = reply
    users = [
        UserRecord(
            text(flat[i]),
            text(flat[i + 1]),
            int(flat[i + 2] or 0),
            text(flat[i + 3]) == "1",
        )
        for i in range(0, len(flat), 4)
    ]
    return Batch(users, text(last) or None)


def _access_token(reply: list) -> AccessToken | None:
    username, expires_at = reply
    if username is None:
        return None
    return AccessToken(username=text(username), expires_at=int(expires_at or 0))


def _refresh_user(reply: list) -> tuple[str, int] | None:
    username, ttl = reply
    if username is None or ttl <= 0:
        return None
    return text(username), ttl


# Items per round trip when walking an index.
BATCH = 500
# Users remembered per API key or token (`AccountStore._owned`); forgotten all at
# once past this, so a flood of keys costs memory once.
OWNERS_KEPT = 10_000


class AccountStore:
    """The users, API keys and tokens of one deployment."""

    def __init__(self, keys: Keys) -> None:
        self.keys = keys
        # The user each API key or token key last named: a hint only, the script
        # asks for the right one when it is another.
        self._owners: dict[str, str] = {}

    # Users

    def password_hash(self, name: str) -> Call:
        """The stored password hash of user `name`, or None when there is no user."""
        key = self.keys.user(name)
        return Call(("HGET", key, "password"), convert=_optional_text)

    def put_user(
        self, name: str, password_hash: str, now: int, generated: bool = False
    ) -> Call:
        """Create user `name`, or set its password, which ends its access and
        refresh tokens; `generated` marks a made-up one."""
        keys = [self.keys.user(name), self.keys.user_index, self.keys.tokens(name)]
        return scripts.PUT_USER(keys, [name, password_hash, now, int(generated)])

    def delete_user(self, name: str) -> Call:
        """Delete user `name` with its API keys and tokens; True when it existed."""
        return scripts.DELETE_USER(
            [
                self.keys.user(name),
                self.keys.user_index,
                self.keys.apikey_index,
                self.keys.tokens(name),
            ],
            [name, self.keys.apikey("")],
        )

    def users(self) -> Call:
        """Every user as (name, generated), by name. For start-up, not requests."""
        call = scripts.USERS([self.keys.user_index], [self.keys.user("")])
        return call._replace(convert=_users)

    def user_records(self, after: str | None) -> Batches:
        """Users with their password hashes, by name, strictly after `after`; for
        backups, never for responses."""
        return Batches(self._user_batch, after)

    def _user_batch(self, after: str | None) -> Call:
        args = [self.keys.user(""), lex_start(after), BATCH]
        call = scripts.USER_PAGE([self.keys.user_index], args)
        return call._replace(convert=_user_batch)

    def count_users(self) -> Call:
        """How many users there are. One ZCARD."""
        return Call(("ZCARD", self.keys.user_index))

    def count_apikeys(self) -> Call:
        """How many API keys there are. One ZCARD."""
        return Call(("ZCARD", self.keys.apikey_index))

    def first_start(self) -> Call:
        """True once per deployment: at the start that finds it not yet seeded."""
        return Call(("SET", self.keys.seeded, "1", "NX"), convert=bool, write=True)

    def configured_user(self) -> Call:
        """The STASHD_API_USER of the last start that had one, or None."""
        return Call(("GET", self.keys.configured_user), convert=_optional_text)

    def set_configured_user(self, name: str) -> Call:
        """Remember `name` as the configured administrator."""
        return Call(("SET", self.keys.configured_user, name), write=True)

    # Credential lookups, each with the throttle of `address` (spec 17.4): `limit`
    # failures are allowed per `window` seconds. Each returns an `Attempt`.

    def _throttled(self, script: Any, address: str, key: str, args: list) -> Call:
        call = script([self.keys.failures(address), key], args)
        return call._replace(convert=_attempt)

    def _owned(self, script: Any, address: str, key: str, args: list) -> Call:
        """A lookup of `key` (an API key or token) that touches its user's hash:
        declared up front when an earlier lookup found it, so that a lookup is
        one round trip, not two (DECLARE_PRELUDE)."""
        keys = [self.keys.failures(address), key]
        owner = self._owners.get(key)
        if owner is not None:
            keys.append(self.keys.user(owner))

        def convert(reply: list) -> Attempt:
            attempt = _attempt(reply)
            if attempt.value is not None:
                if len(self._owners) >= OWNERS_KEPT:
                    self._owners.clear()
                self._owners[key] = attempt.value
            return attempt

        return script(keys, args)._replace(convert=convert)

    def login(self, address: str, name: str, limit: int, window: int) -> Call:
        """User `name`'s password hash (None when there is no such user)."""
        return self._throttled(
            scripts.PASSWORD, address, self.keys.user(name), [limit, window]
        )

    def apikey_login(self, address: str, digest: str, limit: int, window: int) -> Call:
        """The user of the API key with this digest; a failure when unknown."""
        args = [limit, window, self.keys.user("")]
        return self._owned(scripts.APIKEY, address, self.keys.apikey(digest), args)

    def token_login(
        self,
        address: str,
        digest: str,
        limit: int,
        window: int,
        now: float,
        expired: bool = False,
    ) -> Call:
        """The user of the access token with this digest, valid at `now` unless
        `expired` is allowed (for refreshes); a failure when unknown."""
        args = [limit, window, self.keys.user(""), repr(now), int(expired)]
        key = self.keys.access_token(digest)
        return self._owned(scripts.ACCESS, address, key, args)

    def failed_login(self, address: str, limit: int, window: int) -> Call:
        """Count a failure found outside Redis (a wrong password, a bad header)."""
        call = scripts.FAILED([self.keys.failures(address)], [limit, window])
        return call._replace(convert=_attempt)

    # API keys

    def put_apikey(self, key: ApiKey) -> Call:
        """Store `key`; False (and nothing stored) when its user does not exist."""
        return scripts.PUT_KEY(
            [
                self.keys.apikey(key["digest"]),
                self.keys.apikey_index,
                self.keys.user(key["username"]),
            ],
            [
                key["digest"],
                key["username"],
                key["created_by"],
                key["created_at"],
                json.dumps(key["scopes"]) if key.get("scopes") else "",
            ],
        )

    def get_apikey(self, digest: str) -> Call:
        """The API key with this digest, or None. One HMGET."""
        key = self.keys.apikey(digest)
        return Call(
            ("HMGET", key, "username", "created_by", "created_at", "scopes"),
            convert=lambda f: None if f[0] is None else _apikey(digest, *f),
        )

    def apikey_user(self, digest: str) -> Call:
        """The user of the API key with this digest, or None. One HGET."""
        key = self.keys.apikey(digest)
        return Call(("HGET", key, "username"), convert=_optional_text)

    def delete_apikey(self, digest: str) -> Call:
        """Revoke the key; True when it existed."""
        keys = [self.keys.apikey(digest), self.keys.apikey_index]
        return scripts.DELETE_KEY(keys, [digest])

    def set_apikey_user(self, digest: str, expected: str, username: str) -> Call:
        """Give the key to `username` if it still belongs to `expected`; an
        `OwnerChange`."""
        keys = [self.keys.apikey(digest), self.keys.user(username)]
        call = scripts.SET_KEY_USER(keys, [expected, username])
        return call._replace(convert=OwnerChange)

    def apikeys(self, after: str | None) -> Batches:
        """API keys by digest, strictly after `after`; for lists."""
        return Batches(self._apikey_batch, after)

    def _apikey_batch(self, after: str | None) -> Call:
        args = [self.keys.apikey(""), lex_start(after), BATCH]
        call = scripts.KEY_PAGE([self.keys.apikey_index], args)
        return call._replace(convert=_key_batch)

    def configured_key(self) -> Call:
        """The digest of the STASHD_API_KEY registered last, if any."""
        return Call(("GET", self.keys.configured_key), convert=_optional_text)

    def set_configured_key(self, digest: str | None) -> Call:
        """Remember the digest of STASHD_API_KEY; None forgets it."""
        if digest is None:
            return Call(("DEL", self.keys.configured_key), write=True)
        return Call(("SET", self.keys.configured_key, digest), write=True)

    # Tokens

    def put_tokens(
        self,
        access: str,
        refresh: str | None,
        username: str,
        expires_at: int,
        keep: int,
    ) -> Call:
        """Store an access token (and a new refresh token) for `keep` seconds, listed
        with their user; False, storing nothing, when the user no longer exists.

        The access token's record outlives its `expires_at`: /auth/token accepts an
        expired access token together with a valid refresh token.
        """
        keys = [
            self.keys.user(username),
            self.keys.tokens(username),
            self.keys.access_token(access),
        ]
        if refresh is not None:
            keys.append(self.keys.refresh_token(refresh))
        return scripts.PUT_TOKENS(keys, [username, expires_at, keep])

    def access_token(self, digest: str) -> Call:
        """The access token with this digest, expired or not; None when unknown."""
        key = self.keys.access_token(digest)
        return Call(("HMGET", key, "username", "expires_at"), convert=_access_token)

    def refresh_user(self, digest: str) -> Call:
        """The user of the refresh token with this digest and its remaining seconds,
        or None."""
        call = scripts.REFRESH_USER([self.keys.refresh_token(digest)], [])
        return call._replace(convert=_refresh_user)

    def revoke_tokens(self, username: str, access: str, refresh: str | None) -> Call:
        """Forget an access token of `username`, and a refresh token unless None."""
        keys = [self.keys.tokens(username), self.keys.access_token(access)]
        if refresh is not None:
            keys.append(self.keys.refresh_token(refresh))
        return scripts.REVOKE_TOKENS(keys, [])
