"""Mirrored archives (spec archives.md 12): bytes fetched once from an allowed
upstream, verified against the SHA-512 they must have, then kept and served as any
other blob. No Flask; the routes are in `archives.mirror_routes`, the fetch itself
in `archives.upstream`, and when and where it runs (the background fetcher, its
lock, the requests waiting for it) in `archives.fetcher`.

Here: the mirror request, the record of a mirror before and after its bytes arrive,
its compare-and-set write, and `bring_in`, which puts the bytes in place.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

import marshmallow as ma
from marshmallow import fields, validate

from archives import checks, service
from archives.blobs import BlobStore
from archives.schemas import (
    Invalid,
    MirrorState,
    Origin,
    RecordView,
    Stored,
    check_filename,
    default_filename,
)
from archives.store import ArchiveStore, WriteOutcome
from archives.upstream import CHUNK, fetch
from core.errors import BadRequest, Conflict, NotFound
from redisio.clients import BlockingClient

# What a fetch brings in: (sha256, size, type, warnings).
Arrival = tuple[str, int, str, list[str]]


class MirrorSchema(ma.Schema):
    """The body of ``POST …/archives/mirror`` (12.1)."""

    class Meta:
        unknown = ma.EXCLUDE  # as every Sensu Go body: extra keys are ignored

    url = fields.String(required=True, validate=validate.Length(min=1))
    sha512 = fields.String(
        required=True, validate=validate.Regexp(r"^[0-9a-fA-F]{128}$")
    )
    headers = fields.Dict(
        keys=fields.String(), values=fields.String(), load_default=dict
    )
    filename = fields.String(load_default=None, allow_none=True)
    fetch = fields.String(load_default="now", validate=validate.OneOf(["now", "lazy"]))


mirror_schema = MirrorSchema()


class MirrorRequest(NamedTuple):
    url: str
    sha512: str  # lowercased
    headers: dict[str, str]
    filename: str | None
    lazy: bool


class Context(NamedTuple):
    """What a fetch needs, on a request's thread or its own."""

    client: BlockingClient
    store: ArchiveStore
    blobs: BlobStore
    config: Mapping[str, Any]
    # This process's scan worker, woken when fetched bytes are queued for a scan
    # (a download waits for the verdict, 12.2); None without one.
    scan_wake: threading.Event | None = None


def parse_request(body: Any) -> MirrorRequest:
    """A mirror request from a decoded JSON body. :raise BadRequest:"""
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    try:
        loaded = mirror_schema.load(body)
    except ma.ValidationError as exc:
        name, problems = next(iter(exc.normalized_messages().items()))
        raise BadRequest(f"{name}: {problems}") from None
    scheme = urlsplit(loaded["url"]).scheme
    if scheme not in ("http", "https") or not urlsplit(loaded["url"]).hostname:
        raise BadRequest("url must be an http or https URL")
    if loaded["filename"] is not None:
        try:
            check_filename(loaded["filename"])
        except Invalid as exc:
            raise BadRequest(str(exc)) from None
    return MirrorRequest(
        loaded["url"],
        loaded["sha512"].lower(),
        dict(loaded["headers"]),
        loaded["filename"],
        loaded["fetch"] == "lazy",
    )


def from_blob(blobs: BlobStore, archive_id: str) -> tuple[str, int, str, list[str]]:
    """(sha256, size, type, warnings) of a blob already in place: a mirror of
    bytes stashd holds is never fetched again. :raise OSError: it is gone."""
    sha256 = hashlib.sha256()
    size = 0
    head = b""
    path = blobs.path(archive_id)
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK):
            if len(head) < 512:
                head += chunk[: 512 - len(head)]
            sha256.update(chunk)
            size += len(chunk)
    kind = checks.sniff(head)
    return sha256.hexdigest(), size, kind, checks.inspect(path, kind)


def _filename(req: MirrorRequest) -> str:
    """The request's file name, else the URL's last segment if it makes one."""
    if req.filename:
        return req.filename
    last = unquote(urlsplit(req.url).path.rsplit("/", 1)[-1])
    try:
        return check_filename(last)
    except Invalid:
        return default_filename(req.sha512, "tar+gzip")


def pending_record(req: MirrorRequest, user: str, now: int) -> Stored:
    """The record of a mirror whose bytes are not in yet."""
    return Stored(
        sha256="",
        size=0,
        type="tar+gzip",
        filename=_filename(req),
        state="pending",
        origin=Origin(
            kind="mirror",
            url=req.url,
            headers=sorted(req.headers),
            fetched_at=None,
            error=None,
        ),
        warnings=[],
        created_at=now,
        updated_at=now,
        labels={},
        annotations={},
        created_by=user,
        mirror=MirrorState(headers=dict(req.headers), failed_at=None),
    )


def arrived(
    stored: Stored, sha256: str, size: int, kind: str, warnings: list[str], now: int
) -> Stored:
    """`stored` once its bytes are in place: servable, the secrets gone."""
    done = Stored(**stored)
    done.pop("mirror", None)
    done["sha256"], done["size"], done["type"] = sha256, size, kind
    done["warnings"] = warnings
    done["state"] = "unscanned"
    done["origin"] = Origin(**{**stored["origin"], "fetched_at": now, "error": None})
    done["updated_at"] = now
    return done


def failed(stored: Stored, reason: str, now: int) -> Stored:
    """`stored` after a failed fetch: 502 until the retry pause is over."""
    out = Stored(**stored)
    out["state"] = "failed"
    out["origin"] = Origin(**{**stored["origin"], "error": reason})
    mirror = stored.get("mirror") or MirrorState(headers={}, failed_at=None)
    out["mirror"] = MirrorState(headers=mirror["headers"], failed_at=now)
    out["updated_at"] = now
    return out


def due(stored: Stored, now: float, retry: int) -> bool:
    """True when a download should start a fetch of this record: it is pending,
    or failed longer than `retry` seconds ago."""
    if stored["state"] == "pending":
        return True
    if stored["state"] != "failed":
        return False
    state = stored.get("mirror")
    failed_at = (state["failed_at"] if state else None) or 0
    return now - failed_at >= retry


def put_record(
    client: BlockingClient,
    store: ArchiveStore,
    ns: str,
    archive_id: str,
    make: Callable[[RecordView | None], Stored | None],
) -> tuple[WriteOutcome, RecordView | None]:
    """Write ``make(current view or None)`` as the record, compare-and-set; the
    outcome and the record after. `make` returning None writes nothing.

    :raise NotFound: the namespace is gone. :raise Conflict: it kept changing.
    """
    for _ in range(service.ATTEMPTS):
        view: RecordView | None = client.run(store.get(ns, archive_id))
        stored = make(view)
        if stored is None:
            return WriteOutcome.UPDATED, view
        call = store.write(
            ns, archive_id, stored, service.new_etag(), view.etag if view else "", []
        )
        outcome = client.run(call)
        if outcome is WriteOutcome.NO_NAMESPACE:
            raise NotFound(f"namespace {ns} does not exist")
        if outcome is WriteOutcome.RECORD_CHANGED:
            continue
        final = client.run(store.get(ns, archive_id))
        return outcome, final
    raise Conflict("the archive kept changing; try again")


def bring_in(
    ctx: Context, url: str, headers: Mapping[str, str], archive_id: str
) -> Arrival:
    """The bytes of `archive_id` in place as a blob, fetched unless they are
    already: (sha256, size, type, warnings). :raise: as `fetch`."""
    if ctx.blobs.size(archive_id) is not None:
        try:
            return from_blob(ctx.blobs, archive_id)
        except (OSError, checks.Refused):
            pass  # gone meanwhile, or damaged: fetch it as if absent
    temp, kind, warnings = fetch(ctx.blobs, url, headers, archive_id, ctx.config)
    sha256, size = temp.sha256.hexdigest(), temp.size
    service.commit(ctx.blobs, temp)
    return sha256, size, kind, warnings
