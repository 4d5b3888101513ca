"""The reference app: GET /stash/<path> as one redis-py GET, the stored bytes returned.

About the least a Python WSGI app can do for a stash read; stashd's GET is measured
against it under the same server with the same settings. It reads STASHD_REDIS_URL
and STASHD_KEY_PREFIX like stashd, and has no other route: anything else is 404.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

import redis

from redisio.keys import Keys

_PREFIX = "/stash/"
_JSON = "application/json"
_keys = Keys(os.environ.get("STASHD_KEY_PREFIX") or "stashd")
# redis-py's client is thread-safe, and its pool starts afresh after a fork.
_redis = redis.Redis.from_url(os.environ["STASHD_REDIS_URL"])


def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
    url_path = environ["PATH_INFO"]
    content = None
    if url_path.startswith(_PREFIX):
        # PATH_INFO carries the URL's bytes as latin-1 (PEP 3333).
        path = url_path[len(_PREFIX) :].encode("latin-1").decode()
        content = _redis.get(_keys.stash(path))
    if content is None:
        start_response("404 Not Found", [("Content-Length", "0")])
        return [b""]
    size = str(len(content))
    start_response("200 OK", [("Content-Type", _JSON), ("Content-Length", size)])
    return [content]
