"""The scan hook (spec archives.md 10): an operator's scanner command judges every
new blob in the background, and only ``clean`` archives are served while it is on.

The scanner runs in a worker's background thread (server/background.py), never on
a request thread or the event loop, as its own process group with a timeout. Exit
0 is ``clean``, 1 ``infected`` (ClamAV's convention), anything else, a timeout or a
failure to start ``unscannable``: a scanner's size limit must never read as a virus.
Runs a `BlockingClient`; no Flask.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from archives.blobs import BlobStore
from archives.scan_store import ScanStore, Verdict
from archives.schemas import record_state
from archives.service import new_etag
from archives.store import ArchiveStore
from redisio.clients import BlockingClient

log = logging.getLogger(__name__)

# Bytes of the scanner's output kept as the verdict's detail.
DETAIL_BYTES = 4096
# A lease outlasts the scanner's timeout by this much: a live worker always
# finishes first, and a dead one's job is taken again soon after.
LEASE_MARGIN = 30.0
# Seconds between looks at the queue when it was empty (an upload in the same
# process wakes the worker at once).
POLL_SECONDS = 1.0


class Result(NamedTuple):
    """What one run of the scanner said."""

    state: str
    detail: str


def scanning(config: Mapping[str, Any]) -> bool:
    """True when a scanner command is set (spec archives.md 10)."""
    return bool((config["ARCHIVE_SCAN_COMMAND"] or "").strip())


def _kill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def run_scanner(command: str, path: str, timeout: float) -> Result:
    """Run `command` (split as a shell would; no shell runs) on the file `path`.

    Output goes to a temp file, not a pipe: a scanner's child that outlives it
    cannot then hold the worker up, and only the first DETAIL_BYTES are read.
    """
    try:
        args = [*shlex.split(command), path]
    except ValueError as exc:
        return Result("unscannable", f"scanner command does not parse: {exc}")
    with tempfile.TemporaryFile() as out:
        try:
            process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: a timeout kills it all
            )
        except OSError as exc:
            return Result("unscannable", f"scanner did not start: {exc}")
        try:
            status = process.wait(timeout)
        except subprocess.TimeoutExpired:
            _kill(process)
            return Result("unscannable", f"scanner timed out after {timeout:g} s")
        out.seek(0)
        detail = out.read(DETAIL_BYTES).decode("utf-8", "replace")
    if status == 0:
        return Result("clean", detail)
    if status == 1:
        return Result("infected", detail)
    return Result("unscannable", detail or f"scanner exited with status {status}")


def copy_verdict(
    client: BlockingClient,
    scans: ScanStore,
    namespaces: list[str],
    archive_id: str,
    verdict: Verdict,
) -> None:
    """Copy a blob's verdict onto its records in every namespace of `namespaces`."""
    for ns in namespaces:
        client.run(scans.apply(ns, archive_id, verdict, new_etag()))


def after_store(
    client: BlockingClient,
    scans: ScanStore,
    ns: str,
    archive_id: str,
    config: Mapping[str, Any],
) -> bool:
    """After a record of `archive_id` was written in `ns`: give it its blob's
    verdict if there is one, else queue the blob (scanning on). True when the
    record changed. Run after the record's write, so that a verdict stored
    meanwhile reaches the record one way or the other."""
    call = scans.ensure(archive_id, int(time.time()), queue=scanning(config))
    verdict = client.run(call)
    if verdict is None:
        return False
    return bool(client.run(scans.apply(ns, archive_id, verdict, new_etag())))


def after_arrival(
    client: BlockingClient,
    store: ArchiveStore,
    ns: str,
    ids: list[str],
    config: Mapping[str, Any],
) -> None:
    """`after_store` for records whose bytes arrived without an upload (a mirror's
    fetch, a bundle's import): scanned as uploads are, by the next look of a
    worker at the queue."""
    scans = ScanStore(store.keys)
    for archive_id in ids:
        after_store(client, scans, ns, archive_id, config)


def wait_for_verdict(
    client: BlockingClient,
    store: ArchiveStore,
    ns: str,
    archive_id: str,
    seconds: float,
) -> None:
    """Wait up to `seconds` for the record to get a verdict (the upload's
    ``STASHD_ARCHIVE_SCAN_WAIT_SECONDS``)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        view = client.run(store.get(ns, archive_id))
        if view is None or record_state(view) != "unscanned":
            return
        time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))


def rescan(
    client: BlockingClient,
    scans: ScanStore,
    namespaces: list[str],
    archive_id: str,
) -> None:
    """Queue a blob again (``POST …/:id/scan``): every record of it reads
    ``unscanned`` until the new verdict is in."""
    gen = int(client.run(scans.requeue(archive_id, int(time.time()))))
    copy_verdict(
        client, scans, namespaces, archive_id, Verdict(gen, "unscanned", None, "")
    )


def scan_next(
    client: BlockingClient,
    scans: ScanStore,
    blobs: BlobStore,
    namespaces: Callable[[], list[str]],
    config: Mapping[str, Any],
    now: Callable[[], float] = time.time,
) -> bool:
    """Take the next due scan, run it, copy its verdict onto the records and
    acknowledge it; False when none was due.

    A job whose verdict is in already (its worker stopped before acknowledging)
    is not scanned again: its verdict is copied on.
    """
    timeout = float(config["ARCHIVE_SCAN_TIMEOUT_SECONDS"])
    moment = now()
    job = client.run(scans.take(moment, moment + timeout + LEASE_MARGIN))
    if job is None:
        return False
    if job.done:
        verdict = client.run(scans.verdict(job.id))
    else:
        path = blobs.path(job.id)
        if not os.path.exists(path):  # collected meanwhile: nothing to judge
            client.run(scans.forget(job.id))
            return True
        result = run_scanner(config["ARCHIVE_SCAN_COMMAND"], path, timeout)
        verdict = Verdict(job.gen, result.state, int(now()), result.detail)
        if not client.run(scans.finish(job.id, verdict)):
            return True  # queued again while it ran: the newer job stands
        log.info("archive %s scanned: %s", job.id, result.state)
    if verdict is not None and verdict.gen == job.gen:
        copy_verdict(client, scans, namespaces(), job.id, verdict)
    client.run(scans.ack(job.id, job.gen))
    return True


def queue_unscanned(
    client: BlockingClient, scans: ScanStore, blobs: BlobStore, token: str
) -> int:
    """Queue every blob on disk without a verdict (scanning turned on), in one
    process per start; how many blobs were looked at (0: another process did)."""
    if not client.run(scans.seed_lock(token, 60)):
        return 0
    seen = 0
    now = int(time.time())
    for archive_id in blobs.ids():
        client.run(scans.ensure(archive_id, now, queue=True))
        seen += 1
    return seen
