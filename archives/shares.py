"""Share tokens (spec archives.md 11): expiring links to one archive's download.

A token is ``<share id>.<secret>``: the id names the share, the secret (32 random
bytes, base64url without padding: no comma, no ``{{``, safe in URLs and asset
definitions) proves it. Only the secret's SHA-256 is stored, and it is compared
in constant time. No Flask, no Redis.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from collections.abc import Mapping
from typing import Any, NamedTuple

import marshmallow as ma
from marshmallow import fields

from core import base64url

SECRET_BYTES = 32
ID_LENGTH = 8
MAX_NOTE_BYTES = 1024
_ID_ALPHABET = string.ascii_letters + string.digits
SHARE_ID = re.compile(r"[A-Za-z0-9]{1,64}")
INVALID = "invalid or expired share token"


class Invalid(ValueError):
    """A share body that breaks a rule; the message is the client's reason."""


class ShareSchema(ma.Schema):
    """A share's body: both fields optional."""

    class Meta:
        unknown = ma.EXCLUDE  # as every Sensu Go body: extra keys are ignored

    expires_in = fields.Integer(strict=True, allow_none=True, load_default=None)
    note = fields.String(allow_none=True, load_default=None)


share_schema = ShareSchema()


class Share(NamedTuple):
    """A share as stored, without its secret."""

    id: str
    archive: str
    digest: str
    expires_at: int
    note: str
    created_by: str
    created_at: int


def lifetime(body: Mapping[str, Any], config: Mapping[str, Any]) -> tuple[int, str]:
    """(seconds, note) of a share body. :raise Invalid:"""
    seconds = body.get("expires_in")
    top = config["SHARE_MAX_SECONDS"]
    if seconds is None:
        seconds = config["SHARE_DEFAULT_SECONDS"]
    elif not 1 <= seconds <= top:
        raise Invalid(f"expires_in must be 1 to {top} seconds")
    note = body.get("note") or ""
    if len(note.encode("utf-8", "surrogatepass")) > MAX_NOTE_BYTES:
        raise Invalid(f"note must be at most {MAX_NOTE_BYTES} bytes")
    return seconds, note


def new_id() -> str:
    """A share id: letters and digits, unguessable enough to name, not to prove."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(ID_LENGTH))


def new_secret() -> str:
    return base64url.encode(secrets.token_bytes(SECRET_BYTES))


def digest(secret: str) -> str:
    """What is stored of a secret: its SHA-256, hex."""
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()


def split(token: str) -> tuple[str, str] | None:
    """(share id, secret) of a token, or None when it cannot be one."""
    share_id, dot, secret = token.partition(".")
    if not dot or not secret or not SHARE_ID.fullmatch(share_id):
        return None
    return share_id, secret


def opens(share: Share | None, secret: str, archive_id: str | None, now: int) -> bool:
    """True when `share` exists, is unexpired, its digest matches `secret`, and
    (given `archive_id`) it is that archive's."""
    if share is None or share.expires_at <= now:
        return False
    if not hmac.compare_digest(share.digest, digest(secret)):
        return False
    return archive_id is None or share.archive == archive_id


def share_json(share: Share) -> dict[str, Any]:
    """A share as lists show it: never its token or URL."""
    return {
        "id": share.id,
        "expires_at": share.expires_at,
        "note": share.note,
        "created_by": share.created_by,
        "created_at": share.created_at,
    }
