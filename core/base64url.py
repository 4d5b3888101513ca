"""base64url without padding (RFC 4648 section 5), as Sensu's tokens and our hashes
are written; decoding restores the padding that encoding left out.
"""

from __future__ import annotations

import base64


def encode(raw: bytes) -> str:
    """`raw` as base64url text without the trailing ``=``."""
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(text: str) -> bytes:
    """The bytes `text` encodes, with or without its padding.

    :raise ValueError: not base64url (binascii.Error), or not ASCII.
    """
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
