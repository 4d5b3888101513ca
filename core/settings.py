"""Every setting stashd reads, declared once: its kind, its default and why it exists.

Settings come from ``STASHD_<NAME>`` environment variables. Each is parsed by its
declared kind, not by guessing: ``STASHD_API_PASSWORD=1234`` or ``=true`` stays the
string the operator typed.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from core.addresses import allowed_origins, binds, redis_target, trusted_proxies
from core.config_error import ENV_PREFIX, ConfigError

# stashd's own version; /info reports it as sensu.version.
VERSION = "0.1.0"

# Sensu 1.x's CORS headers, byte for byte: its API spec tests them.
DEFAULT_CORS = {
    "Origin": "*",
    "Methods": "GET, POST, PUT, DELETE, OPTIONS",
    "Credentials": "true",
    "Headers": "Origin, X-Requested-With, Content-Type, Accept, Authorization",
}

KEY_PREFIX_RE = re.compile(r"[A-Za-z0-9_.\-]{1,64}")

# An API key shorter than this is too easy to guess.
MIN_API_KEY_LENGTH = 16

LOG_FORMATS = ("text", "json")
# The level names that both Python's logging (under gunicorn) and granian take.
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "WARN", "INFO", "DEBUG", "NOTSET")

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


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


# How each kind's environment text becomes a value; ValueError when it cannot.
_PARSERS: dict[Kind, Callable[[str], Any]] = {
    "str": str,
    "int": int,
    "float": float,
    "bool": _boolean,
    "json": json.loads,
}


def from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """Read the ``STASHD_*`` settings present in `environ`, each parsed by its kind.

    :raise ConfigError: a value that does not parse, naming the variable.
    """
    settings: dict[str, Any] = {}
    for setting in SETTINGS:
        text = environ.get(ENV_PREFIX + setting.name)
        if text is None or text == "":
            continue
        try:
            settings[setting.name] = _PARSERS[setting.kind](text)
        except ValueError as exc:
            raise ConfigError(
                f"{ENV_PREFIX}{setting.name}: cannot parse {text!r} ({exc})"
            ) from exc
    return settings


def load(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The defaults with `overrides` applied, validated.

    :raise ConfigError: see `validate`.
    """
    # Copies: a caller changing its settings must not change the defaults.
    settings = {name: copy.deepcopy(value) for name, value in DEFAULTS.items()}
    settings.update(overrides)
    validate(settings)
    return settings


def validate(config: Mapping[str, Any]) -> None:
    """Refuse settings stashd cannot run with, before it serves anything.

    :raise ConfigError: naming the setting and what is wrong with it.
    """
    prefix = config["KEY_PREFIX"]
    if not isinstance(prefix, str) or not KEY_PREFIX_RE.fullmatch(prefix):
        raise ConfigError(
            f"{ENV_PREFIX}KEY_PREFIX must be 1 to 64 characters from "
            f"A-Z a-z 0-9 _ . -, not {prefix!r}"
        )
    if not isinstance(config["MAX_BODY_BYTES"], int) or config["MAX_BODY_BYTES"] < 1:
        raise ConfigError(f"{ENV_PREFIX}MAX_BODY_BYTES must be a positive integer")
    if bool(config["API_USER"]) != bool(config["API_PASSWORD"]):
        raise ConfigError(
            f"{ENV_PREFIX}API_USER and {ENV_PREFIX}API_PASSWORD turn Basic auth on "
            "together: set both or neither"
        )
    key = config["API_KEY"]
    if key and not config["API_USER"]:
        raise ConfigError(
            f"{ENV_PREFIX}API_KEY needs {ENV_PREFIX}API_USER and "
            f"{ENV_PREFIX}API_PASSWORD: the key is registered for that user"
        )
    if key and (len(key) < MIN_API_KEY_LENGTH or key != key.strip()):
        raise ConfigError(
            f"{ENV_PREFIX}API_KEY must be at least {MIN_API_KEY_LENGTH} characters, "
            "without leading or trailing spaces"
        )
    for name in (
        "API_REQUEST_LIMIT",
        "ACCESS_TOKEN_TTL",
        "REFRESH_TOKEN_TTL",
        "AUTH_FAILURES",
        "AUTH_FAILURE_WINDOW",
    ):
        value = config[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{ENV_PREFIX}{name} must be a positive integer")
    for name in (
        "ARCHIVE_RETENTION_SECONDS",
        "ARCHIVE_BLOB_GRACE_SECONDS",
        "ARCHIVE_GC_INTERVAL_SECONDS",
        "ARCHIVE_TMP_MAX_AGE_SECONDS",
        "MIRROR_WAIT_SECONDS",
        "MIRROR_RETRY_SECONDS",
    ):
        value = config[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{ENV_PREFIX}{name} must be an integer of 0 or more")
    for name in ("ARCHIVE_SCAN_TIMEOUT_SECONDS", "ARCHIVE_SCAN_WAIT_SECONDS"):
        value = config[name]
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{ENV_PREFIX}{name} must be a number of 0 or more")
    if not config["ARCHIVE_SCAN_TIMEOUT_SECONDS"] > 0:
        raise ConfigError(f"{ENV_PREFIX}ARCHIVE_SCAN_TIMEOUT_SECONDS must be positive")
    for name in ("SHARE_DEFAULT_SECONDS", "SHARE_MAX_SECONDS"):
        value = config[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{ENV_PREFIX}{name} must be a positive integer")
    if config["SHARE_DEFAULT_SECONDS"] > config["SHARE_MAX_SECONDS"]:
        raise ConfigError(
            f"{ENV_PREFIX}SHARE_DEFAULT_SECONDS must not be longer than "
            f"{ENV_PREFIX}SHARE_MAX_SECONDS"
        )
    for name in ("ARCHIVE_MAX_BYTES", "BUNDLE_MAX_BYTES", "MIRROR_TIMEOUT_SECONDS"):
        value = config[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{ENV_PREFIX}{name} must be a positive integer")
    ca_file = config["MIRROR_CA_FILE"]
    if ca_file and not os.path.isfile(ca_file):
        raise ConfigError(f"{ENV_PREFIX}MIRROR_CA_FILE: no such file {ca_file!r}")
    public = config["PUBLIC_URL"]
    if public and urlsplit(public).scheme not in ("http", "https"):
        raise ConfigError(
            f"{ENV_PREFIX}PUBLIC_URL must be an http(s) URL such as "
            "https://stashd.example:8080"
        )
    if config["REFRESH_TOKEN_TTL"] < config["ACCESS_TOKEN_TTL"]:
        raise ConfigError(
            f"{ENV_PREFIX}REFRESH_TOKEN_TTL must not be shorter than "
            f"{ENV_PREFIX}ACCESS_TOKEN_TTL"
        )
    if config["REDIS_URL"]:
        redis_target(config["REDIS_URL"])
    replicas = config["REDIS_WAIT_REPLICAS"]
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise ConfigError(f"{ENV_PREFIX}REDIS_WAIT_REPLICAS must be 0 or more")
    cors = config["CORS"]
    if isinstance(cors, dict) and not all(isinstance(v, str) for v in cors.values()):
        raise ConfigError(f"{ENV_PREFIX}CORS values must be strings")
    binds(config["BIND"])
    trusted_proxies(config["TRUSTED_PROXIES"])
    allowed_origins(config["ALLOWED_ORIGINS"])
    if config["LOG_FORMAT"] not in LOG_FORMATS:
        raise ConfigError(
            f"{ENV_PREFIX}LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, "
            f"not {config['LOG_FORMAT']!r}"
        )
    level = config["LOG_LEVEL"]
    if not isinstance(level, str) or level.upper() not in LOG_LEVELS:
        raise ConfigError(
            f"{ENV_PREFIX}LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, "
            f"not {level!r}"
        )


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
