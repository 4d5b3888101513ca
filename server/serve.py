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

import json
import logging
import logging.config
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from typing import Any

from core.logs import dict_config
from core.settings import DEFAULTS
from core.settings_load import LOG_FORMATS, LOG_LEVELS
from server.embedded import die_with_parent
from server.start import Started, metrics_dir, start_or_exit

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


def log_config(environ: Mapping[str, str]) -> dict[str, Any]:
    """stashd's logging (core/logs.py) for the launcher and every granian process.

    Read before the settings are checked, so a bad level or format gives way to
    the defaults here; the start then refuses it with one line saying why.
    """
    level = (environ.get("STASHD_LOG_LEVEL") or DEFAULTS["LOG_LEVEL"]).upper()
    fmt = environ.get("STASHD_LOG_FORMAT") or DEFAULTS["LOG_FORMAT"]
    return dict_config(
        level if level in LOG_LEVELS else DEFAULTS["LOG_LEVEL"],
        fmt if fmt in LOG_FORMATS else DEFAULTS["LOG_FORMAT"],
    )


def access_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """In JSON, an access log asked of granian is written by stashd instead: its
    lines are JSON, with the request ID and route template granian cannot know."""
    asked = environ.get("GRANIAN_LOG_ACCESS_ENABLED", "").lower() in ("1", "true")
    if environ.get("STASHD_LOG_FORMAT") != "json" or not asked:
        return {}
    return {
        "GRANIAN_LOG_ACCESS_ENABLED": "false",
        "STASHD_ACCESS_LOG": environ.get("STASHD_ACCESS_LOG", "true"),
    }


def main() -> int:
    """Start stashd, serve until a signal or a server exits, then stop; the status.

    A start that fails exits 1 after one line saying why (server/start.py).
    """
    config = log_config(os.environ)
    logging.config.dictConfig(config)
    started = start_or_exit(os.environ, log)
    try:
        with tempfile.NamedTemporaryFile(
            "w", suffix=".json", prefix="stashd-log-"
        ) as f:
            json.dump(config, f)
            f.flush()
            return serve(started, f.name)
    finally:
        started.stop()


def serve(started: Started, logging_file: str | None = None) -> int:
    """Run one granian per address until one exits; the highest exit status.

    `logging_file`: a JSON logging configuration for granian and its workers.
    """
    env = {
        **granian_defaults(os.environ),
        **os.environ,
        **access_settings(os.environ),
        "STASHD_REDIS_URL": started.redis_url,
    }
    target = "wsgi:app" if env["GRANIAN_INTERFACE"] == "wsgi" else "rsgi:app"
    granian = [sys.executable, "-m", "granian", target]
    if logging_file is not None:
        granian += ["--log-config", logging_file]
    made = metrics_dir(env) if started.settings["METRICS"] else None
    try:
        return run_servers(granian, env, started)
    finally:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)


def run_servers(granian: list[str], env: dict[str, str], started: Started) -> int:
    """One granian per address, until one exits; the highest exit status."""
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
