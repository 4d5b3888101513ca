"""The Sensu Go 6.x API: assets, namespaces, API keys (``bp``); /auth (``auth_bp``)."""

from assets.auth_routes import bp as auth_bp
from assets.routes import AssetName, bp

__all__ = ["AssetName", "auth_bp", "bp"]
