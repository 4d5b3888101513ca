"""Every setting stashd reads, its default, and how its environment variable is parsed.

Settings come from ``STASHD_<NAME>`` environment variables. Each is parsed by its
declared kind, not by guessing: ``STASHD_API_PASSWORD=1234`` or ``=true`` stays the
string the operator typed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ENV_PREFIX = "STASHD_"

# stashd's own version; /info reports it as sensu.version.
VERSION = "0.1.0"

# Sensu 1.x clients expect 4567, Sensu Go clients 8080; every route is on both.
DEFAULT_BIND = "127.0.0.1:4567 127.0.0.1:8080"

# Sensu 1.x's CORS headers, byte for byte: its API spec tests them.
DEFAULT_CORS = {
    "Origin": "*",
    "Methods": "GET, POST, PUT, DELETE, OPTIONS",
    "Credentials": "true",
    "Headers": "Origin, X-Requested-With, Content-Type, Accept, Authorization",
}

KEY_PREFIX_RE = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


class ConfigError(ValueError):
    """A setting has a value stashd cannot run with; the message names it."""


class Defaults:
    """Every setting with its default; `create_app` loads this first."""

    # Where Redis is. None: `make run` / gunicorn start the embedded Redis and set it.
    REDIS_URL: str | None = None
    # Seconds to connect to / wait on Redis; two attempts must fit in 2 s (spec 2.6).
    REDIS_TIMEOUT: float = 0.5
    # Embedded Redis data (append-only file) lives here.
    DATA_DIR: str = "var"
    # Both set: this user is made (or updated) as the administrator at start, and
    # the stash routes require credentials.
    API_USER: str | None = None
    API_PASSWORD: str | None = None
    # An API key registered for API_USER at start (Authorization: Key <key>).
    API_KEY: str | None = None
    # Largest request body on the Sensu Go routes; Sensu's api-request-limit default.
    API_REQUEST_LIMIT: int = 512_000
    # Lifetimes of access tokens (Sensu Go 6.x: 5 minutes) and refresh tokens, in s.
    ACCESS_TOKEN_TTL: int = 300
    REFRESH_TOKEN_TTL: int = 12 * 3600
    # JSON object: key K becomes Access-Control-Allow-K; a non-object turns CORS off.
    CORS: Any = DEFAULT_CORS
    # Largest stash request body; larger ones get 413.
    MAX_BODY_BYTES: int = 8 * 1024 * 1024
    # Every Redis key begins "<prefix>:", so deployments can share one Redis.
    KEY_PREFIX: str = "stashd"
    # Serve the stash routes without Flask; off only to compare the two.
    FAST_PATH: bool = True
    # The namespace the Sensu 1.x /silenced routes show and write (one registry).
    SILENCED_V1_NAMESPACE: str = "default"
    # Longest silence allowed, in seconds; 0: no maximum.
    SILENCED_MAX_SECONDS: int = 0
    # Lifetime given to silences sent without one, in seconds; 0: none.
    SILENCED_DEFAULT_SECONDS: int = 0


# How each setting's environment text becomes a value.
_KINDS: dict[str, str] = {
    "REDIS_URL": "str",
    "REDIS_TIMEOUT": "float",
    "DATA_DIR": "str",
    "API_USER": "str",
    "API_PASSWORD": "str",
    "API_KEY": "str",
    "API_REQUEST_LIMIT": "int",
    "ACCESS_TOKEN_TTL": "int",
    "REFRESH_TOKEN_TTL": "int",
    "CORS": "json",
    "MAX_BODY_BYTES": "int",
    "KEY_PREFIX": "str",
    "FAST_PATH": "bool",
    "SILENCED_V1_NAMESPACE": "str",
    "SILENCED_MAX_SECONDS": "int",
    "SILENCED_DEFAULT_SECONDS": "int",
}

# Settings left out of /info's settings digest.
SECRETS = frozenset({"API_PASSWORD", "API_KEY"})

# An API key shorter than this is too easy to guess.
MIN_API_KEY_LENGTH = 16


def from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """Read the ``STASHD_*`` settings present in `environ`, each parsed by its kind.

    :raise ConfigError: a value that does not parse, naming the variable.
    """
    settings: dict[str, Any] = {}
    for name, kind in _KINDS.items():
        text = environ.get(ENV_PREFIX + name)
        if text is None or text == "":
            continue
        try:
            if kind == "bool":
                settings[name] = _boolean(text)
            elif kind == "int":
                settings[name] = int(text)
            elif kind == "float":
                settings[name] = float(text)
            elif kind == "json":
                settings[name] = json.loads(text)
            else:
                settings[name] = text
        except ValueError as exc:
            raise ConfigError(
                f"{ENV_PREFIX}{name}: cannot parse {text!r} ({exc})"
            ) from exc
    return settings


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def load(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The defaults with `overrides` applied, validated.

    :raise ConfigError: see `validate`.
    """
    settings = {name: value for name, value in vars(Defaults).items() if name.isupper()}
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
    for name in ("API_REQUEST_LIMIT", "ACCESS_TOKEN_TTL", "REFRESH_TOKEN_TTL"):
        value = config[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{ENV_PREFIX}{name} must be a positive integer")
    if config["REFRESH_TOKEN_TTL"] < config["ACCESS_TOKEN_TTL"]:
        raise ConfigError(
            f"{ENV_PREFIX}REFRESH_TOKEN_TTL must not be shorter than "
            f"{ENV_PREFIX}ACCESS_TOKEN_TTL"
        )
    cors = config["CORS"]
    if isinstance(cors, dict) and not all(isinstance(v, str) for v in cors.values()):
        raise ConfigError(f"{ENV_PREFIX}CORS values must be strings")


def cors_headers(cors: Any) -> list[tuple[str, str]]:
    """The CORS headers every response carries; none when `cors` is not an object."""
    if not isinstance(cors, dict):
        return []
    return [(f"Access-Control-Allow-{key}", value) for key, value in cors.items()]


def public_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The effective settings with secrets left out (for /info's digest)."""
    settings = {
        name: config[name]
        for name in vars(Defaults)
        if name.isupper() and name not in SECRETS
    }
    url = settings["REDIS_URL"]
    if url:
        parts = urlsplit(url)
        if parts.password is not None:
            host = parts.netloc.rpartition("@")[2]
            settings["REDIS_URL"] = urlunsplit(parts._replace(netloc=f"***@{host}"))
    return settings


def binds(environ: Mapping[str, str]) -> list[tuple[str, int]]:
    """``STASHD_BIND`` as (host, port) pairs: ``"0.0.0.0:4567 [::1]:8080"``.

    :raise ConfigError: an item that is not host:port.
    """
    pairs = []
    for item in (
        (environ.get(ENV_PREFIX + "BIND") or DEFAULT_BIND).replace(",", " ").split()
    ):
        host, _, port = item.rpartition(":")
        if not host or not (port.isascii() and port.isdigit()):
            raise ConfigError(f"{ENV_PREFIX}BIND: {item!r} is not host:port")
        pairs.append((host.strip("[]"), int(port)))
    return pairs
