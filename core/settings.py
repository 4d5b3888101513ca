"""Every setting stashd reads, declared once: its kind, its default and why it exists.

Settings come from ``STASHD_<NAME>`` environment variables; `core.settings_load`
reads and checks them. Also here: the views of them the app serves (CORS, /info).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

# stashd's own version; /info reports it as sensu.version.
VERSION = "0.1.0"

# Sensu 1.x's CORS headers, byte for byte: its API spec tests them.
DEFAULT_CORS = {
    "Origin": "*",
    "Methods": "GET, POST, PUT, DELETE, OPTIONS",
    "Credentials": "true",
    "Headers": "Origin, X-Requested-With, Content-Type, Accept, Authorization",
}

Kind = Literal["str", "int", "float", "bool", "json"]


@dataclass(frozen=True)
class Setting:
    """``STASHD_<name>``: parsed as `kind`, `default` when unset or empty."""

    name: str
    kind: Kind
    default: Any
    why: str
    # Left out of /info's settings digest.
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "BIND", "str", "127.0.0.1:4567 127.0.0.1:8080",
        "host:port addresses to serve on: Sensu 1.x clients expect 4567, Sensu Go 8080",
    ),
    Setting(
        "REDIS_URL", "str", None,
        "where Redis is; unset, the launchers start the embedded Redis and set it",
    ),
    Setting(
        "REDIS_SENTINEL_PASSWORD", "str", None,
        "the sentinels' own password, when they need one besides the data nodes'",
        secret=True,
    ),
    Setting(
        "REDIS_WAIT_REPLICAS", "int", 0,
        "replicas that must confirm a write (WAIT) before it is acknowledged",
    ),
    Setting(
        "REDIS_TIMEOUT", "float", 0.5,
        "seconds to connect to or wait on Redis: two attempts fit in 2 s (spec 2.6)",
    ),
    Setting(
        "DATA_DIR", "str", "var",
        "the embedded Redis's data, the generated admin password, archive blobs",
    ),
    Setting(
        "API_USER", "str", None,
        "with API_PASSWORD: the administrator made at start; stash routes need auth",
    ),
    Setting(
        "API_PASSWORD", "str", None, "the password of API_USER", secret=True
    ),
    Setting(
        "API_KEY", "str", None,
        "an API key registered for API_USER at start (Authorization: Key <key>)",
        secret=True,
    ),
    Setting(
        "API_REQUEST_LIMIT", "int", 512_000,
        "largest body on the Sensu Go routes: Sensu's api-request-limit default",
    ),
    Setting(
        "ACCESS_TOKEN_TTL", "int", 300,
        "seconds an access token lives: Sensu Go 6.x's 5 minutes",
    ),
    Setting(
        "REFRESH_TOKEN_TTL", "int", 12 * 3600,
        "seconds a refresh token may renew access tokens",
    ),
    Setting(
        "AUTH_FAILURES", "int", 20,
        "failed credential checks a client address may make per window; then 429",
    ),
    Setting(
        "AUTH_FAILURE_WINDOW", "int", 60,
        "seconds over which failed credential checks are counted (and refused)",
    ),
    Setting(
        "TRUSTED_PROXIES", "str", "",
        "proxies (addresses, networks) whose X-Forwarded-For names the client",
    ),
    Setting(
        "CORS", "json", DEFAULT_CORS,
        "key K becomes Access-Control-Allow-K; a JSON non-object turns CORS off",
    ),
    Setting(
        "ALLOWED_ORIGINS", "str", "",
        "web origins besides stashd's own whose browser writes are accepted (17.7)",
    ),
    Setting(
        "MAX_BODY_BYTES", "int", 8 * 1024 * 1024,
        "largest stash request body; larger ones get 413",
    ),
    Setting(
        "KEY_PREFIX", "str", "stashd",
        "every Redis key begins <prefix>:, so deployments can share one Redis",
    ),
    Setting(
        "FAST_PATH", "bool", True,
        "serve the stash routes without Flask; off only to compare the two",
    ),
    Setting("LOG_LEVEL", "str", "INFO", "the level of stashd's own log lines"),
    Setting(
        "LOG_FORMAT", "str", "text",
        "text, or json: one JSON object a line, the servers' own lines included",
    ),
    Setting(
        "METRICS", "bool", True,
        "Prometheus metrics at /metrics, counted across every worker",
    ),
    Setting(
        "ACCESS_LOG", "bool", False,
        "stashd's own access log line for every request (on under gunicorn)",
    ),
    Setting(
        "SILENCED_V1_NAMESPACE", "str", "default",
        "the namespace the Sensu 1.x /silenced routes show and write (one registry)",
    ),
    Setting(
        "SILENCED_MAX_SECONDS", "int", 0,
        "longest silence allowed, in seconds; 0: no maximum",
    ),
    Setting(
        "SILENCED_DEFAULT_SECONDS", "int", 0,
        "lifetime given to silences sent without one, in seconds; 0: none",
    ),
    Setting(
        "PUBLIC_URL", "str", "",
        "base of archive download URLs; empty: the request's scheme and Host",
    ),
    Setting(
        "ARCHIVES_PUBLIC_READ", "bool", False,
        "archive downloads need no credentials (management always does)",
    ),
    Setting(
        "ARCHIVE_MAX_BYTES", "int", 256 * 1024 * 1024,
        "largest archive an upload may store; larger ones get 413",
    ),
    Setting(
        "ARCHIVE_RETENTION_SECONDS", "int", 30 * 86400,
        "seconds a deleted archive stays restorable before GC purges it",
    ),
    Setting(
        "ARCHIVE_BLOB_GRACE_SECONDS", "int", 3600,
        "seconds a blob no record names is kept (an upload may be finishing)",
    ),
    Setting(
        "ARCHIVE_GC_INTERVAL_SECONDS", "int", 3600,
        "seconds between archive garbage collections in the server; 0: on request",
    ),
    Setting(
        "ARCHIVE_TMP_MAX_AGE_SECONDS", "int", 3600,
        "seconds after which an unfinished upload's temp file is removed",
    ),
    Setting(
        "ARCHIVE_SCAN_COMMAND", "str", "",
        "scanner run on every new archive, the blob's path appended; empty: no scans",
    ),
    Setting(
        "ARCHIVE_SCAN_TIMEOUT_SECONDS", "float", 300.0,
        "seconds one scan may take; a scan cut off makes its archive unscannable",
    ),
    Setting(
        "ARCHIVE_SCAN_WAIT_SECONDS", "float", 0.0,
        "seconds an upload waits for its scan's verdict before answering",
    ),
    Setting(
        "SHARE_DEFAULT_SECONDS", "int", 86400,
        "lifetime of an archive share token created without expires_in",
    ),
    Setting(
        "SHARE_MAX_SECONDS", "int", 365 * 86400,
        "longest lifetime a share token may be given",
    ),
    Setting(
        "MIRROR_ALLOWED_HOSTS", "str", "",
        "hosts archives may be mirrored from, comma-separated; *: any; empty: none",
    ),
    Setting(
        "MIRROR_TIMEOUT_SECONDS", "int", 300,
        "longest one upstream fetch of a mirrored archive may take",
    ),
    Setting(
        "MIRROR_WAIT_SECONDS", "int", 60,
        "seconds a download waits for a pull-through fetch before 503",
    ),
    Setting(
        "MIRROR_RETRY_SECONDS", "int", 60,
        "seconds after a failed mirror fetch before a download tries again",
    ),
    Setting(
        "MIRROR_CA_FILE", "str", "",
        "a PEM file of extra CAs trusted for mirror upstreams",
    ),
    Setting(
        "BUNDLE_MAX_BYTES", "int", 4 * 1024 * 1024 * 1024,
        "largest bundle an import may read; larger ones get 413",
    ),
)  # fmt: skip

# Each setting's default, by name.
DEFAULTS: Mapping[str, Any] = MappingProxyType({s.name: s.default for s in SETTINGS})


def cors_headers(cors: Any) -> list[tuple[str, str]]:
    """The CORS headers every response carries; none when `cors` is not an object."""
    if not isinstance(cors, dict):
        return []
    return [(f"Access-Control-Allow-{key}", value) for key, value in cors.items()]


def public_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The effective settings with secrets left out (for /info's digest)."""
    settings = {s.name: config[s.name] for s in SETTINGS if not s.secret}
    url = settings["REDIS_URL"]
    if url:
        parts = urlsplit(url)
        if parts.password is not None:
            host = parts.netloc.rpartition("@")[2]
            settings["REDIS_URL"] = urlunsplit(parts._replace(netloc=f"***@{host}"))
    return settings
