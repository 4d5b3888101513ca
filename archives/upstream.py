"""Fetching an archive from its upstream (spec archives.md 12.1): only from allowed
hosts, redirects as Go's client follows them, within bounded time and size, the
bytes hashed as received into a temp file and checked before anyone commits them.
No Flask and no Redis; `archives.mirror` keeps the records and the pull-through.
"""

from __future__ import annotations

import http.client
import logging
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from archives import service
from archives.blobs import BlobStore, StorageFailed, TempBlob
from core.errors import ApiError, BadRequest, Forbidden

log = logging.getLogger(__name__)

# Go's client follows at most 10 redirects; the spec allows 10 requests in all.
MAX_REQUESTS = 10
CHUNK = 1 << 20
# One socket operation waits at most this long; the whole fetch is bounded by
# STASHD_MIRROR_TIMEOUT_SECONDS, checked between reads.
SOCKET_TIMEOUT = 10.0


class UpstreamFailed(ApiError):
    """502 ``upstream fetch failed: <reason>``."""

    status, kind = 502, 0

    def __init__(self, reason: str) -> None:
        super().__init__(f"upstream fetch failed: {reason}")
        self.reason = reason


class UpstreamTimeout(ApiError):
    status, kind, default = 504, 8, "upstream fetch timed out"


class WrongBytes(BadRequest):
    """400: the upstream's bytes are not the archive asked for."""


def host_allowed(url: str, allowed: str) -> bool:
    """True when `url` is http(s) on a host of `allowed` (comma-separated host or
    host:port entries, or ``*``); an empty `allowed` allows nothing."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    entries = {e.strip().lower() for e in allowed.split(",") if e.strip()}
    if "*" in entries:
        return True
    host = parts.hostname.lower()
    try:
        port = parts.port
    except ValueError:
        return False
    return host in entries or (port is not None and f"{host}:{port}" in entries)


def check_host(url: str, config: Mapping[str, Any]) -> None:
    """:raise Forbidden: mirroring from `url`'s host is not allowed (12.1)."""
    if not host_allowed(url, config["MIRROR_ALLOWED_HOSTS"]):
        host = urlsplit(url).hostname or url
        raise Forbidden(f"mirroring from {host} is not allowed")


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Redirects as Go's client follows them, to allowed hosts only, with
    ``Authorization`` and ``Cookie`` dropped when the host changes."""

    # Go counts requests, not URLs: a loop is followed as far as a chain.
    max_redirections = max_repeats = MAX_REQUESTS - 1

    def __init__(self, allowed: str) -> None:
        self.allowed = allowed

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        if not host_allowed(newurl, self.allowed):
            fp.close()  # not followed: its connection goes now, not when collected
            host = urlsplit(newurl).hostname or newurl
            raise UpstreamFailed(f"redirected to {host}, which is not allowed")
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if (
            new is not None
            and urlsplit(newurl).hostname != urlsplit(req.full_url).hostname
        ):
            new.remove_header("Authorization")
            new.remove_header("Cookie")
        return new


def _opener(config: Mapping[str, Any]) -> urllib.request.OpenerDirector:
    context = ssl.create_default_context()
    if config["MIRROR_CA_FILE"]:
        context.load_verify_locations(config["MIRROR_CA_FILE"])
    # Proxies come from the environment (urllib's default ProxyHandler), as for agents.
    return urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=context),
        _Redirects(config["MIRROR_ALLOWED_HOSTS"]),
    )


def _request(url: str, headers: Mapping[str, str]) -> urllib.request.Request:
    request = urllib.request.Request(url)
    for name, value in headers.items():
        # Agents split each value on commas into lines of their own; one line of
        # the trimmed parts joined again means the same in HTTP.
        request.add_header(name, ", ".join(p.strip() for p in value.split(",")))
    # Never a compressed transfer: the hash is over the bytes as the upstream has them.
    request.add_header("Accept-Encoding", "identity")
    return request


def fetch(
    blobs: BlobStore,
    url: str,
    headers: Mapping[str, str],
    expected: str,
    config: Mapping[str, Any],
) -> tuple[TempBlob, str, list[str]]:
    """GET `url` into a temp file, check it is archive `expected` and passes 5.3:
    (temp, type, warnings). The caller commits the temp file.

    :raise UpstreamFailed: not 200, a network error, too large.
    :raise UpstreamTimeout: :raise WrongBytes: :raise BadRequest: refused bytes.
    """
    timeout = config["MIRROR_TIMEOUT_SECONDS"]
    limit = config["ARCHIVE_MAX_BYTES"]
    deadline = time.monotonic() + timeout
    log.info("mirror: fetching %s from %s", expected[:16], urlsplit(url).hostname)
    try:
        response = _opener(config).open(
            _request(url, headers), timeout=min(timeout, SOCKET_TIMEOUT)
        )
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code in (301, 302, 303, 307, 308):
            raise UpstreamFailed(f"more than {MAX_REQUESTS} requests") from None
        raise UpstreamFailed(f"upstream answered {exc.code}") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise UpstreamTimeout() from None
        raise UpstreamFailed(str(exc.reason)) from None
    except TimeoutError:
        raise UpstreamTimeout() from None
    except (OSError, http.client.HTTPException) as exc:
        raise UpstreamFailed(str(exc) or type(exc).__name__) from None
    with response:
        if response.status != 200:
            raise UpstreamFailed(f"upstream answered {response.status}")
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise UpstreamFailed(f"archive is larger than {limit} bytes")
        try:
            temp = blobs.temp()
        except OSError as exc:
            raise StorageFailed.of(exc) from None
        try:
            _receive(response, temp, deadline, limit)
            if temp.id != expected:
                raise WrongBytes(
                    f"upstream bytes have sha512 {temp.id}, expected {expected}"
                )
            kind, warnings = service.check_bytes(temp)
        except BaseException:
            temp.discard()
            raise
    return temp, kind, warnings


def _receive(
    response: http.client.HTTPResponse, temp: TempBlob, deadline: float, limit: int
) -> None:
    """The body into `temp`, in chunks of about `CHUNK`, within `deadline`."""
    pending = bytearray()
    try:
        while True:
            if time.monotonic() > deadline:
                raise UpstreamTimeout()
            # read1: what one socket read gives, so a slow drip meets the deadline.
            piece = response.read1(CHUNK)
            if piece:
                pending += piece
                if temp.size + len(pending) > limit:
                    raise UpstreamFailed(f"archive is larger than {limit} bytes")
            if len(pending) >= CHUNK or (not piece and pending):
                temp.write(bytes(pending))
                pending.clear()
            if not piece:
                temp.flush()
                return
    except TimeoutError:
        raise UpstreamTimeout() from None
    except (OSError, http.client.HTTPException) as exc:
        if isinstance(exc, StorageFailed):
            raise
        raise UpstreamFailed(str(exc) or type(exc).__name__) from None
