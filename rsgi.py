"""What granian imports under `make run`: ``rsgi:app``."""

from app import create_app
from server.background import start_archive_gc, start_archive_scans
from server.malloc import freeze_startup_objects, limit_arenas
from server.rsgi import RSGIApp

limit_arenas()
flask_app = create_app()
app = RSGIApp(flask_app)
start_archive_gc(flask_app)
start_archive_scans(flask_app)
freeze_startup_objects()
