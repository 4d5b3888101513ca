"""What WSGI servers import: ``wsgi:app``."""

from app import create_app
from server.malloc import return_big_blocks

return_big_blocks()
app = create_app()
