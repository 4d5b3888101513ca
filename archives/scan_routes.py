"""The scan hook's route (spec archives.md 10): scan an archive again. HTTP only."""

from __future__ import annotations

from archives import scan
from archives.web import (
    bp,
    find,
    namespaces,
    need_namespace,
    record,
    scanning_on,
    scans,
    wake_scanner,
)
from core.errors import BadRequest
from core.http import JSONResponse, json_response
from redisio.clients import get_client


@bp.post("/namespaces/<ns>/archives/<archive_id:archive_id>/scan")
def scan_archive(ns: str, archive_id: str) -> JSONResponse:
    """Queue an archive's blob for another scan: 202 with the record, back in
    ``unscanned`` (in every namespace holding it).

    :raise 400: scanning is off. :raise 404: :raise 410: trashed.
    """
    need_namespace(ns)
    if not scanning_on():
        raise BadRequest("scanning is off")
    find(ns, archive_id)
    client = get_client()
    names = client.drive(namespaces().names())
    scan.rescan(client, scans(), names, archive_id)
    wake_scanner()
    return json_response(record(ns, archive_id, find(ns, archive_id)), 202)
