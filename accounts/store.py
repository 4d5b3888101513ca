"""Users, API keys and tokens in Redis. No HTTP, no cryptography and no Redis calls
in here: methods describe round trips (`redisio.calls`) for a client to run.

Secrets never reach Redis as they are: API keys and tokens are stored under the
SHA-256 digest of their value (`authenticator` makes the values and the digests),
passwords as salted scrypt hashes. All these keys share the ``{accounts}`` hash tag,
so the scripts below touch one Redis Cluster slot.
"""

from __future__ import annotations

import enum
from typing import TypedDict

from redisio.calls import Call, Script, text
from redisio.keys import Keys
from sensugo.paging import Batch, Batches, lex_start


class ApiKey(TypedDict):
    """An API key as stored: its digest, never the key itself."""

    digest: str
    username: str
    created_by: str
    created_at: int


class AccessToken(TypedDict):
    username: str
    expires_at: int  # Unix seconds; the record outlives it, for refreshes


class OwnerChange(enum.Enum):
    """What giving an API key to another user did; values are the script's replies."""

    DONE = 1
    GONE = 0  # no such key
    CHANGED = -1  # it belonged to someone else meanwhile: nothing written
    NO_USER = -2  # the new owner does not exist: nothing written


def _optional_text(reply: bytes | str | None) -> str | None:
    return None if reply is None else text(reply)


def _users(reply: list) -> list[tuple[str, bool]]:
    return [
        (text(reply[i]), text(reply[i + 1]) == "1") for i in range(0, len(reply), 2)
    ]


def _apikey(
    digest: str, username: bytes, created_by: bytes | None, created_at: bytes | None
) -> ApiKey:
    return ApiKey(
        digest=digest,
        username=text(username),
        created_by=text(created_by or b""),
        created_at=int(created_at or 0),
    )


def _key_batch(reply: list) -> Batch:
    last, *flat = reply
    keys = [
        _apikey(text(flat[i]), *flat[i + 1 : i + 4]) for i in range(0, len(flat), 4)
    ]
    return Batch(keys, text(last) or None)


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

# KEYS[1] user, KEYS[2] user index. ARGV: name, password hash, created_at, generated.
# created_at is kept when the user exists already.
_PUT_USER = Script(
    """
redis.call('HSETNX', KEYS[1], 'created_at', ARGV[3])
redis.call('HSET', KEYS[1], 'password', ARGV[2], 'generated', ARGV[4])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
return 1
"""
)

# KEYS[1] user, KEYS[2] user index, KEYS[3] key index. ARGV: name, key hash prefix.
# Deletes the user and every API key of theirs.
_DELETE_USER = Script(
    """
local digests = redis.call('ZRANGE', KEYS[3], 0, -1)
for _, digest in ipairs(digests) do
  local key = ARGV[2] .. digest
  if redis.call('HGET', key, 'username') == ARGV[1] then
    redis.call('DEL', key)
    redis.call('ZREM', KEYS[3], digest)
  end
end
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('DEL', KEYS[1])
""",
    convert=bool,
)

# KEYS[1] user index. ARGV: user hash prefix. Returns {name, generated, ...} by name.
_USERS = Script(
    """
local out = {}
for _, name in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  out[#out + 1] = name
  out[#out + 1] = redis.call('HGET', ARGV[1] .. name, 'generated') or '0'
end
return out
""",
    convert=_users,
)

# KEYS[1] key, KEYS[2] key index, KEYS[3] the user. ARGV: digest, username,
# created_by, created_at. Returns 0 when the user does not exist.
_PUT_KEY = Script(
    """
if redis.call('EXISTS', KEYS[3]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'username', ARGV[2], 'created_by', ARGV[3],
           'created_at', ARGV[4])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
return 1
""",
    convert=bool,
)

# KEYS[1] key, KEYS[2] key index. ARGV: digest.
_DELETE_KEY = Script(
    """
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('DEL', KEYS[1])
""",
    convert=bool,
)

# KEYS[1] key, KEYS[2] the new user. ARGV: expected current username, new username.
_SET_KEY_USER = Script(
    """
local current = redis.call('HGET', KEYS[1], 'username')
if not current then return 0 end
if current ~= ARGV[1] then return -1 end
if redis.call('EXISTS', KEYS[2]) == 0 then return -2 end
redis.call('HSET', KEYS[1], 'username', ARGV[2])
return 1
""",
    convert=OwnerChange,
)

# KEYS[1] key index. ARGV: key hash prefix, lex start, count. Returns {last digest
# read ('' when the index ended), digest, username, created_by, created_at, ...};
# a digest whose hash is gone is left out.
_KEY_PAGE = Script(
    """
local digests = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[2], '+', 'LIMIT', 0, ARGV[3])
local out = {''}
if #digests == tonumber(ARGV[3]) then out[1] = digests[#digests] end
for _, digest in ipairs(digests) do
  local f = redis.call('HMGET', ARGV[1] .. digest, 'username', 'created_by',
                       'created_at')
  if f[1] then
    out[#out + 1] = digest
    out[#out + 1] = f[1]
    out[#out + 1] = f[2] or ''
    out[#out + 1] = f[3] or ''
  end
end
return out
""",
    convert=_key_batch,
)

# KEYS[1] access token, KEYS[2] (optional) a new refresh token.
# ARGV: username, expires_at, seconds to keep them.
_PUT_TOKENS = Script(
    """
redis.call('HSET', KEYS[1], 'username', ARGV[1], 'expires_at', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
if KEYS[2] then redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[3]) end
return 1
"""
)

# KEYS[1] refresh token. Returns {username or false, TTL}.
_REFRESH_USER = Script(
    """
return {redis.call('GET', KEYS[1]), redis.call('TTL', KEYS[1])}
""",
    convert=_refresh_user,
)


class AccountStore:
    """The users, API keys and tokens of one deployment."""

    def __init__(self, keys: Keys) -> None:
        self.keys = keys

    # Users

    def password_hash(self, name: str) -> Call:
        """The stored password hash of user `name`, or None when there is no user."""
        key = self.keys.user(name)
        return Call(("HGET", key, "password"), convert=_optional_text)

    def put_user(
        self, name: str, password_hash: str, now: int, generated: bool = False
    ) -> Call:
        """Create user `name`, or set its password; `generated` marks a made-up one."""
        return _PUT_USER(
            [self.keys.user(name), self.keys.user_index],
            [name, password_hash, now, "1" if generated else "0"],
        )

    def delete_user(self, name: str) -> Call:
        """Delete user `name` and its API keys; True when it existed."""
        return _DELETE_USER(
            [self.keys.user(name), self.keys.user_index, self.keys.apikey_index],
            [name, self.keys.apikey("")],
        )

    def users(self) -> Call:
        """Every user as (name, generated), by name. For start-up, not requests."""
        return _USERS([self.keys.user_index], [self.keys.user("")])

    def first_start(self) -> Call:
        """True once per deployment: at the start that finds it not yet seeded."""
        return Call(("SET", self.keys.seeded, "1", "NX"), convert=bool)

    # API keys

    def put_apikey(self, key: ApiKey) -> Call:
        """Store `key`; False (and nothing stored) when its user does not exist."""
        return _PUT_KEY(
            [
                self.keys.apikey(key["digest"]),
                self.keys.apikey_index,
                self.keys.user(key["username"]),
            ],
            [key["digest"], key["username"], key["created_by"], key["created_at"]],
        )

    def get_apikey(self, digest: str) -> Call:
        """The API key with this digest, or None. One HMGET."""
        key = self.keys.apikey(digest)
        return Call(
            ("HMGET", key, "username", "created_by", "created_at"),
            convert=lambda f: None if f[0] is None else _apikey(digest, *f),
        )

    def apikey_user(self, digest: str) -> Call:
        """The user of the API key with this digest, or None. One HGET."""
        key = self.keys.apikey(digest)
        return Call(("HGET", key, "username"), convert=_optional_text)

    def delete_apikey(self, digest: str) -> Call:
        """Revoke the key; True when it existed."""
        keys = [self.keys.apikey(digest), self.keys.apikey_index]
        return _DELETE_KEY(keys, [digest])

    def set_apikey_user(self, digest: str, expected: str, username: str) -> Call:
        """Give the key to `username` if it still belongs to `expected`; an
        `OwnerChange`."""
        keys = [self.keys.apikey(digest), self.keys.user(username)]
        return _SET_KEY_USER(keys, [expected, username])

    def apikeys(self, after: str | None) -> Batches:
        """API keys by digest, strictly after `after`; for lists."""
        return Batches(self._apikey_batch, after)

    def _apikey_batch(self, after: str | None) -> Call:
        args = [self.keys.apikey(""), lex_start(after), BATCH]
        return _KEY_PAGE([self.keys.apikey_index], args)

    def configured_key(self) -> Call:
        """The digest of the STASHD_API_KEY registered last, if any."""
        return Call(("GET", self.keys.configured_key), convert=_optional_text)

    def set_configured_key(self, digest: str | None) -> Call:
        """Remember the digest of STASHD_API_KEY; None forgets it."""
        if digest is None:
            return Call(("DEL", self.keys.configured_key))
        return Call(("SET", self.keys.configured_key, digest))

    # Tokens

    def put_tokens(
        self,
        access: str,
        refresh: str | None,
        username: str,
        expires_at: int,
        keep: int,
    ) -> Call:
        """Store an access token (and a new refresh token) for `keep` seconds.

        The access token's record outlives its `expires_at`: /auth/token accepts an
        expired access token together with a valid refresh token.
        """
        keys = [self.keys.access_token(access)]
        if refresh is not None:
            keys.append(self.keys.refresh_token(refresh))
        return _PUT_TOKENS(keys, [username, expires_at, keep])

    def access_token(self, digest: str) -> Call:
        """The access token with this digest, expired or not; None when unknown."""
        key = self.keys.access_token(digest)
        return Call(("HMGET", key, "username", "expires_at"), convert=_access_token)

    def refresh_user(self, digest: str) -> Call:
        """The user of the refresh token with this digest and its remaining seconds,
        or None."""
        key = self.keys.refresh_token(digest)
        return _REFRESH_USER([key], [])

    def revoke_tokens(self, access: str, refresh: str | None) -> Call:
        """Forget an access token, and a refresh token unless it is None."""
        keys = [self.keys.access_token(access)]
        if refresh is not None:
            keys.append(self.keys.refresh_token(refresh))
        return Call(("DEL", *keys))
