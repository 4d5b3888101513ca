"""Archive hosting: the tarballs assets name, uploaded and served by stashd (spec
archives.md). ``bp`` is the management API under ``/api/core/v2``, ``downloads``
the download routes at ``/archives/...``, ``cli`` the ``archives`` commands."""

from archives import (  # noqa: F401 - they register the routes
    bundle_routes,
    lists,
    mirror_routes,
    routes,
    scan_routes,
    serve,
    share_routes,
)
from archives.bundle_cli import bundle
from archives.cli import cli
from archives.web import ArchiveId, bp, downloads

__all__ = ["ArchiveId", "bp", "cli", "downloads"]

cli.add_command(bundle)
