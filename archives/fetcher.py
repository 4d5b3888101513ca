"""The mirror's fetches (spec archives.md 12.1-12.3): each runs on this process's
background fetcher, under its id's Redis lock, while the requests that need it wait.

A ``lazy`` mirror is fetched by its first download: one process at a time per id
takes the lock and fetches on a thread of its own (`start_fetch`), while every
download of it waits on the record (`pull_through`), so twenty agents asking at once
make one upstream request, and none gets a byte before the SHA-512 matched. A
``fetch=now`` mirror waits for the same kind of fetch (`fetch_now`), so it and a
pull-through of the same archive never fetch it twice. Under granian a waiting
request is parked on the event loop (core/park.py); elsewhere it waits on its
thread, in one of `WAIT_SLOTS`. A worker that dies mid-fetch leaves the record
``pending`` and its lock expiring: the next download starts again.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from archives import scan
from archives.mirror import (
    Arrival,
    Context,
    arrived,
    bring_in,
    due,
    failed,
    put_record,
)
from archives.schemas import RecordView, Stored, record_state
from archives.upstream import UpstreamFailed, UpstreamTimeout
from core.errors import ApiError, NotFound
from core.park import Park, WaitSlots

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
    brought: dict[str, Arrival] = notes.setdefault("arrived", {})
    if archive_id in brought:
        return brought[archive_id]
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
                    brought[archive_id] = future.result(max(left, 0.0))
                except FutureTimeout:
                    raise UpstreamTimeout() from None
                return brought[archive_id]
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
