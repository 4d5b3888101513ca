"""What `make run` runs: stashd under granian on every STASHD_BIND address.

granian binds one address per server, so this starts one granian per address,
all serving ``rsgi:app`` (``wsgi:app`` with GRANIAN_INTERFACE=wsgi). With no
STASHD_REDIS_URL it first starts the embedded
Redis, and stops it after the servers have finished their requests. SIGTERM or
SIGINT stops everything in that order; so does any server exiting on its own.

granian's own ``GRANIAN_*`` environment variables tune it; the defaults below are
only set where the variable is not.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

from core.settings import ConfigError, binds, from_env, load
from server.bootstrap import at_start
from server.embedded import EmbeddedRedis, die_with_parent

log = logging.getLogger("stashd.serve")


def granian_defaults(environ: dict[str, str]) -> dict[str, str]:
    """granian settings measured to serve stashd best (docs/benchmarks.md).

    RSGI by default (rsgi.py); under WSGI, 8 threads per worker let writes share
    the embedded Redis's fsyncs instead of waiting for one each.
    """
    workers = environ.get("WEB_CONCURRENCY") or str(os.cpu_count() or 2)
    interface = environ.get("GRANIAN_INTERFACE", "rsgi")
    return {
        "GRANIAN_INTERFACE": interface,
        "GRANIAN_LOOP": "uvloop",
        "GRANIAN_WORKERS": workers,
        **({"GRANIAN_BLOCKING_THREADS": "8"} if interface == "wsgi" else {}),
        "GRANIAN_WEBSOCKETS": "false",
        "GRANIAN_RESPAWN_FAILED_WORKERS": "true",
        # Requests in flight get 10 s to finish on SIGTERM or SIGINT.
        "GRANIAN_WORKERS_KILL_TIMEOUT": "10",
        "GRANIAN_LOG_LEVEL": environ.get("STASHD_LOG_LEVEL", "info").lower(),
    }


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] [stashd] %(message)s")
    try:
        settings = load(from_env(os.environ))
        addresses = binds(os.environ)
    except ConfigError as exc:
        log.error("stashd cannot start: %s", exc)
        return 1

    embedded = None
    env = {**granian_defaults(os.environ), **os.environ}
    if not settings["REDIS_URL"]:
        embedded = EmbeddedRedis(settings["DATA_DIR"])
        try:
            env["STASHD_REDIS_URL"] = embedded.start()
        except RuntimeError as exc:
            log.error("stashd cannot start: %s", exc)
            return 1
        log.info("embedded Redis in %s", embedded.data_dir)
    try:
        at_start(settings, env["STASHD_REDIS_URL"])
    except RuntimeError as exc:
        log.error("stashd cannot start: %s", exc)
        if embedded is not None:
            embedded.stop()
        return 1

    target = "wsgi:app" if env["GRANIAN_INTERFACE"] == "wsgi" else "rsgi:app"
    granian = [sys.executable, "-m", "granian", target]
    servers = [
        subprocess.Popen(
            [*granian, "--host", host, "--port", str(port)],
            env=env,
            # Signals reach the servers from here only, once each; and a server
            # never outlives this process.
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        for host, port in addresses
    ]

    def stop(signum: int, _frame: object) -> None:
        for server in servers:
            if server.poll() is None:
                server.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # Wait until one server exits (a stop, or a failure), then stop the rest.
    while all(server.poll() is None for server in servers):
        time.sleep(0.2)
    stop(signal.SIGTERM, None)
    codes = [server.wait() for server in servers]
    if embedded is not None:
        embedded.stop()
    return max(codes)
