"""What WSGI servers import: ``wsgi:app``."""

from app import create_app
from server.malloc import limit_arenas

limit_arenas()
app = create_app()
