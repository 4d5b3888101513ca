"""Share token routes (spec archives.md 11): create, list and revoke the expiring
links to one archive's download. HTTP only; the download routes check tokens
(archives.serve)."""

from __future__ import annotations

import time
from urllib.parse import quote

from flask import current_app, g

from archives import shares
from archives.schemas import canonical_path
from archives.share_store import CreateOutcome, ShareStore
from archives.web import base_url, bp, find, need_namespace
from core import strictjson
from core.errors import BadRequest, NotFound
from core.http import JSONResponse, json_response
from redisio.clients import get_client
from sensugo.http import empty, read_raw

# Fresh ids tried before giving up (a clash is one in 62**8 per share held).
ATTEMPTS = 4


def share_store() -> ShareStore:
    return current_app.extensions["shares"]


def issue(
    ns: str, archive_id: str, seconds: int, note: str, live: bool = True
) -> tuple[shares.Share, str]:
    """Store a new share of `archive_id` for this request's user: it and its token.

    `live` false: for an upload, whose record is written next (6.1 ``share=``).
    :raise 404: :raise 410: (with `live`) the record is absent or trashed.
    """
    client = get_client()
    secret = shares.new_secret()
    now = int(time.time())
    for _ in range(ATTEMPTS):
        share = shares.Share(
            shares.new_id(),
            archive_id,
            shares.digest(secret),
            now + seconds,
            note,
            g.user,
            now,
        )
        outcome = client.run(share_store().create(ns, share, live))
        if outcome is CreateOutcome.CREATED:
            return share, f"{share.id}.{secret}"
        if outcome is not CreateOutcome.ID_TAKEN:
            find(ns, archive_id)  # trashed or purged meanwhile: 410 or 404
            raise NotFound(f"archive {archive_id} not found")
    raise BadRequest("no free share id; try again")


def revoke(ns: str, share: shares.Share) -> None:
    """Revoke `share` (an upload that made it failed)."""
    get_client().run(share_store().revoke(ns, share.archive, share.id))


@bp.post("/namespaces/<ns>/archives/<archive_id:archive_id>/shares")
def create_share(ns: str, archive_id: str) -> JSONResponse:
    """Create a share token: 201 with the token and its URL, shown this once.

    :raise 400: a bad body. :raise 404: :raise 410: the archive is trashed.
    """
    need_namespace(ns)
    raw = read_raw()
    loaded = shares.share_schema.load(strictjson.parse_object(raw) if raw else {})
    view = find(ns, archive_id)
    try:
        seconds, note = shares.lifetime(loaded, current_app.config)
    except shares.Invalid as exc:
        raise BadRequest(str(exc)) from None
    share, token = issue(ns, archive_id, seconds, note)
    path = canonical_path(ns, archive_id, view.stored["filename"])
    body = {"id": share.id, "token": token, **shares.share_json(share)}
    body["url"] = f"{base_url()}{path}?token={quote(token, safe='')}"
    return json_response(body, 201)


@bp.get("/namespaces/<ns>/archives/<archive_id:archive_id>/shares")
def list_shares(ns: str, archive_id: str) -> JSONResponse:
    """The archive's unexpired shares, without their tokens.

    :raise 404: :raise 410: the archive is trashed.
    """
    need_namespace(ns)
    find(ns, archive_id)
    now = int(time.time())
    found = get_client().run(share_store().shares(ns, archive_id, now))
    return json_response([shares.share_json(s) for s in found if s.expires_at > now])


@bp.delete("/namespaces/<ns>/archives/<archive_id:archive_id>/shares/<share_id>")
def revoke_share(ns: str, archive_id: str, share_id: str) -> JSONResponse:
    """Revoke a share at once. :raise 404: no such share of this archive."""
    need_namespace(ns)
    if not get_client().run(share_store().revoke(ns, archive_id, share_id)):
        raise NotFound(f"share {share_id} not found")
    return empty(204)
