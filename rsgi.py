"""What granian imports under `make run`: ``rsgi:app``."""

from app import create_app
from server.background import start_archive_gc
from server.malloc import return_big_blocks
from server.rsgi import RSGIApp

return_big_blocks()
flask_app = create_app()
app = RSGIApp(flask_app)
start_archive_gc(flask_app)
