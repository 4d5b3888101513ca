"""The Sensu Go 6.x silenced API in Flask (spec silenced.md sections 7-10). HTTP only.

Mounted under ``/api/core/v2``. Every route needs an API key or an access token,
checked before anything else; unknown paths are answered before that (404 without
credentials, as in Sensu). Lists ignore ``limit`` and ``continue`` and never send
``Sensu-Continue``, as Sensu's silenced lists do (sensuctl reads one response).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, current_app, g, request

from accounts.hooks import require_user
from core.errors import BadRequest
from core.http import JSONResponse
from sensugo.http import read_raw
from sensugo.selectors import SelectorError, matches, parse_all
from silenced import service
from silenced.routes import drive, store
from silenced.schemas import Policy
from silenced.store import Stored
from silenced.views import go_fields

go_bp = Blueprint("silenced_go", __name__)

ONE = "/namespaces/<ns>/silenced/<name>"


go_bp.before_request(require_user)


def _selected() -> Callable[[dict], bool] | None:
    """The ``labelSelector``/``fieldSelector`` predicate, None without selectors.

    :raise BadRequest: a selector that does not parse.
    """
    selectors = []
    for name in ("labelSelector", "fieldSelector"):
        try:
            selectors.append(parse_all(request.args.getlist(name)))
        except SelectorError as exc:
            raise BadRequest(f"failed to parse {name}: {exc}") from None
    labels, fields = selectors
    if not (labels or fields):
        return None

    def keep(item: dict) -> bool:
        found = item["metadata"].get("labels") or {}
        return matches(labels, found) and matches(fields, go_fields(item))

    return keep


def _with(field: str, value: str) -> Callable[[Stored], bool]:
    return lambda entry: entry.fields.get(field) == value


@go_bp.get("/namespaces/<ns>/silenced")
def list_silenced(ns: str) -> JSONResponse:
    """Every entry of `ns` by name; ``[]`` for a namespace that does not exist."""
    return drive(service.list_go(store(), ns, keep=_selected()))


@go_bp.post("/namespaces/<ns>/silenced")
def create_silenced(ns: str) -> JSONResponse:
    """Create an entry, named after its subscription and check. :raise 409:"""
    policy = Policy.of(current_app.config)
    return drive(service.write_go(store(), ns, read_raw(), g.user, policy))


@go_bp.get("/namespaces/<ns>/silenced/subscriptions/<subscription>")
def list_silenced_by_subscription(ns: str, subscription: str) -> JSONResponse:
    """The entries of `ns` whose subscription is exactly `subscription`."""
    return drive(service.list_go(store(), ns, _with("sub", subscription)))


@go_bp.get("/namespaces/<ns>/silenced/checks/<check>")
def list_silenced_by_check(ns: str, check: str) -> JSONResponse:
    """The entries of `ns` whose check is exactly `check`."""
    return drive(service.list_go(store(), ns, _with("check", check)))


@go_bp.get("/namespaces/<ns>/silenced/match")
def match_silenced(ns: str) -> JSONResponse:
    """Is an event of ``check`` for ``entity`` and its ``subscription``s silenced?"""
    query = request.environ.get("QUERY_STRING", "")
    return drive(service.match(store(), request.method, request.path, query))


@go_bp.post("/namespaces/<ns>/silenced/resolve")
def resolve_silenced(ns: str) -> JSONResponse:
    """An event resolved: clear the matching expire-on-resolve entries."""
    return drive(service.resolve(store(), request.path, read_raw()))


@go_bp.get(ONE)
def get_silenced(ns: str, name: str) -> JSONResponse:
    """One entry, with its ETag. :raise 404:"""
    return drive(service.get_go(store(), ns, name))


@go_bp.put(ONE)
def put_silenced(ns: str, name: str) -> JSONResponse:
    """Create or replace an entry: 201 either way. :raise 400: another name."""
    policy = Policy.of(current_app.config)
    return drive(service.write_go(store(), ns, read_raw(), g.user, policy, name))


@go_bp.delete(ONE)
def delete_silenced(ns: str, name: str) -> JSONResponse:
    """Delete an entry. :raise 404:"""
    return drive(service.delete_go(store(), ns, name))


@go_bp.get("/silenced")
def list_all_silenced() -> JSONResponse:
    """The entries of every namespace."""
    return drive(service.list_go_all(store(), keep=_selected()))


@go_bp.get("/silenced/checks/<check>")
def list_all_silenced_by_check(check: str) -> JSONResponse:
    """The entries of every namespace whose check is exactly `check`."""
    return drive(service.list_go_all(store(), _with("check", check)))
