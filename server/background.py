"""Work each server process does beside requests: archive garbage collection every
``STASHD_ARCHIVE_GC_INTERVAL_SECONDS`` (spec archives.md 4.3, 19.6), and the scan
queue while a scanner command is set (10).

Every worker runs the loops; the Redis lock in `archives.garbage.collect_garbage`
lets one process collect at a time, on one host or many, and each queued scan is
leased to one worker at a time (`archives.scan_store`).
"""

from __future__ import annotations

import logging
import random
import secrets
import threading

from flask import Flask

from archives import garbage, scan

log = logging.getLogger(__name__)


def _collect_every(app: Flask, interval: int, stop: threading.Event) -> None:
    # Workers start together; a random offset spreads their attempts out.
    while not stop.wait(interval * random.uniform(0.5, 1.5)):
        try:
            with app.app_context():
                client = app.extensions["client"]
                names = client.drive(app.extensions["namespaces"].names())
                report = garbage.collect_garbage(
                    client,
                    app.extensions["archives"],
                    app.extensions["blobs"],
                    names,
                    app.config,
                )
            if report is not None:
                log.info("archive gc: %s", report._asdict())
        except Exception:  # Redis away, disk trouble: try again next time
            log.exception("archive gc failed")


def start_archive_gc(app: Flask) -> threading.Event | None:
    """Collect archive garbage in a daemon thread of this process; None when the
    interval is 0 (collection on request only). Setting the event stops it."""
    interval = app.config["ARCHIVE_GC_INTERVAL_SECONDS"]
    if interval <= 0:
        return None
    stop = threading.Event()
    args = (app, interval, stop)
    threading.Thread(target=_collect_every, args=args, daemon=True).start()
    return stop


def _scan_queue(app: Flask, stop: threading.Event, wake: threading.Event) -> None:
    client = app.extensions["client"]
    scans, blobs = app.extensions["scans"], app.extensions["blobs"]

    def names() -> list[str]:
        return client.drive(app.extensions["namespaces"].names())

    try:
        queued = scan.queue_unscanned(client, scans, blobs, secrets.token_hex(8))
        if queued:
            log.info("archive scans: %d blobs looked at for queueing", queued)
    except Exception:  # Redis away: the blobs are queued by the next start
        log.exception("queueing unscanned archives failed")
    while not stop.is_set():
        try:
            with app.app_context():
                busy = scan.scan_next(client, scans, blobs, names, app.config)
        except Exception:  # Redis away: the job's lease runs out, it is retried
            log.exception("archive scan failed")
            busy = False
        if not busy:
            wake.wait(scan.POLL_SECONDS)
            wake.clear()


def start_archive_scans(app: Flask) -> threading.Event | None:
    """Run queued archive scans in a daemon thread of this process; None when no
    scanner command is set. Setting the event stops it (after a running scan)."""
    if not scan.scanning(app.config):
        return None
    stop = threading.Event()
    wake = app.extensions["scan_wake"] = threading.Event()
    args = (app, stop, wake)
    threading.Thread(target=_scan_queue, args=args, daemon=True).start()
    return stop
