"""What `make run` runs: stashd under granian on every STASHD_BIND address.

granian binds one address per server, so this starts one granian per address,
all serving ``rsgi:app`` (``wsgi:app`` with GRANIAN_INTERFACE=wsgi). First it
starts stashd (server/start.py: settings, the embedded Redis unless
STASHD_REDIS_URL is set, bootstrap), and it stops the embedded Redis after the
servers have finished their requests. SIGTERM or SIGINT stops everything in that
order, repeated each second to granian's workers until they are gone; so does any
server exiting on its own.

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
from collections.abc import Mapping

from core.settings import DEFAULTS
from server.embedded import die_with_parent
from server.start import Started, start_or_exit

log = logging.getLogger("stashd.serve")


def granian_defaults(environ: Mapping[str, str]) -> dict[str, str]:
    """granian settings measured to serve stashd best (docs/benchmarks.md).

    RSGI by default (rsgi.py); under WSGI, 8 threads per worker let writes share
    the embedded Redis's fsyncs instead of waiting for one each.
    """
    workers = environ.get("WEB_CONCURRENCY") or str(os.cpu_count() or 2)
    interface = environ.get("GRANIAN_INTERFACE", "rsgi")
    level = environ.get("STASHD_LOG_LEVEL") or DEFAULTS["LOG_LEVEL"]
    return {
        "GRANIAN_INTERFACE": interface,
        "GRANIAN_LOOP": "uvloop",
        "GRANIAN_WORKERS": workers,
        **({"GRANIAN_BLOCKING_THREADS": "8"} if interface == "wsgi" else {}),
        "GRANIAN_WEBSOCKETS": "false",
        "GRANIAN_RESPAWN_FAILED_WORKERS": "true",
        # Requests in flight get 10 s to finish on SIGTERM or SIGINT.
        "GRANIAN_WORKERS_KILL_TIMEOUT": "10",
        "GRANIAN_LOG_LEVEL": level.lower(),
    }


def main() -> int:
    """Start stashd, serve until a signal or a server exits, then stop; the status.

    A start that fails exits 1 after one line saying why (server/start.py).
    """
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] [stashd] %(message)s")
    started = start_or_exit(os.environ, log)
    try:
        return serve(started)
    finally:
        started.stop()


def serve(started: Started) -> int:
    """Run one granian per address until one exits; the highest exit status."""
    env = {
        **granian_defaults(os.environ),
        **os.environ,
        "STASHD_REDIS_URL": started.redis_url,
    }
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
        for host, port in started.addresses
    ]

    asked: list[int] = []  # the stop signal, once there is one

    def stop(signum: int, _frame: object) -> None:
        asked[:] = asked or [signum]
        for server in servers:
            if server.poll() is None:
                server.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # Serve until a stop, or until one server exits (a failure): then stop the rest.
    repeated = 0.0
    while any(server.poll() is None for server in servers):
        if not asked and any(server.poll() is not None for server in servers):
            stop(signal.SIGTERM, None)
        if asked and time.monotonic() - repeated >= 1:
            if repeated:
                repeat_to_workers(servers, asked[0])
            repeated = time.monotonic()
        time.sleep(0.2)
    return max(server.wait() for server in servers)


def repeat_to_workers(servers: list[subprocess.Popen], signum: int) -> None:
    """Send `signum` again to the workers of each granian still running.

    granian passes a stop to each worker once, and a worker that is still starting
    can miss it; it would then serve on until granian kills it, 10 s later. Once
    stopping, a worker takes the signal again harmlessly.
    """
    for server in servers:
        if server.poll() is not None:
            continue
        try:
            with open(f"/proc/{server.pid}/task/{server.pid}/children") as listed:
                workers = [int(pid) for pid in listed.read().split()]
        except OSError:  # not Linux, or granian just exited
            continue
        for pid in workers:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass
