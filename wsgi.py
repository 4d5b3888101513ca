"""What WSGI servers import: ``wsgi:app``."""

from app import create_app
from server.malloc import freeze_startup_objects, limit_arenas

limit_arenas()
app = create_app()
freeze_startup_objects()
