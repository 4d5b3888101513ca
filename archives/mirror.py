"""Mirrored archives (spec archives.md 12): bytes fetched once from an allowed
upstream, verified against the SHA-512 they must have, then kept and served as any
other blob. No Flask; the routes are in `archives.mirror_routes`, the fetch itself
in `archives.upstream`.

A ``lazy`` mirror is fetched by its first download: one process at a time per id
takes a Redis lock and fetches on a thread of its own (`start_fetch`), while every
download of it waits on the record (`pull_through`), so twenty agents asking at once
make one upstream request, and none gets a byte before the SHA-512 matched. Under
granian a waiting download is parked on the event loop (core/park.py); elsewhere it
waits on its thread, in one of `WAIT_SLOTS`. A worker that dies mid-fetch leaves
the record ``pending`` and its lock expiring: the next download starts again.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

import marshmallow as ma
from marshmallow import fields, validate

from archives import checks, scan, service
from archives.blobs import BlobStore
from archives.schemas import (
    Invalid,
    MirrorState,
    Origin,
    RecordView,
    Stored,
    check_filename,
    default_filename,
    record_state,
)
from archives.store import ArchiveStore, WriteOutcome
from archives.upstream import CHUNK, UpstreamFailed, UpstreamTimeout, fetch
from core.errors import ApiError, BadRequest, Conflict, NotFound
from core.park import Park, WaitSlots
from redisio.clients import BlockingClient

log = logging.getLogger(__name__)

# The fetch lock's life; the fetching thread renews it every LOCK_RENEW seconds,
# so a worker killed mid-fetch frees its id within LOCK_SECONDS for the next
# download to fetch again.
LOCK_SECONDS = 30
LOCK_RENEW = 5.0
RETRY_AFTER = "30"
# Few fetches at once per process: each is bounded, and waiting downloads do not
# hold these.
_FETCHERS = ThreadPoolExecutor(4, thread_name_prefix="mirror")
# The fetches running in this process, by id: set when one ends, so the downloads
# waiting here wake at once (those of other processes poll the record).
_RUNNING: dict[str, threading.Event] = {}
# What a fetch brings in: (sha256, size, type, warnings).
Arrival = tuple[str, int, str, list[str]]
# The ``fetch=now`` fetches of this process, by job key: a parked request comes
# back for its outcome, and takes it out.
_JOBS: dict[str, Future[Arrival]] = {}
# Threads of this process that may wait for pull-throughs at once where the server
# cannot park a request: half of a gunicorn worker's (gunicorn.conf.py sets it
# from its `threads`); the other downloads get 503 at once, and the other routes
# keep threads to run on.
WAIT_SLOTS = WaitSlots(32)


class StillFetching(ApiError):
    """503 with ``Retry-After``: a download waited its time for a pull-through."""

    status, kind, default = 503, 8, "archive is still being fetched from upstream"

    def __init__(self) -> None:
        super().__init__()
        self.headers.append(("Retry-After", RETRY_AFTER))


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


# fetch=now (12.1, 12.3)

# Seconds a ``fetch=now`` request waits beyond STASHD_MIRROR_TIMEOUT_SECONDS (the
# fetch's own bound) for its turn on the fetcher, before 504.
NOW_MARGIN = 5.0


def fetch_now(
    ctx: Context,
    url: str,
    headers: Mapping[str, str],
    archive_id: str,
    park: Park | None = None,
) -> Arrival:
    """`bring_in` on the background fetcher, under the id's fetch lock (as a
    pull-through), while the request waits: parked with `park` (a request sent
    again must keep its body in ``park.notes``), else on its thread.

    :raise: as `fetch`; UpstreamTimeout past the wait. :raise StillFetching:
    no slot to wait in (without a park). :raise Parked:
    """
    notes = park.notes if park is not None else {}
    # A request may fetch several archives in turn (an asset's builds): each has
    # its own deadline, and what arrived stays for the request's next dispatch.
    arrived: dict[str, Arrival] = notes.setdefault("arrived", {})
    if archive_id in arrived:
        return arrived[archive_id]
    wait = ctx.config["MIRROR_TIMEOUT_SECONDS"] + NOW_MARGIN
    deadlines: dict[str, float] = notes.setdefault("deadlines", {})
    deadline = deadlines.setdefault(archive_id, time.monotonic() + wait)
    jobs: dict[str, str] = notes.setdefault("jobs", {})
    parked = False
    slot = None
    try:
        while True:
            job = jobs.get(archive_id)
            if job is None:
                job = _submit(ctx, url, headers, archive_id)
                if job is not None:
                    jobs[archive_id] = job
            future = _JOBS.get(job) if job is not None else None
            left = deadline - time.monotonic()
            waiting = future is None or not future.done()
            if park is None and waiting and slot is None:
                # A thread that waits holds a slot, as a pull-through's does: the
                # fetch goes on, and the request is answered at once.
                slot = WAIT_SLOTS.take()
                if slot is None:
                    raise StillFetching()
            if future is not None and (future.done() or park is None):
                try:
                    arrived[archive_id] = future.result(max(left, 0.0))
                except FutureTimeout:
                    raise UpstreamTimeout() from None
                return arrived[archive_id]
            if left <= 0:
                raise UpstreamTimeout()
            if park is not None:
                parked = True
                park.deadline = deadline
                # Without a job, another process holds the lock: after RECHECK,
                # this request tries again.
                raise park.hold(None, _done(future))
            time.sleep(min(0.25, left))  # the lock is another's: try again soon
    finally:
        if slot is not None:
            slot.release()
        if not parked:
            _forget(jobs)


def _done(future: Future[Arrival] | None) -> Callable[[Any], bool]:
    """The test of a parked ``fetch=now``: its job has ended."""
    return lambda _: future is not None and future.done()


def _forget(jobs: Mapping[str, str]) -> None:
    """Drop the jobs a request waited for (it is answered)."""
    for job in jobs.values():
        _JOBS.pop(job, None)


def _submit(
    ctx: Context, url: str, headers: Mapping[str, str], archive_id: str
) -> str | None:
    """Start `bring_in` on the fetcher under the fetch lock of `archive_id`: the
    job's key in `_JOBS`, or None while another holds the lock."""
    token = secrets.token_hex(8)
    if not ctx.client.run(ctx.store.mirror_lock(archive_id, token, LOCK_SECONDS)):
        return None
    try:
        _JOBS[token] = _FETCHERS.submit(
            _bring_in_locked, ctx, url, headers, archive_id, token
        )
    except RuntimeError:  # the process is stopping
        ctx.client.run(ctx.store.mirror_unlock(archive_id, token))
        raise
    return token


def _bring_in_locked(
    ctx: Context, url: str, headers: Mapping[str, str], archive_id: str, token: str
) -> Arrival:
    """`bring_in` on a fetcher thread, the lock kept while it runs."""
    done = threading.Event()
    keeper = threading.Thread(
        target=_keep_lock, args=(ctx, archive_id, token, done), daemon=True
    )
    keeper.start()
    try:
        return bring_in(ctx, url, headers, archive_id)
    finally:
        try:
            ctx.client.run(ctx.store.mirror_unlock(archive_id, token))
        finally:
            done.set()
            ctx.client.close()  # fetches are rare: no connection waits here


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
        if ctx.scan_wake is not None:
            ctx.scan_wake.set()
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


def waits(view: RecordView, scanning: bool) -> bool:
    """True while a download of this record waits for its pull-through: a mirror
    whose bytes are not in, or (scanning on) whose verdict is not (12.2)."""
    if view.deleted_at is not None or view.stored["origin"]["kind"] != "mirror":
        return False
    state = record_state(view)
    return state in ("pending", "failed") or (scanning and state == "unscanned")


def pull_through(
    ctx: Context,
    ns: str,
    archive_id: str,
    view: RecordView,
    park: Park | None = None,
) -> RecordView:
    """Wait for the bytes of a pending (or failed, due) mirrored record, starting
    its fetch if nobody has, and with scanning on for its verdict: the record once
    servable or judged (or trashed meanwhile). With a `park`, the server waits
    instead of this thread (core/park.py); without, at most `WAIT_SLOTS` threads.

    :raise UpstreamFailed: the fetch failed (502). :raise StillFetching: past
    STASHD_MIRROR_WAIT_SECONDS, or no slot to wait in (503). :raise NotFound: the
    record went. :raise Parked: the server takes the wait over.
    """
    wait = ctx.config["MIRROR_WAIT_SECONDS"]
    retry = ctx.config["MIRROR_RETRY_SECONDS"]
    scanning = scan.scanning(ctx.config)
    if park is not None:
        deadline, notes = park.start(wait), park.notes
    else:
        deadline, notes = time.monotonic() + wait, {}
    slot = None
    pause = 0.02
    try:
        while True:
            stored = view.stored
            if not waits(view, scanning):
                return view
            state = stored["state"]
            if state in ("pending", "failed"):
                # The fetch this download waited for failed: the 502 is its answer.
                if notes.get("seen") == "pending" and state == "failed":
                    raise UpstreamFailed(stored["origin"]["error"] or "unknown error")
                if not due(stored, time.time(), retry):
                    raise UpstreamFailed(stored["origin"]["error"] or "unknown error")
                if not notes.get("started"):
                    notes["started"] = start_fetch(ctx, ns, archive_id)
            notes["seen"] = state
            left = deadline - time.monotonic()
            if left <= 0:
                raise StillFetching()
            if park is not None:
                raise park.hold(ctx.store.get(ns, archive_id), _changed(view.etag))
            if slot is None:
                slot = WAIT_SLOTS.take()
                if slot is None:
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
            view = found
    finally:
        if slot is not None:
            slot.release()


def _changed(etag: str) -> Callable[[RecordView | None], bool]:
    """The test a parked download's server runs on the record it reads: true once
    it is gone or written again (fetched, failed, judged, deleted)."""

    def changed(found: RecordView | None) -> bool:
        return found is None or found.etag != etag

    return changed
