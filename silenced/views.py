"""The two views of a stored entry: Sensu 1.x's shape and Sensu Go's (section 12).

The 1.x view shows every key, ``null`` for what is absent, and ``expire`` counting
down; the Go view leaves empty strings out and shows the configured ``expire`` with
an absolute ``expire_at``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from silenced.store import Stored


def _number(fields: Mapping[str, str], key: str) -> int | None:
    text = fields.get(key)
    return None if text is None else int(text)


def _expire_at(entry: Stored) -> int:
    deadline = _number(entry.fields, "deadline")
    return 0 if deadline is None else math.ceil(deadline / 1000)


def v1_json(entry: Stored) -> dict[str, Any]:
    """`entry` in Sensu 1.x's shape (section 2): every key, null for what is absent;
    ``expire`` is the remaining lifetime rounded up, -1 without one."""
    fields = entry.fields
    remaining = -1 if entry.pttl < 0 else max(1, math.ceil(entry.pttl / 1000))
    return {
        "id": entry.name,
        "subscription": fields.get("sub") or None,
        "check": fields.get("check") or None,
        "reason": fields.get("reason"),
        "creator": fields.get("creator"),
        "begin": _number(fields, "begin"),
        "expire_on_resolve": fields.get("eor") == "1",
        "timestamp": _number(fields, "created"),
        "expire": remaining,
    }


def go_json(entry: Stored) -> dict[str, Any]:
    """`entry` in Sensu Go's shape (section 8): empty strings left out, ``expire``
    the configured lifetime (-1 without a deadline), ``begin`` never null."""
    fields = entry.fields
    meta: dict[str, Any] = {"name": entry.name, "namespace": entry.namespace}
    for key in ("labels", "annotations"):
        if key in fields:
            meta[key] = json.loads(fields[key])
    if fields.get("created_by"):
        meta["created_by"] = fields["created_by"]
    expire_at = _expire_at(entry)
    out: dict[str, Any] = {
        "metadata": meta,
        "expire": int(fields.get("expire") or 0) if expire_at else -1,
        "expire_on_resolve": fields.get("eor") == "1",
    }
    for key, field in (
        ("creator", "creator"),
        ("check", "check"),
        ("reason", "reason"),
        ("subscription", "sub"),
    ):
        if fields.get(field):
            out[key] = fields[field]
    begin = _number(fields, "begin")
    out["begin"] = begin if begin is not None else _number(fields, "created")
    out["expire_at"] = expire_at
    return out


def go_fields(item: dict[str, Any]) -> dict[str, str]:
    """What ``fieldSelector`` matches an entry (Go shape) against."""
    meta = item["metadata"]
    found = {
        "silenced.name": meta["name"],
        "silenced.namespace": meta["namespace"],
        "silenced.check": item.get("check", ""),
        "silenced.creator": item.get("creator", ""),
        "silenced.expire_on_resolve": str(item["expire_on_resolve"]).lower(),
        "silenced.subscription": item.get("subscription", ""),
    }
    for key, value in (meta.get("labels") or {}).items():
        found["silenced.labels." + key] = value
    return found
