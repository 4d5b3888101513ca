"""gunicorn settings for stashd; `gunicorn` in this directory reads them by default.

Only values that differ from gunicorn's defaults are set, each with its reason.
"""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING, Any

from core.addresses import binds
from core.config_error import ConfigError
from core.logs import dict_config
from core.settings import DEFAULTS
from core.settings_load import from_env, load
from server.start import Started, metrics_dir, start_or_exit

if TYPE_CHECKING:
    from gunicorn.arbiter import Arbiter

# An error raised while gunicorn reads this file comes out as a traceback, so an
# invalid setting falls back to its default here and on_starting refuses it.
try:
    _settings = load(from_env(os.environ))
except ConfigError:
    _settings = dict(DEFAULTS)

# STASHD_BIND, by default 127.0.0.1:4567 (Sensu 1.x clients) and :8080 (Sensu Go).
bind = [
    f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    for host, port in binds(_settings["BIND"])
]
wsgi_app = "wsgi:app"

# gunicorn's own WEB_CONCURRENCY wins; else one worker per core.
workers = int(os.environ.get("WEB_CONCURRENCY") or os.cpu_count() or 2)
# A thread per connection while a request is read: 64 per worker keep 50 clients
# that send a byte at a time from starving the rest (spec stashes.md section 13).
worker_class = "gthread"
threads = 64

# Handlers send every subscription of a client in one match URL
# (/silenced/match?subscription=...): gunicorn's largest request line, not 4094.
limit_request_line = 8190

# On SIGTERM or SIGINT, requests in flight get 10 s to finish (spec section 16.9).
graceful_timeout = 10
# Handlers poll silences often; keeping their connections open saves a handshake.
keepalive = 5

# One control socket per user by default: several instances on a host would
# collide, and stashd is managed with signals.
control_socket_disable = True

_json_logs = _settings["LOG_FORMAT"] == "json"
if _json_logs and "STASHD_ACCESS_LOG" not in os.environ:
    # gunicorn logs every request; in JSON, stashd's own access lines do (with the
    # route template), and the workers read this when they make the app.
    os.environ["STASHD_ACCESS_LOG"] = "true"
# With stashd's own access lines, gunicorn's would say the same twice.
_own_access = _json_logs or _settings["ACCESS_LOG"]
accesslog = None if _own_access else "-"
errorlog = "-"
# The request ID ties an access log line to the client's own logs.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'
# gunicorn's logger, with API keys in URLs redacted from its access lines.
logger_class = "server.accesslog.AccessLogger"
# stashd's logging (core/logs.py), gunicorn's own loggers in the same format; they
# do not propagate to the root logger, so each line is written once. gunicorn
# logs access lines whenever a logconfig_dict is set: they are muted when stashd
# writes its own.
logconfig_dict = dict_config(_settings["LOG_LEVEL"], _settings["LOG_FORMAT"])
logconfig_dict["loggers"].update(
    {
        "gunicorn.error": {"handlers": ["stashd"], "propagate": False},
        "gunicorn.access": (
            {"handlers": [], "level": "CRITICAL", "propagate": False}
            if _own_access
            else {"handlers": ["stashd_access"], "propagate": False}
        ),
    }
)


def on_starting(server: Arbiter) -> None:
    """Start stashd (server/start.py) before any worker exists; exit 1 if it cannot."""
    # Kept on the arbiter, not in this module: a SIGHUP reloads this file, and the
    # reloaded on_exit must still find the embedded Redis to stop.
    server.stashd = start_or_exit(os.environ, server.log)
    # Workers are forked after this and read their settings from the environment.
    os.environ["STASHD_REDIS_URL"] = server.stashd.redis_url
    # Before `import app`, which brings prometheus-client: it reads this then.
    if server.stashd.settings["METRICS"]:
        server.stashd_metrics = metrics_dir(os.environ)
    # Imported once here, the application's modules come to every worker with the
    # fork: a worker is ready in milliseconds, not after a second of imports.
    import app  # noqa: F401


def post_worker_init(worker: Any) -> None:
    """Each worker collects archive garbage in the background (one at a time),
    runs queued archive scans, and bounds the threads waiting for pull-throughs."""
    from archives import fetcher
    from server.background import start_archive_gc, start_archive_scans

    # A download waiting for a pull-through holds its thread here: half of them
    # may, so the other routes always keep threads.
    fetcher.WAIT_SLOTS.resize(worker.cfg.threads // 2)
    start_archive_gc(worker.wsgi)
    start_archive_scans(worker.wsgi)


def on_exit(server: Arbiter) -> None:
    """Stop the embedded Redis after the workers have finished their requests."""
    started: Started | None = getattr(server, "stashd", None)
    if started is not None:
        started.stop()
    made = getattr(server, "stashd_metrics", None)
    if made is not None:
        shutil.rmtree(made, ignore_errors=True)
