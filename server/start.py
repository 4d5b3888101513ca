"""Starting stashd: the one sequence granian (serve.py) and gunicorn share.

Before any worker exists: read and check the settings, start the embedded Redis
when STASHD_REDIS_URL is not set, and seed the deployment (bootstrap.py). A step
that fails stops what the steps before it started, and the launcher exits 1 after
one line saying why: an operator reads a reason, not a traceback.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis

from archives.blobs import BlobStore, private_dirs
from core.addresses import binds
from core.config_error import ConfigError
from core.settings_load import from_env, load
from server.bootstrap import at_start
from server.embedded import EmbeddedRedis

log = logging.getLogger(__name__)


class StartError(Exception):
    """stashd cannot start; the message says why."""


class Log(Protocol):
    """Where the launcher's own lines go: a logging.Logger, or gunicorn's logger."""

    def error(self, msg: str, *args: object) -> None: ...


@dataclass
class Started:
    """A started stashd; `stop` it after its servers have finished their requests."""

    # Out of the repr: it holds the API password and key.
    settings: dict[str, Any] = field(repr=False)
    # (host, port) pairs to serve on.
    addresses: list[tuple[str, int]]
    # What the workers connect to: STASHD_REDIS_URL, or the embedded Redis.
    redis_url: str
    embedded: EmbeddedRedis | None = None

    def stop(self) -> None:
        """Stop the embedded Redis, if this start made one; again is harmless."""
        if self.embedded is not None:
            self.embedded.stop()


def start(environ: Mapping[str, str]) -> Started:
    """Check the ``STASHD_*`` settings, start the embedded Redis if needed, bootstrap.

    :raise StartError: why stashd cannot start; what had started is stopped again.
    """
    try:
        settings = load(from_env(environ))
    except ConfigError as exc:
        raise StartError(str(exc)) from None
    started = Started(settings, binds(settings["BIND"]), settings["REDIS_URL"] or "")
    try:
        if not started.redis_url:
            started.embedded = EmbeddedRedis(settings["DATA_DIR"])
            started.redis_url = started.embedded.start()
            log.info("embedded Redis in %s", started.embedded.data_dir)
        at_start(settings, started.redis_url)
        # Uploads cut off by the last stop leave temp files (spec archives.md 4.1);
        # this also fails the start when the data directory is not writable.
        blobs = BlobStore(os.path.join(settings["DATA_DIR"], "archives"))
        private_dirs(blobs.tmp)
        blobs.remove_stale_temps(settings["ARCHIVE_TMP_MAX_AGE_SECONDS"])
    # RuntimeError: the data directory is in use, or Redis cannot be reached.
    except (RuntimeError, OSError) as exc:
        started.stop()
        raise StartError(str(exc)) from None
    except redis.RedisError as exc:  # e.g. a Redis that wants a password
        started.stop()
        raise StartError(f"Redis refused the bootstrap: {exc}") from None
    except BaseException:
        # Ctrl-C included: the embedded Redis must not outlive a start given up.
        started.stop()
        raise
    return started


def start_or_exit(environ: Mapping[str, str], launcher: Log) -> Started:
    """`start`, or log "stashd cannot start: <reason>" to `launcher` and exit 1."""
    try:
        return start(environ)
    except StartError as exc:
        launcher.error("stashd cannot start: %s", " ".join(str(exc).splitlines()))
        raise SystemExit(1) from None


METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"


def metrics_dir(environ: MutableMapping[str, str]) -> str | None:
    """Give the workers a directory for their metric values (core/metrics.py), in
    `environ`: ``PROMETHEUS_MULTIPROC_DIR`` emptied of a previous run's values
    (prometheus-client's rule), else a new one, returned to be removed at exit.

    Set before any worker imports prometheus-client, which reads it then.
    """
    given = environ.get(METRICS_DIR)
    if not given:
        made = environ[METRICS_DIR] = tempfile.mkdtemp(prefix="stashd-metrics-")
        return made
    os.makedirs(given, exist_ok=True)
    for name in os.listdir(given):
        if name.endswith(".db"):
            os.unlink(os.path.join(given, name))
    return None
