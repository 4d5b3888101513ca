"""The silenced APIs: Sensu 1.x (``bp``) and Sensu Go 6.x (``go_bp``), one registry."""

from silenced.go_routes import go_bp
from silenced.routes import bp

__all__ = ["bp", "go_bp"]
