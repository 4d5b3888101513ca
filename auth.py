"""Credentials: parsing the Authorization header and checking it in constant time."""

from __future__ import annotations

import base64
import hmac


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
