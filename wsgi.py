"""What WSGI servers import: ``wsgi:app``."""

from app import create_app

app = create_app()
