"""Work each server process does beside requests: archive garbage collection every
``STASHD_ARCHIVE_GC_INTERVAL_SECONDS`` (spec archives.md 4.3, 19.6).

Every worker runs the loop; the Redis lock in `archives.service.collect_garbage`
lets one process collect at a time, on one host or many.
"""

from __future__ import annotations

import logging
import random
import threading

from flask import Flask

from archives import service

log = logging.getLogger(__name__)


def _collect_every(app: Flask, interval: int, stop: threading.Event) -> None:
    # Workers start together; a random offset spreads their attempts out.
    while not stop.wait(interval * random.uniform(0.5, 1.5)):
        try:
            with app.app_context():
                client = app.extensions["client"]
                names = client.drive(app.extensions["namespaces"].names())
                report = service.collect_garbage(
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
