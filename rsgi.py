"""What granian imports under `make run`: ``rsgi:app``."""

from app import create_app
from server.rsgi import RSGIApp

app = RSGIApp(create_app())
