"""gunicorn settings for stashd; `gunicorn` in this directory reads them by default.

Only values that differ from gunicorn's defaults are set, each with its reason.
"""

import os

# Sensu 1.x clients expect 4567, Sensu Go clients 8080; every route is on both.
bind = (
    os.environ.get("STASHD_BIND", "127.0.0.1:4567 127.0.0.1:8080")
    .replace(",", " ")
    .split()
)
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

accesslog = "-"
errorlog = "-"
# The request ID ties an access log line to the client's own logs.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'
logconfig_dict = {
    "root": {
        "level": os.environ.get("STASHD_LOG_LEVEL", "INFO"),
        "handlers": ["console"],
    },
}

_embedded = None


def on_starting(server):
    """Check the settings once, and start the embedded Redis when none is configured."""
    global _embedded
    from config import ConfigError, from_env, load
    from embedded_redis import EmbeddedRedis

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


def on_exit(server):
    """Stop the embedded Redis after the workers have finished their requests."""
    if _embedded is not None:
        _embedded.stop()
