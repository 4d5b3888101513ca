"""Scopes on API keys (spec archives.md section 2): what a key may do, optionally.

An entry is ``<area>:<right>`` or ``<area>:<right>:<namespace>``: area ``stashes``,
``assets``, ``archives`` or ``*``; right ``read`` or ``write`` (which includes
read); without a namespace, every namespace. A key without scopes has all its
user's rights, as Sensu keys do; bearer tokens always do. A scoped key may use only
the areas it names: every other route answers it 403.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from flask import g

from core.errors import Forbidden

AREAS = ("stashes", "assets", "archives", "*")
RIGHTS = ("read", "write")
# Flask blueprint -> the area its routes belong to.
BLUEPRINT_AREAS = {
    "assets": "assets",
    "archives": "archives",
    "archive_downloads": "archives",
}
REFUSED = "unauthorized to perform action"


class Scope(NamedTuple):
    area: str
    right: str
    namespace: str | None


class InvalidScope(ValueError):
    """An entry that is not a scope; the message is the client's reason."""


def parse(entry: str) -> Scope:
    """One entry. :raise InvalidScope: ``invalid scope <entry>``."""
    parts = entry.split(":") if isinstance(entry, str) else []
    if len(parts) not in (2, 3) or parts[0] not in AREAS or parts[1] not in RIGHTS:
        raise InvalidScope(f"invalid scope {entry}")
    if len(parts) == 3 and not parts[2]:
        raise InvalidScope(f"invalid scope {entry}")
    return Scope(parts[0], parts[1], parts[2] if len(parts) == 3 else None)


def check_all(entries: Iterable[str]) -> list[str]:
    """The entries, each valid. :raise InvalidScope: the first one that is not."""
    entries = list(entries)
    for entry in entries:
        parse(entry)
    return entries


def allows(
    scopes: list[str] | None, area: str, right: str, namespace: str | None
) -> bool:
    """True when `scopes` grant `right` on `area` in `namespace` (None: a route
    across namespaces, which needs an entry without one). No scopes: everything."""
    if not scopes:
        return True
    for entry in scopes:
        scope = parse(entry)
        if scope.area not in (area, "*"):
            continue
        if right == "write" and scope.right != "write":
            continue
        if scope.namespace is None or scope.namespace == namespace:
            return True
    return False


def current() -> list[str] | None:
    """The scopes of this request's key (None: unrestricted)."""
    return g.get("scopes") or None


def require(area: str, right: str, namespace: str | None) -> None:
    """:raise Forbidden: this request's key lacks the right."""
    if not allows(current(), area, right, namespace):
        raise Forbidden(REFUSED)


def require_unscoped() -> None:
    """Administrator-only work needs a key without scopes or a token.

    :raise Forbidden:
    """
    if current():
        raise Forbidden(REFUSED)


def right_of(method: str) -> str:
    """The right an HTTP method needs: reads read, everything else writes."""
    return "read" if method in ("GET", "HEAD", "OPTIONS") else "write"


def check_route(
    scopes: list[str] | None, blueprint: str | None, method: str, namespace: str | None
) -> None:
    """The scope check every Sensu Go route makes after credentials.

    :raise Forbidden: a scoped key outside its areas or namespaces.
    """
    if not scopes:
        return
    area = BLUEPRINT_AREAS.get(blueprint or "")
    if area is None or not allows(scopes, area, right_of(method), namespace):
        raise Forbidden(REFUSED)


def redacts(namespace: str) -> bool:
    """True when asset header values are secrets to this request's key (19.2): it
    has scopes, and none grants ``assets:write`` in `namespace`."""
    scopes = current()
    return bool(scopes) and not allows(scopes, "assets", "write", namespace)
