"""Users, API keys and access tokens: every API checks credentials through here.

``bp`` serves Sensu Go's ``/auth`` routes.
"""

from accounts.routes import bp

__all__ = ["bp"]
