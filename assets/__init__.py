"""The Sensu Go 6.x assets API: assets and namespaces (``bp``)."""

from assets.routes import AssetName, bp

__all__ = ["AssetName", "bp"]
