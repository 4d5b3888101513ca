"""What silencing request bodies must look like, and the two views of an entry.

One registry, two views (spec silenced.md section 12, D1): an entry is stored with
the union of both APIs' fields, and shown in either API's shape (`views`). Each API
checks its own syntax on writes: section 3 rules on the
1.x routes, section 9 rules on the Go routes. ``null``, absent and ``*`` are one
thing in a name (D4), and ``*:*`` is refused by both.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

from core.config_error import ConfigError
from core.errors import BadRequest
from silenced.store import Write

# Sensu 1.x's body rules (Ruby's \w is ASCII there).
V1_SUBSCRIPTION = re.compile(r"[A-Za-z0-9_.:\-]+")
V1_CHECK = re.compile(r"[A-Za-z0-9_.\-]+")
# Sensu Go's: at most one ":" in a subscription, any number in a check.
GO_SUBSCRIPTION = re.compile(r"[A-Za-z0-9_.\-]+(:?[A-Za-z0-9_.\-]+)?")
GO_CHECK = re.compile(r"[A-Za-z0-9_.\-:]+")
# Namespace names as the assets API makes them (no braces: they are hash tags).
NAMESPACE = re.compile(r"[A-Za-z0-9_.\-:]+")

MAX_TTL = 2**31 - 1  # the largest TTL Redis takes, in seconds
MAX_BEGIN = 2**53 - 1  # integers JSON clients agree on
MAX_INT64 = 2**63 - 1


class Policy(NamedTuple):
    """The expiry policy (D3): both 0 (off) unless the operator sets them."""

    max_seconds: int = 0
    default_seconds: int = 0

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> Policy:
        return cls(config["SILENCED_MAX_SECONDS"], config["SILENCED_DEFAULT_SECONDS"])

    def expire(self, expire: int) -> int:
        """The lifetime an entry gets. :raise BadRequest: longer than the maximum."""
        if expire <= 0 and self.default_seconds:
            expire = self.default_seconds
        if self.max_seconds and (expire <= 0 or expire > self.max_seconds):
            raise BadRequest(
                f"expire exceeds the maximum of {self.max_seconds} seconds"
            )
        return expire


def name_of(subscription: str, check: str) -> str:
    """The name of an entry: ``<subscription>:<check>``, ``*`` for an absent side."""
    return f"{subscription or '*'}:{check or '*'}"


def side(value: str | None) -> str:
    """A subscription or check as stored: null, "" and "*" are all "absent" ("")."""
    return "" if value is None or value == "*" else value


def encodable(value: str, key: str) -> str:
    # JSON can carry lone surrogates ("\ud800"); Redis keeps UTF-8 only.
    try:
        value.encode()
    except UnicodeEncodeError:
        raise BadRequest(f"{key} must be valid Unicode text") from None
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# Sensu 1.x


def _v1_string(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"{key} must be a string or null")
    return None if value is None else encodable(value, key)


def _v1_integer(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is not None and not _is_int(value):
        raise BadRequest(f"{key} must be an integer or null")
    return value


def _v1_boolean(body: dict[str, Any], key: str) -> bool | None:
    value = body.get(key)
    if value is not None and not isinstance(value, bool):
        raise BadRequest(f"{key} must be true, false or null")
    return value


def _v1_check(body: dict[str, Any]) -> str | None:
    check = _v1_string(body, "check")
    if check is not None and not V1_CHECK.fullmatch(check):
        raise BadRequest("check must match [A-Za-z0-9_.-]+")
    return check


def load_v1_silence(body: dict[str, Any], policy: Policy) -> tuple[str, Write]:
    """The name and write of a ``POST /silenced`` body (section 3; unknown keys are
    ignored, null is absent). :raise BadRequest: with the rule that failed.
    """
    subscription = _v1_string(body, "subscription")
    if subscription is not None and not V1_SUBSCRIPTION.fullmatch(subscription):
        raise BadRequest("subscription must match [A-Za-z0-9_.:-]+")
    check = _v1_check(body)
    reason = _v1_string(body, "reason")
    creator = _v1_string(body, "creator")
    begin = _v1_integer(body, "begin")
    expire = _v1_integer(body, "expire") or 0
    eor = _v1_boolean(body, "expire_on_resolve") or False
    if not subscription and not check:
        raise BadRequest("subscription or check is required")
    if begin is not None and abs(begin) > MAX_BEGIN:
        raise BadRequest(f"begin must be between -{MAX_BEGIN} and {MAX_BEGIN}")
    expire = policy.expire(expire)
    if expire > 0 and expire + max(0, (begin or 0) - int(time.time())) > MAX_TTL:
        raise BadRequest("expire too large")
    fields = {"sub": subscription or "", "check": check or "", "eor": str(int(eor))}
    for key, value in (("reason", reason), ("creator", creator)):
        if value is not None:
            fields[key] = value
    write = Write(_without_empty_sides(fields), max(expire, 0), begin, "v1")
    return name_of(subscription or "", check or ""), write


def _without_empty_sides(fields: dict[str, str]) -> dict[str, str]:
    # An absent side is an absent field: the views tell null from "".
    return {k: v for k, v in fields.items() if v or k not in ("sub", "check")}


class Clear(NamedTuple):
    """What a ``POST /silenced/clear`` asks: one name, or (all) every entry whose
    sides are the given ones (None: any)."""

    name: str | None
    subscription: str | None
    check: str | None


def load_v1_clear(body: dict[str, Any]) -> Clear:
    """A ``POST /silenced/clear`` body (section 4.4, D8). :raise BadRequest:"""
    given_id = _v1_string(body, "id")
    subscription = _v1_string(body, "subscription")
    check = _v1_check(body)
    everything = _v1_boolean(body, "all") or False
    if given_id is None and not subscription and not check:
        raise BadRequest("id, subscription or check is required")
    if everything:
        if given_id is not None:
            raise BadRequest("all clears by subscription and check, not by id")
        return Clear(None, subscription or None, check or None)
    if given_id is not None:
        return Clear(given_id, None, None)
    return Clear(name_of(subscription or "", check or ""), None, None)


def load_v1_import(value: Any, pttl: int) -> tuple[str, Write]:
    """The name and write of an entry a Sensu 1.x Redis holds, `pttl` ms left (< 0:
    none); ``begin`` and ``timestamp`` may be missing (Sensu < 1.2).
    :raise BadRequest: a value that is not such an entry."""
    if not isinstance(value, dict):
        raise BadRequest("not a JSON object")
    subscription = _v1_string(value, "subscription")
    check = _v1_string(value, "check")
    if not side(subscription) and not side(check):
        raise BadRequest("subscription or check is required")
    begin = _v1_integer(value, "begin")
    created = _v1_integer(value, "timestamp")
    if begin is not None and abs(begin) > MAX_BEGIN:
        raise BadRequest("begin is out of range")
    if created is not None and not 0 <= created <= MAX_BEGIN:
        created = None
    fields = {
        "sub": side(subscription),
        "check": side(check),
        "eor": str(int(_v1_boolean(value, "expire_on_resolve") or False)),
    }
    for key in ("reason", "creator"):
        text = _v1_string(value, key)
        if text is not None:
            fields[key] = text
    if pttl > 0:
        write = Write(
            _without_empty_sides(fields), -(-pttl // 1000), begin, "ttl", pttl, created
        )
    else:
        write = Write(_without_empty_sides(fields), 0, begin, "v1", 0, created)
    return name_of(fields["sub"], fields["check"]), write


# Sensu Go


# The Go type of each known key: its decoder refuses any other JSON type.
_GO_TYPES = {
    "expire": "int64",
    "expire_on_resolve": "bool",
    "creator": "string",
    "check": "string",
    "reason": "string",
    "subscription": "string",
    "begin": "int64",
    "expire_at": "int64",
}
_GO_META_TYPES = {
    "name": "string",
    "namespace": "string",
    "labels": "map[string]string",
    "annotations": "map[string]string",
    "created_by": "string",
}


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return f"number {value}"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _go_value(value: Any, go_type: str, path: str) -> Any:
    """`value` decoded as Go decodes into `go_type`; null is the zero value."""
    if value is None:
        return {"string": "", "bool": False, "int64": 0}.get(go_type, {})
    ok = {
        "string": isinstance(value, str),
        "bool": isinstance(value, bool),
        "int64": _is_int(value) and abs(value) <= MAX_INT64,
        "map[string]string": isinstance(value, dict)
        and all(isinstance(v, str) for v in value.values()),
    }[go_type]
    if not ok:
        raise BadRequest(
            f"json: cannot unmarshal {_json_type(value)} into Go struct field "
            f"Silenced.{path} of type {go_type}"
        )
    if go_type == "map[string]string":
        for key, text in value.items():
            encodable(key, path)
            encodable(text, path)
    elif go_type == "string":
        encodable(value, path)
    return value


def decode_go(body: Any) -> dict[str, Any]:
    """A Sensu Go body with every known key decoded (unknown keys ignored).

    :raise BadRequest: not an object, or a known key of the wrong JSON type.
    """
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    out = {key: _go_value(body.get(key), t, key) for key, t in _GO_TYPES.items()}
    meta = body.get("metadata")
    if meta is not None and not isinstance(meta, dict):
        raise BadRequest(
            f"json: cannot unmarshal {_json_type(meta)} into Go struct field "
            "Silenced.metadata of type v2.ObjectMeta"
        )
    meta = meta or {}
    out["metadata"] = {
        key: _go_value(meta.get(key), t, "metadata." + key)
        for key, t in _GO_META_TYPES.items()
    }
    return out


def load_go_silence(
    decoded: dict[str, Any], user: str, policy: Policy
) -> tuple[str, Write]:
    """The name and write of a decoded Sensu Go body, after Sensu's Prepare and
    Validate (section 9 steps 3-4). :raise BadRequest: with Sensu's reason.
    """
    subscription, check = side(decoded["subscription"]), side(decoded["check"])
    if not subscription and not check:
        raise BadRequest("must provide check or subscription")
    if subscription and not GO_SUBSCRIPTION.fullmatch(subscription):
        raise BadRequest("Subscription cannot contain spaces or special characters")
    if check and not GO_CHECK.fullmatch(check):
        raise BadRequest("Check cannot contain spaces or special characters")
    begin = decoded["begin"] or None  # 0: now, as Sensu's Prepare does
    if begin is not None and abs(begin) > MAX_BEGIN:
        raise BadRequest(f"begin must be between -{MAX_BEGIN} and {MAX_BEGIN}")
    expire = policy.expire(decoded["expire"])
    start = begin if begin is not None and begin > 0 else int(time.time())
    if expire > 0 and start + expire - int(time.time()) > MAX_TTL:
        raise BadRequest("expire too large")
    meta = decoded["metadata"]
    fields = {
        "sub": subscription,
        "check": check,
        "eor": str(int(decoded["expire_on_resolve"])),
        "creator": user,  # the authenticated user, whatever the body says (D10)
        "created_by": user,
    }
    if decoded["reason"]:
        fields["reason"] = decoded["reason"]
    for key in ("labels", "annotations"):
        if meta[key]:
            fields[key] = _compact(meta[key])
    write = Write(_without_empty_sides(fields), max(expire, 0), begin, "go")
    return name_of(subscription, check), write


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def check_settings(config: Mapping[str, Any]) -> None:
    """Refuse silenced settings stashd cannot run with, naming the variable.

    :raise ConfigError:
    """
    ns = config["SILENCED_V1_NAMESPACE"]
    if not isinstance(ns, str) or not NAMESPACE.fullmatch(ns):
        raise ConfigError(
            "STASHD_SILENCED_V1_NAMESPACE must be a namespace name "
            f"(A-Z a-z 0-9 _ . : -), not {ns!r}"
        )
    for name in ("SILENCED_MAX_SECONDS", "SILENCED_DEFAULT_SECONDS"):
        value = config[name]
        if not _is_int(value) or not 0 <= value <= MAX_TTL:
            raise ConfigError(f"STASHD_{name} must be an integer from 0 to {MAX_TTL}")
    most, default = config["SILENCED_MAX_SECONDS"], config["SILENCED_DEFAULT_SECONDS"]
    if most and default > most:
        raise ConfigError(
            "STASHD_SILENCED_DEFAULT_SECONDS must not exceed "
            "STASHD_SILENCED_MAX_SECONDS"
        )
