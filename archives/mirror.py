"""Mirrored archives (spec archives.md 12): bytes fetched once from an allowed
upstream, verified against the SHA-512 they must have, then kept and served as any
other blob. No Flask; the routes are in `archives.mirror_routes`.

A ``lazy`` mirror is fetched by its first download: one process at a time per id
takes a Redis lock and fetches on a thread of its own (`start_fetch`), while every
download of it waits on the record (`pull_through`), so twenty agents asking at once
make one upstream request, and none gets a byte before the SHA-512 matched. A
worker that dies mid-fetch leaves the record ``pending`` and its lock expiring: the
next download starts again.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import secrets
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

import marshmallow as ma
from marshmallow import fields, validate

from archives import checks, scan, service
from archives.blobs import BlobStore, StorageFailed, TempBlob
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
from core.errors import ApiError, BadRequest, Conflict, Forbidden, NotFound
from redisio.clients import BlockingClient

log = logging.getLogger(__name__)

# Go's client follows at most 10 redirects; the spec allows 10 requests in all.
MAX_REQUESTS = 10
CHUNK = 1 << 20
# One socket operation waits at most this long; the whole fetch is bounded by
# STASHD_MIRROR_TIMEOUT_SECONDS, checked between reads.
SOCKET_TIMEOUT = 10.0
# The fetch lock's life; the fetching thread renews it every LOCK_RENEW seconds,
# so a worker killed mid-fetch frees its id within LOCK_SECONDS for the next
# download to fetch again.
LOCK_SECONDS = 30
LOCK_RENEW = 5.0
RETRY_AFTER = "30"
# Few fetches at once per process: each is bounded, and waiting downloads hold
# request threads, not these.
_FETCHERS = ThreadPoolExecutor(4, thread_name_prefix="mirror")
# The fetches running in this process, by id: set when one ends, so the downloads
# waiting here wake at once (those of other processes poll the record).
_RUNNING: dict[str, threading.Event] = {}


class UpstreamFailed(ApiError):
    """502 ``upstream fetch failed: <reason>``."""

    status, kind = 502, 0

    def __init__(self, reason: str) -> None:
        super().__init__(f"upstream fetch failed: {reason}")
        self.reason = reason


class UpstreamTimeout(ApiError):
    status, kind, default = 504, 8, "upstream fetch timed out"


class StillFetching(ApiError):
    """503 with ``Retry-After``: a download waited its time for a pull-through."""

    status, kind, default = 503, 8, "archive is still being fetched from upstream"

    def __init__(self) -> None:
        super().__init__()
        self.headers.append(("Retry-After", RETRY_AFTER))


class WrongBytes(BadRequest):
    """400: the upstream's bytes are not the archive asked for."""


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


def host_allowed(url: str, allowed: str) -> bool:
    """True when `url` is http(s) on a host of `allowed` (comma-separated host or
    host:port entries, or ``*``); an empty `allowed` allows nothing."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    entries = {e.strip().lower() for e in allowed.split(",") if e.strip()}
    if "*" in entries:
        return True
    host = parts.hostname.lower()
    try:
        port = parts.port
    except ValueError:
        return False
    return host in entries or (port is not None and f"{host}:{port}" in entries)


def check_host(url: str, config: Mapping[str, Any]) -> None:
    """:raise Forbidden: mirroring from `url`'s host is not allowed (12.1)."""
    if not host_allowed(url, config["MIRROR_ALLOWED_HOSTS"]):
        host = urlsplit(url).hostname or url
        raise Forbidden(f"mirroring from {host} is not allowed")


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Redirects as Go's client follows them, to allowed hosts only, with
    ``Authorization`` and ``Cookie`` dropped when the host changes."""

    # Go counts requests, not URLs: a loop is followed as far as a chain.
    max_redirections = max_repeats = MAX_REQUESTS - 1

    def __init__(self, allowed: str) -> None:
        self.allowed = allowed

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        if not host_allowed(newurl, self.allowed):
            host = urlsplit(newurl).hostname or newurl
            raise UpstreamFailed(f"redirected to {host}, which is not allowed")
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if (
            new is not None
            and urlsplit(newurl).hostname != urlsplit(req.full_url).hostname
        ):
            new.remove_header("Authorization")
            new.remove_header("Cookie")
        return new


def _opener(config: Mapping[str, Any]) -> urllib.request.OpenerDirector:
    context = ssl.create_default_context()
    if config["MIRROR_CA_FILE"]:
        context.load_verify_locations(config["MIRROR_CA_FILE"])
    # Proxies come from the environment (urllib's default ProxyHandler), as for agents.
    return urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=context),
        _Redirects(config["MIRROR_ALLOWED_HOSTS"]),
    )


def _request(url: str, headers: Mapping[str, str]) -> urllib.request.Request:
    request = urllib.request.Request(url)
    for name, value in headers.items():
        # Agents split each value on commas into lines of their own; one line of
        # the trimmed parts joined again means the same in HTTP.
        request.add_header(name, ", ".join(p.strip() for p in value.split(",")))
    # Never a compressed transfer: the hash is over the bytes as the upstream has them.
    request.add_header("Accept-Encoding", "identity")
    return request


def fetch(
    blobs: BlobStore,
    url: str,
    headers: Mapping[str, str],
    expected: str,
    config: Mapping[str, Any],
) -> tuple[TempBlob, str, list[str]]:
    """GET `url` into a temp file, check it is archive `expected` and passes 5.3:
    (temp, type, warnings). The caller commits the temp file.

    :raise UpstreamFailed: not 200, a network error, too large.
    :raise UpstreamTimeout: :raise WrongBytes: :raise BadRequest: refused bytes.
    """
    timeout = config["MIRROR_TIMEOUT_SECONDS"]
    limit = config["ARCHIVE_MAX_BYTES"]
    deadline = time.monotonic() + timeout
    log.info("mirror: fetching %s from %s", expected[:16], urlsplit(url).hostname)
    try:
        response = _opener(config).open(
            _request(url, headers), timeout=min(timeout, SOCKET_TIMEOUT)
        )
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code in (301, 302, 303, 307, 308):
            raise UpstreamFailed(f"more than {MAX_REQUESTS} requests") from None
        raise UpstreamFailed(f"upstream answered {exc.code}") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise UpstreamTimeout() from None
        raise UpstreamFailed(str(exc.reason)) from None
    except TimeoutError:
        raise UpstreamTimeout() from None
    except (OSError, http.client.HTTPException) as exc:
        raise UpstreamFailed(str(exc) or type(exc).__name__) from None
    with response:
        if response.status != 200:
            raise UpstreamFailed(f"upstream answered {response.status}")
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise UpstreamFailed(f"archive is larger than {limit} bytes")
        try:
            temp = blobs.temp()
        except OSError as exc:
            raise StorageFailed.of(exc) from None
        try:
            _receive(response, temp, deadline, limit)
            if temp.id != expected:
                raise WrongBytes(
                    f"upstream bytes have sha512 {temp.id}, expected {expected}"
                )
            kind, warnings = service.check_bytes(temp)
        except BaseException:
            temp.discard()
            raise
    return temp, kind, warnings


def _receive(
    response: http.client.HTTPResponse, temp: TempBlob, deadline: float, limit: int
) -> None:
    """The body into `temp`, in chunks of about `CHUNK`, within `deadline`."""
    pending = bytearray()
    try:
        while True:
            if time.monotonic() > deadline:
                raise UpstreamTimeout()
            # read1: what one socket read gives, so a slow drip meets the deadline.
            piece = response.read1(CHUNK)
            if piece:
                pending += piece
                if temp.size + len(pending) > limit:
                    raise UpstreamFailed(f"archive is larger than {limit} bytes")
            if len(pending) >= CHUNK or (not piece and pending):
                temp.write(bytes(pending))
                pending.clear()
            if not piece:
                temp.flush()
                return
    except TimeoutError:
        raise UpstreamTimeout() from None
    except (OSError, http.client.HTTPException) as exc:
        if isinstance(exc, StorageFailed):
            raise
        raise UpstreamFailed(str(exc) or type(exc).__name__) from None


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
) -> Any:
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


# Pull-through (12.2)


def start_fetch(ctx: Context, ns: str, archive_id: str) -> bool:
    """Fetch `archive_id` for the record of `ns` on a thread of this process,
    unless another process (or thread) holds its lock; True when started."""
    token = secrets.token_hex(8)
    if not ctx.client.run(ctx.store.mirror_lock(archive_id, token, LOCK_SECONDS)):
        return False
    done = _RUNNING[archive_id] = threading.Event()
    try:
        _FETCHERS.submit(_pull, ctx, ns, archive_id, token, done)
    except RuntimeError:  # the process is stopping
        _RUNNING.pop(archive_id, None)
        ctx.client.run(ctx.store.mirror_unlock(archive_id, token))
        return False
    return True


def _pull(
    ctx: Context, ns: str, archive_id: str, token: str, done: threading.Event
) -> None:
    """The background fetch: under the lock, bring the bytes in (once: a record
    no longer due, or bytes already here, cost no upstream request)."""
    keeper = threading.Thread(
        target=_keep_lock, args=(ctx, archive_id, token, done), daemon=True
    )
    keeper.start()
    try:
        view: RecordView | None = ctx.client.run(ctx.store.get(ns, archive_id))
        retry = ctx.config["MIRROR_RETRY_SECONDS"]
        if view is None or not due(view.stored, time.time(), retry):
            return
        origin = view.stored["origin"]
        state = view.stored.get("mirror")
        headers = state["headers"] if state else {}
        try:
            sha256, size, kind, warnings = bring_in(
                ctx, origin["url"] or "", headers, archive_id
            )
        except ApiError as exc:
            reason = exc.reason if isinstance(exc, UpstreamFailed) else exc.message
            log.warning("mirror: %s failed: %s", archive_id[:16], reason)
            _settle(ctx, ns, archive_id, lambda s, now: failed(s, reason, now))
            return
        log.info("mirror: %s fetched, %d bytes", archive_id[:16], size)
        _settle(
            ctx,
            ns,
            archive_id,
            lambda s, now: arrived(s, sha256, size, kind, warnings, now),
        )
        scan.after_arrival(ctx.client, ctx.store, ns, [archive_id], ctx.config)
    except Exception:
        log.exception("mirror: fetching %s failed", archive_id[:16])
    finally:
        try:
            ctx.client.run(ctx.store.mirror_unlock(archive_id, token))
        finally:
            if _RUNNING.get(archive_id) is done:
                del _RUNNING[archive_id]
            done.set()
            # Fetches are rare: no connection of this thread waits for the next.
            ctx.client.close()


def _keep_lock(
    ctx: Context, archive_id: str, token: str, done: threading.Event
) -> None:
    """Renew the fetch lock every LOCK_RENEW seconds until the fetch is done (or
    the lock is lost): whatever takes long, connecting, redirects, reading, the
    checks, the lock holds, and dies with the worker."""
    try:
        while not done.wait(LOCK_RENEW):
            try:
                renew = ctx.store.mirror_renew(archive_id, token, LOCK_SECONDS)
                if not ctx.client.run(renew):
                    return
            except Exception:  # Redis away for a moment: try again next turn
                log.warning("mirror: could not renew the lock of %s", archive_id[:16])
    finally:
        ctx.client.close()  # this thread ends: its connection with it


def _settle(ctx: Context, ns: str, archive_id: str, change: Any) -> None:
    """Write a fetch's outcome into the record, if it still waits for one."""

    def make(view: RecordView | None) -> Stored | None:
        # A record deleted (or done) meanwhile stays as it is: never revived here.
        if view is None or view.deleted_at is not None:
            return None
        if view.stored["state"] not in ("pending", "failed"):
            return None
        return change(view.stored, int(time.time()))

    try:
        put_record(ctx.client, ctx.store, ns, archive_id, make)
    except NotFound:
        pass  # the namespace went meanwhile: nothing to settle


def pull_through(
    ctx: Context, ns: str, archive_id: str, view: RecordView
) -> RecordView:
    """Wait for the bytes of a pending (or failed, due) mirrored record, starting
    its fetch if nobody has: the record once servable (or trashed meanwhile).

    :raise UpstreamFailed: the fetch failed (502). :raise StillFetching: past
    STASHD_MIRROR_WAIT_SECONDS (503). :raise NotFound: the record went.
    """
    wait = ctx.config["MIRROR_WAIT_SECONDS"]
    retry = ctx.config["MIRROR_RETRY_SECONDS"]
    deadline = time.monotonic() + wait
    pause = 0.02
    started = False
    while True:
        stored = view.stored
        if stored["state"] not in ("pending", "failed"):
            return view
        if not due(stored, time.time(), retry):
            raise UpstreamFailed(stored["origin"]["error"] or "unknown error")
        if not started:
            started = start_fetch(ctx, ns, archive_id)
        left = deadline - time.monotonic()
        if left <= 0:
            raise StillFetching()
        running = _RUNNING.get(archive_id)
        if running is not None:
            running.wait(min(pause, left))
        else:
            time.sleep(min(pause, left))
        pause = min(pause * 1.5, 0.25)
        found = ctx.client.run(ctx.store.get(ns, archive_id))
        if found is None:
            raise NotFound(f"archive {archive_id} not found")
        if found.deleted_at is not None:
            return found  # deleted meanwhile: the caller answers 410
        if found.stored["state"] == "failed" and stored["state"] == "pending":
            raise UpstreamFailed(found.stored["origin"]["error"] or "unknown error")
        view = found
