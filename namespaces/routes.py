"""The Sensu Go 6.x namespaces API (spec assets.md section 11). HTTP only.

Every route needs an API key or an access token, checked before anything else;
unknown paths and methods are answered before that (`accounts.require_user`).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request

from accounts import require_user
from core import strictjson
from core.errors import BadRequest, Conflict, NotFound
from core.http import JSONResponse, json_response
from namespaces.schemas import namespace_problem, namespace_schema
from namespaces.store import DeleteOutcome, NamespaceStore
from redisio.clients import get_client
from sensugo.http import empty, read_merge_patch, read_object, selected, with_continue
from sensugo.paging import parse_list_query, take_page
from sensugo.schemas import without_nulls

bp = Blueprint("namespaces", __name__)
bp.before_request(require_user)


def _namespaces() -> NamespaceStore:
    return current_app.extensions["namespaces"]


def _namespace_json(ns: str) -> dict[str, str]:
    return {"name": ns}


def _namespace_name(body: dict[str, Any]) -> str:
    name = namespace_schema.load(body).get("name") or ""
    problem = namespace_problem(name)
    if problem is not None:
        raise BadRequest(f"namespace name {problem}")
    return name


@bp.get("/namespaces")
def list_namespaces() -> JSONResponse:
    """Namespaces by name, paged and filtered (``namespace.name``)."""
    query = parse_list_query(request.args)
    keep = selected(query, lambda ns: {}, lambda ns: {"namespace.name": ns})
    page, more = get_client().drive(
        take_page(_namespaces().batches(query.after), query.limit, keep)
    )
    body = strictjson.dumps([_namespace_json(ns) for ns in page])
    return with_continue(page, more, lambda ns: ns, body)


@bp.post("/namespaces")
def create_namespace() -> JSONResponse:
    """Create a namespace. :raise 409: it exists."""
    name = _namespace_name(read_object())
    if not get_client().drive(_namespaces().create(name)):
        raise Conflict()
    return empty(201)


@bp.get("/namespaces/<ns>")
def get_namespace(ns: str) -> JSONResponse:
    """One namespace. :raise 404:"""
    if not get_client().run(_namespaces().exists(ns)):
        raise NotFound()
    return json_response(_namespace_json(ns))


@bp.put("/namespaces/<ns>")
def put_namespace(ns: str) -> JSONResponse:
    """Create the namespace, or keep it; the body's name must be the URL's."""
    body = read_object()
    name = namespace_schema.load(body).get("name") or ""
    if name != ns:
        raise BadRequest(
            f"the name of the resource ({name}) does not match the name of the URI "
            f"({ns})"
        )
    get_client().drive(_namespaces().create(_namespace_name(body)))
    return empty(201)


@bp.patch("/namespaces/<ns>")
def patch_namespace(ns: str) -> JSONResponse:
    """A merge patch that can change nothing: a namespace is only its name."""
    patch = read_merge_patch()
    name = namespace_schema.load(without_nulls(patch)).get("name")
    if name and name != ns:
        raise BadRequest(
            f"the name of the resource ({name}) does not match the name in the URI "
            f"({ns})"
        )
    if not get_client().run(_namespaces().exists(ns)):
        raise NotFound()
    return json_response(_namespace_json(ns))


@bp.delete("/namespaces/<ns>")
def delete_namespace(ns: str) -> JSONResponse:
    """Delete an empty namespace. :raise 404: :raise 409: it still holds assets."""
    outcome = get_client().drive(_namespaces().delete(ns))
    if outcome is DeleteOutcome.ABSENT:
        raise NotFound()
    if outcome is DeleteOutcome.NOT_EMPTY:
        raise Conflict("resource is invalid: namespace is not empty")
    return empty(204)
