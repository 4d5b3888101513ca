"""Credentials as values: Basic headers parsed, secrets digested, passwords hashed.

Passwords are kept as salted scrypt hashes, slow by design: `Hasher` runs the checks
against them, never more at once than the machine has cores (spec stashes.md 17.3).
Keys and tokens are random secrets, stored as their SHA-256 digest only: they carry
enough entropy that a fast hash cannot be reversed, and a lookup by digest reveals
nothing through timing about the secret itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

from core import base64url


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


def cores() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Hash(NamedTuple):
    """A password to check against a stored hash (None: no such user)."""

    password: bytes
    stored: str | None


class Hasher:
    """Runs password checks, at most `slots` at once in this process.

    Server threads call `verify` and wait their turn; an event loop hands the check
    to `pool`, whose threads wait instead, so the loop serves others meanwhile.
    """

    def __init__(self, slots: int | None = None) -> None:
        self.slots = slots or cores()
        self._turns = threading.BoundedSemaphore(self.slots)
        self._pool: ThreadPoolExecutor | None = None
        self._making = threading.Lock()

    def verify(self, job: Hash) -> bool:
        """`verify_password` for `job`, once a slot is free."""
        with self._turns:
            return verify_password(job.password, job.stored)

    def pool(self) -> ThreadPoolExecutor:
        """The threads an event loop runs `verify` on; made in the process that
        first asks (a worker, never the process that forks them)."""
        if self._pool is None:
            with self._making:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(
                        self.slots, thread_name_prefix="scrypt"
                    )
        return self._pool
