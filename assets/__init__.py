"""The Sensu Go 6.x assets API (``bp``); namespaces are the `namespaces` package's."""

from assets.routes import AssetName, bp

__all__ = ["AssetName", "bp"]
