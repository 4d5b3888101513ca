"""Credentials: parsing the Authorization header and checking it in constant time.

Three kinds of credentials exist (spec assets.md section 9, stashes.md section 9):

* HTTP Basic: a user's name and password. The configured administrator
  (``STASHD_API_USER``) is checked in memory; other users against their stored
  scrypt hash, which is slow by design.
* ``Authorization: Key <api key>``: keys from the API keys API or ``STASHD_API_KEY``.
* ``Authorization: Bearer <access token>``: tokens issued by ``/auth``.

Keys and tokens are random secrets, stored as their SHA-256 digest only: they carry
enough entropy that a fast hash cannot be reversed, and a lookup by digest reveals
nothing through timing about the secret itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from typing import TYPE_CHECKING, Any

from core import base64url
from core.errors import Unauthorized

if TYPE_CHECKING:
    from accounts.store import AccountStore
    from redisio.clients import BlockingClient


def basic_credentials(header: str | None) -> tuple[bytes, bytes] | None:
    """User and password of a Basic Authorization header, or None when unusable.

    The decoded text is split at the first ``:`` only, so a password may hold ``:``
    (Sensu 1.x split at every colon, and such passwords never matched).
    """
    if not header:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except ValueError:  # binascii.Error, or non-ASCII text
        return None
    user, colon, password = decoded.partition(b":")
    if not colon:
        return None
    return user, password


class BasicAuth:
    """One configured user and password; `check` is constant-time in both."""

    def __init__(self, user: str, password: str) -> None:
        self._user = user.encode()
        self._password = password.encode()

    def check(self, header: str | None) -> bool:
        """True when `header` carries exactly the configured credentials."""
        credentials = basic_credentials(header)
        if credentials is None:
            return False
        user, password = credentials
        # Both comparisons always run, so timing tells nothing about which failed.
        user_ok = hmac.compare_digest(user, self._user)
        password_ok = hmac.compare_digest(password, self._password)
        return user_ok and password_ok


# scrypt's interactive-login parameters (16 MiB, tens of ms); stored with each hash,
# so raising them later leaves existing hashes valid.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
_SALT_BYTES = 16


def hash_password(password: str) -> str:
    """A salted scrypt hash of `password`, as ``scrypt$n$r$p$salt$hash``."""
    salt = secrets.token_bytes(_SALT_BYTES)
    derived = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    encoded = f"{base64url.encode(salt)}${base64url.encode(derived)}"
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encoded}"


# Checked against when a user does not exist, so that costs as much as a wrong
# password and timing does not tell which user names exist.
_UNKNOWN_USER = hash_password(secrets.token_urlsafe(16))


def verify_password(password: bytes, stored: str | None) -> bool:
    """True when `password` matches the `stored` hash; None counts as no match."""
    encoded = stored if stored is not None else _UNKNOWN_USER
    try:
        scheme, n, r, p, salt, expected = encoded.split("$")
        if scheme != "scrypt":
            return False
        derived = hashlib.scrypt(
            password,
            salt=base64url.decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(base64url.decode(expected)),
            maxmem=256 * 1024 * 1024,
        )
    except ValueError:
        return False
    return (
        hmac.compare_digest(derived, base64url.decode(expected)) and stored is not None
    )


def new_secret() -> str:
    """A random secret for a token: 256 bits, URL-safe."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """The SHA-256 hex digest a key or token is stored under."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


# How long a Basic verification of a stored user is remembered on the stash routes,
# and how many: a handler polling every few seconds pays scrypt once per window,
# also one polling with a wrong password.
BASIC_CACHE_SECONDS = 30.0
BASIC_CACHE_SIZE = 4096


class Authenticator:
    """Who a request is, from its Authorization header; users live in `accounts`,
    whose round trips `client` runs."""

    def __init__(
        self, accounts: AccountStore, client: BlockingClient, config: dict[str, Any]
    ) -> None:
        self.accounts = accounts
        self.client = client
        user, password = config["API_USER"], config["API_PASSWORD"]
        # The configured admin: checked without Redis on the hot stash routes.
        self.admin = BasicAuth(user, password) if user and password else None
        self.access_ttl: int = config["ACCESS_TOKEN_TTL"]
        self.refresh_ttl: int = config["REFRESH_TOKEN_TTL"]
        self._verified: dict[str, tuple[float, bool]] = {}
        self._lock = threading.Lock()

    @property
    def guards_stashes(self) -> bool:
        """True when the stash routes require credentials (an admin is configured)."""
        return self.admin is not None

    def allows_stashes(self, header: str | None) -> bool:
        """True when `header` may use the stash routes (stashes.md section 9).

        The configured admin's Basic credentials cost no Redis call; any other user's
        Basic credentials, an API key or an access token are looked up in Redis.
        """
        if self.admin is None or self.admin.check(header):
            return True
        if not header:
            return False
        if header.startswith(("Key ", "Bearer ")):
            return self._token_user(header) is not None
        return self._cached_basic_user(header)

    def _cached_basic_user(self, header: str) -> bool:
        # Keyed by a digest: the cache never holds a password, even in memory.
        key = digest(header)
        now = time.monotonic()
        deadline, verdict = self._verified.get(key, (0.0, False))
        if deadline > now:
            return verdict
        verdict = self.basic_user(header) is not None
        with self._lock:
            if len(self._verified) >= BASIC_CACHE_SIZE:
                self._verified.clear()
            self._verified[key] = (now + BASIC_CACHE_SECONDS, verdict)
        return verdict

    def basic_user(self, header: str | None) -> str | None:
        """The user whose Basic credentials `header` carries, checked against Redis."""
        credentials = basic_credentials(header)
        if credentials is None:
            return None
        user, password = credentials
        try:
            name = user.decode()
        except UnicodeDecodeError:
            return None
        stored = self.client.run(self.accounts.password_hash(name)) if name else None
        return name if verify_password(password, stored) else None

    def _token_user(self, header: str) -> str | None:
        if header.startswith("Key "):
            return self.client.run(self.accounts.apikey_user(digest(header[4:])))
        if header.startswith("Bearer "):
            token = self.client.run(self.accounts.access_token(digest(header[7:])))
            if token is not None and token["expires_at"] > time.time():
                return token["username"]
        return None

    def sensu_go_user(self, header: str | None) -> str:
        """The user behind a Key or Bearer header (spec assets.md section 9.1).

        :raise Unauthorized: no usable header, or a key or token that is not valid.
        """
        if not header or not header.startswith(("Key ", "Bearer ")):
            raise Unauthorized("bad credentials")
        user = self._token_user(header)
        if user is None:
            raise Unauthorized("invalid credentials")
        return user

    def bearer_token(self, header: str | None) -> tuple[str, str, int]:
        """(digest, user, expires_at) of the Bearer token in `header`, even expired.

        :raise Unauthorized: no Bearer header, or a token this server never issued.
        """
        if not header or not header.startswith("Bearer "):
            raise Unauthorized("bad credentials")
        token_digest = digest(header[7:])
        token = self.client.run(self.accounts.access_token(token_digest))
        if token is None:
            raise Unauthorized("invalid credentials")
        return token_digest, token["username"], token["expires_at"]

    def issue_tokens(self, user: str, refresh: str | None = None) -> dict[str, Any]:
        """New tokens for `user` in Sensu's shape; with `refresh`, only a new access
        token, and `refresh` echoed back (Sensu Go 6.x does not rotate it).

        :raise Unauthorized: `refresh` is not a valid refresh token of `user`.
        """
        keep = self.refresh_ttl
        new_refresh = None
        if refresh is None:
            refresh = new_refresh = new_secret()
        else:
            owner = self.client.run(self.accounts.refresh_user(digest(refresh)))
            if owner is None or owner[0] != user:
                raise Unauthorized("invalid refresh token")
            keep = owner[1]
        access = new_secret()
        expires_at = int(time.time()) + self.access_ttl
        call = self.accounts.put_tokens(
            digest(access),
            None if new_refresh is None else digest(new_refresh),
            user,
            expires_at,
            max(keep, self.access_ttl),
        )
        self.client.run(call)
        return {
            "access_token": access,
            "expires_at": expires_at,
            "refresh_token": refresh,
        }
