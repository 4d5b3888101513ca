"""Users, API keys and tokens in Redis. No HTTP and no cryptography in here.

Secrets never reach Redis as they are: API keys and tokens are stored under the
SHA-256 digest of their value (auth.py makes the values and the digests), passwords
as salted scrypt hashes. All these keys share the ``{accounts}`` hash tag, so the
scripts below touch one Redis Cluster slot.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypedDict

from redisio.clients import RedisClient
from redisio.keys import Keys


class ApiKey(TypedDict):
    """An API key as stored: its digest, never the key itself."""

    digest: str
    username: str
    created_by: str
    created_at: int


class AccessToken(TypedDict):
    username: str
    expires_at: int  # Unix seconds; the record outlives it, for refreshes


# Items per round trip when walking an index.
BATCH = 500

# KEYS[1] user, KEYS[2] user index. ARGV: name, password hash, created_at, generated.
# created_at is kept when the user exists already.
_PUT_USER = """
redis.call('HSETNX', KEYS[1], 'created_at', ARGV[3])
redis.call('HSET', KEYS[1], 'password', ARGV[2], 'generated', ARGV[4])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
return 1
"""

# KEYS[1] user, KEYS[2] user index, KEYS[3] key index. ARGV: name, key hash prefix.
# Deletes the user and every API key of theirs.
_DELETE_USER = """
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
"""

# KEYS[1] key, KEYS[2] key index, KEYS[3] the user. ARGV: digest, username,
# created_by, created_at. Returns 0 when the user does not exist.
_PUT_KEY = """
if redis.call('EXISTS', KEYS[3]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'username', ARGV[2], 'created_by', ARGV[3],
           'created_at', ARGV[4])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
return 1
"""

# KEYS[1] key, KEYS[2] key index. ARGV: digest.
_DELETE_KEY = """
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('DEL', KEYS[1])
"""

# KEYS[1] key, KEYS[2] the new user. ARGV: expected current username, new username.
# Returns 1 done, 0 key gone, -1 changed meanwhile, -2 no such user.
_SET_KEY_USER = """
local current = redis.call('HGET', KEYS[1], 'username')
if not current then return 0 end
if current ~= ARGV[1] then return -1 end
if redis.call('EXISTS', KEYS[2]) == 0 then return -2 end
redis.call('HSET', KEYS[1], 'username', ARGV[2])
return 1
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class AccountStore:
    """The users, API keys and tokens of one deployment."""

    def __init__(self, client: RedisClient, keys: Keys) -> None:
        self.redis = client
        self.keys = keys
        self._put_user = client.register_script(_PUT_USER)
        self._delete_user = client.register_script(_DELETE_USER)
        self._put_key = client.register_script(_PUT_KEY)
        self._delete_key = client.register_script(_DELETE_KEY)
        self._set_key_user = client.register_script(_SET_KEY_USER)

    # Users

    def password_hash(self, name: str) -> str | None:
        """The stored password hash of user `name`, or None when there is no user."""
        value = self.redis.hget(self.keys.user(name), "password")
        return None if value is None else _text(value)

    def put_user(
        self, name: str, password_hash: str, now: int, generated: bool = False
    ) -> None:
        """Create user `name`, or set its password; `generated` marks a made-up one."""
        self._put_user(
            keys=[self.keys.user(name), self.keys.user_index],
            args=[name, password_hash, now, "1" if generated else "0"],
        )

    def delete_user(self, name: str) -> bool:
        """Delete user `name` and its API keys; True when it existed."""
        return bool(
            self._delete_user(
                keys=[
                    self.keys.user(name),
                    self.keys.user_index,
                    self.keys.apikey_index,
                ],
                args=[name, self.keys.apikey("")],
            )
        )

    def users(self) -> list[tuple[str, bool]]:
        """Every user as (name, generated), by name. For start-up, not requests."""
        names = [_text(n) for n in self.redis.zrange(self.keys.user_index, 0, -1)]
        with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hget(self.keys.user(name), "generated")
            flags = pipe.execute()
        return [(name, flag == b"1") for name, flag in zip(names, flags, strict=True)]

    # API keys

    def put_apikey(self, key: ApiKey) -> bool:
        """Store `key`; False (and nothing stored) when its user does not exist."""
        return bool(
            self._put_key(
                keys=[
                    self.keys.apikey(key["digest"]),
                    self.keys.apikey_index,
                    self.keys.user(key["username"]),
                ],
                args=[
                    key["digest"],
                    key["username"],
                    key["created_by"],
                    key["created_at"],
                ],
            )
        )

    def get_apikey(self, digest: str) -> ApiKey | None:
        """The API key with this digest, or None."""
        fields = self.redis.hmget(
            self.keys.apikey(digest), "username", "created_by", "created_at"
        )
        if fields[0] is None:
            return None
        return ApiKey(
            digest=digest,
            username=_text(fields[0]),
            created_by=_text(fields[1] or b""),
            created_at=int(fields[2] or 0),
        )

    def apikey_user(self, digest: str) -> str | None:
        """The user of the API key with this digest, or None. One HGET."""
        value = self.redis.hget(self.keys.apikey(digest), "username")
        return None if value is None else _text(value)

    def delete_apikey(self, digest: str) -> bool:
        """Revoke the key; True when it existed."""
        return bool(
            self._delete_key(
                keys=[self.keys.apikey(digest), self.keys.apikey_index], args=[digest]
            )
        )

    def set_apikey_user(self, digest: str, expected: str, username: str) -> int:
        """Give the key to `username` if it still belongs to `expected`.

        Returns 1 done, 0 key gone, -1 changed meanwhile, -2 no such user.
        """
        return int(
            self._set_key_user(
                keys=[self.keys.apikey(digest), self.keys.user(username)],
                args=[expected, username],
            )
        )

    def iter_apikeys(self, after: str | None) -> Iterator[ApiKey]:
        """API keys by digest, strictly after `after`; for lists."""
        start = "-" if after is None else "(" + after
        while True:
            digests = [
                _text(d)
                for d in self.redis.zrangebylex(
                    self.keys.apikey_index, start, "+", 0, BATCH
                )
            ]
            for digest in digests:
                key = self.get_apikey(digest)
                if key is not None:
                    yield key
            if len(digests) < BATCH:
                return
            start = "(" + digests[-1]

    def configured_key(self) -> str | None:
        """The digest of the STASHD_API_KEY registered last, if any."""
        value = self.redis.get(self.keys.configured_key)
        return None if value is None else _text(value)

    def set_configured_key(self, digest: str | None) -> None:
        if digest is None:
            self.redis.delete(self.keys.configured_key)
        else:
            self.redis.set(self.keys.configured_key, digest)

    # Tokens

    def put_tokens(
        self,
        access: str,
        refresh: str | None,
        username: str,
        expires_at: int,
        keep: int,
    ) -> None:
        """Store an access token (and a new refresh token) for `keep` seconds.

        The access token's record outlives its `expires_at`: /auth/token accepts an
        expired access token together with a valid refresh token.
        """
        with self.redis.pipeline(transaction=True) as pipe:
            key = self.keys.access_token(access)
            pipe.hset(key, mapping={"username": username, "expires_at": expires_at})
            pipe.expire(key, keep)
            if refresh is not None:
                pipe.set(self.keys.refresh_token(refresh), username, ex=keep)
            pipe.execute()

    def access_token(self, digest: str) -> AccessToken | None:
        """The access token with this digest, expired or not; None when unknown."""
        username, expires_at = self.redis.hmget(
            self.keys.access_token(digest), "username", "expires_at"
        )
        if username is None:
            return None
        return AccessToken(username=_text(username), expires_at=int(expires_at or 0))

    def refresh_user(self, digest: str) -> tuple[str, int] | None:
        """The user of the refresh token with this digest and its remaining seconds."""
        key = self.keys.refresh_token(digest)
        with self.redis.pipeline(transaction=True) as pipe:
            username, ttl = pipe.get(key).ttl(key).execute()
        if username is None or ttl <= 0:
            return None
        return _text(username), ttl

    def revoke_tokens(self, access: str | None, refresh: str | None) -> None:
        """Forget an access token and a refresh token (either may be None)."""
        keys = []
        if access is not None:
            keys.append(self.keys.access_token(access))
        if refresh is not None:
            keys.append(self.keys.refresh_token(refresh))
        if keys:
            self.redis.delete(*keys)
