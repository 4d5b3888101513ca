"""Users, API keys and access tokens: every API checks credentials through here.

``bp`` serves Sensu Go's ``/auth`` routes, ``apikeys.bp`` the API keys API under
``/api/core/v2``; every Sensu Go blueprint registers `require_user`.
"""

from accounts.hooks import require_user
from accounts.routes import bp

__all__ = ["bp", "require_user"]
