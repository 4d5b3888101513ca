"""The request hook every Sensu Go blueprint registers: credentials first.

Registered with ``bp.before_request(require_user)``, it runs only for requests a
route of that blueprint matched, so unknown paths and methods stay 404/405 without
credentials, as in Sensu (spec assets.md section 2).
"""

from __future__ import annotations

from flask import current_app, g, request

from accounts import scopes
from accounts.authenticator import Authenticator
from core.request import WSGIRequest


def require_user() -> None:
    """Key or Bearer credentials, before body, validation or existence checks; the
    user is then ``g.user`` and a key's scopes ``g.scopes``, checked for this route
    (spec archives.md section 2). :raise Unauthorized: :raise TooManyRequests:
    :raise Forbidden: a scoped key outside its areas."""
    auth: Authenticator = current_app.extensions["auth"]
    g.user, g.scopes = auth.sensu_go_identity(WSGIRequest(request.environ))
    namespace = (request.view_args or {}).get("ns")
    scopes.check_route(g.scopes, request.blueprint, request.method, namespace)
