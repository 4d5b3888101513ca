"""The Sensu 1.x API: stashes with TTLs, /health and /info."""

from stashes.routes import StashPath, bp

__all__ = ["StashPath", "bp"]
