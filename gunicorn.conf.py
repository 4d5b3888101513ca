"""gunicorn settings for stashd; `gunicorn` in this directory reads them by default.

Only values that differ from gunicorn's defaults are set, each with its reason.
"""

import os

from core.settings import binds

# STASHD_BIND, by default 127.0.0.1:4567 (Sensu 1.x clients) and :8080 (Sensu Go).
bind = [
    f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    for host, port in binds(os.environ)
]
wsgi_app = "wsgi:app"

# gunicorn's own WEB_CONCURRENCY wins; else one worker per core.
workers = int(os.environ.get("WEB_CONCURRENCY") or os.cpu_count() or 2)
# A thread per connection while a request is read: 64 per worker keep 50 clients
# that send a byte at a time from starving the rest (spec stashes.md section 13).
worker_class = "gthread"
threads = 64

# On SIGTERM or SIGINT, requests in flight get 10 s to finish (spec section 16.9).
graceful_timeout = 10
# Handlers poll silences often; keeping their connections open saves a handshake.
keepalive = 5

# One control socket per user by default: several instances on a host would
# collide, and stashd is managed with signals.
control_socket_disable = True

accesslog = "-"
errorlog = "-"
# The request ID ties an access log line to the client's own logs.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'
# stashd's own loggers write to stderr like gunicorn's error log; gunicorn's two
# loggers do not propagate to them, so each line is written once.
logconfig_dict = {
    "root": {
        "level": os.environ.get("STASHD_LOG_LEVEL", "INFO"),
        "handlers": ["error_console"],
    },
    "loggers": {
        "gunicorn.error": {"handlers": ["error_console"], "propagate": False},
        "gunicorn.access": {"handlers": ["console"], "propagate": False},
    },
}

_embedded = None


def on_starting(server):
    """Check the settings once, start the embedded Redis when none is configured,
    and seed the deployment (bootstrap.py) before any worker exists."""
    global _embedded
    from core.settings import ConfigError, from_env, load
    from server.bootstrap import at_start
    from server.embedded import EmbeddedRedis

    try:
        settings = load(from_env(os.environ))
    except ConfigError as exc:
        server.log.error("stashd cannot start: %s", exc)
        raise SystemExit(1) from None
    if not settings["REDIS_URL"]:
        _embedded = EmbeddedRedis(settings["DATA_DIR"])
        # Workers are forked after this and read their settings from the environment.
        os.environ["STASHD_REDIS_URL"] = _embedded.start()
        server.log.info("embedded Redis in %s", _embedded.data_dir)
    try:
        at_start(settings, os.environ["STASHD_REDIS_URL"])
    except RuntimeError as exc:
        server.log.error("stashd cannot start: %s", exc)
        on_exit(server)
        raise SystemExit(1) from None


def on_exit(server):
    """Stop the embedded Redis after the workers have finished their requests."""
    if _embedded is not None:
        _embedded.stop()
