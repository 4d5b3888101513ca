"""The Sensu 1.x silenced API in Flask (spec silenced.md sections 1-4, D2). HTTP only.

Ids, subscriptions and checks in the URL are matched after percent-decoding
(``/silenced/ids/test%3A%2A`` is ``test:*``), with Sensu's own patterns: a path that
fits none is 404 with an empty body, as in Sensu.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request
from flask.blueprints import BlueprintSetupState
from werkzeug.routing import BaseConverter

from core.http import JSONResponse, reply_response
from core.replies import Reply
from core.request import read_body
from redisio.calls import Steps
from redisio.clients import get_client
from sensu1.query import parse_list_query, query_args
from silenced import service
from silenced.schemas import Policy
from silenced.store import SilencedStore

bp = Blueprint("silenced", __name__)
# Every rule passes strict_slashes=True: "/silenced/" matches none of Sensu's
# patterns, so it is 404 (the app lets stash paths end in "/").


class V1Subscription(BaseConverter):
    """Sensu's ``[\\w\\.\\-:]+`` (ASCII), on the decoded path."""

    regex = r"[A-Za-z0-9_.:\-]+"


class V1Check(BaseConverter):
    """Sensu's ``[\\w\\.\\-]+`` (ASCII)."""

    regex = r"[A-Za-z0-9_.\-]+"


class V1Id(BaseConverter):
    """Sensu's ``[\\w\\.\\-\\*\\:]+`` (ASCII)."""

    regex = r"[A-Za-z0-9_.\-*:]+"


@bp.record_once
def _converters(state: BlueprintSetupState) -> None:
    state.app.url_map.converters.update(
        v1sub=V1Subscription, v1check=V1Check, v1id=V1Id
    )


def store() -> SilencedStore:
    """The app's silencing registry."""
    return current_app.extensions["silenced"]


def _body() -> bytes:
    return read_body(request.environ, current_app.config["MAX_BODY_BYTES"])


def drive(steps: Steps[Reply]) -> JSONResponse:
    """Run `steps` with the app's blocking client and answer its reply."""
    return reply_response(get_client().drive(steps))


def _query() -> Any:
    return parse_list_query(query_args(request.environ.get("QUERY_STRING", "")))


@bp.get("/silenced", strict_slashes=True)
def list_silenced() -> JSONResponse:
    """Every entry of the 1.x view by id; ``filter.*``, then ``limit``/``offset``."""
    return drive(service.list_v1(store(), _query()))


@bp.post("/silenced", strict_slashes=True)
def create_silenced() -> JSONResponse:
    """Create or replace an entry: 201, empty. :raise 400: with the rule broken."""
    policy = Policy.of(current_app.config)
    return drive(service.create_v1(store(), _body(), policy))


@bp.post("/silenced/clear", strict_slashes=True)
def clear_silenced() -> JSONResponse:
    """Clear one entry (or every matching one, ``"all": true``). :raise 404:"""
    return drive(service.clear_v1(store(), _body()))


@bp.get("/silenced/subscriptions/<v1sub:subscription>", strict_slashes=True)
def list_silenced_by_subscription(subscription: str) -> JSONResponse:
    """The entries whose subscription is exactly `subscription`."""
    return drive(service.list_v1(store(), _query(), subscription=subscription))


@bp.get("/silenced/checks/<v1check:check>", strict_slashes=True)
def list_silenced_by_check(check: str) -> JSONResponse:
    """The entries whose check is exactly `check` (not ``sub:*`` ones)."""
    return drive(service.list_v1(store(), _query(), check=check))


@bp.get("/silenced/ids/<v1id:name>", strict_slashes=True)
def get_silenced(name: str) -> JSONResponse:
    """One entry by its exact id. :raise 404: empty body."""
    return drive(service.get_v1(store(), name))


@bp.get("/silenced/match", strict_slashes=True)
def match_silenced() -> JSONResponse:
    """Is an event of ``check`` for ``client`` and its ``subscription``s silenced?"""
    query = request.environ.get("QUERY_STRING", "")
    return drive(service.match(store(), request.method, request.path, query))


@bp.post("/silenced/resolve", strict_slashes=True)
def resolve_silenced() -> JSONResponse:
    """An event resolved: clear the matching expire-on-resolve entries."""
    return drive(service.resolve(store(), request.path, _body()))
