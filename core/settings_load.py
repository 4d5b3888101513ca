"""Reading the settings: ``STASHD_*`` variables parsed by kind, defaults, checks.

Each is parsed by its declared kind, not by guessing: ``STASHD_API_PASSWORD=1234``
or ``=true`` stays the string the operator typed.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from core.addresses import allowed_origins, binds, redis_target, trusted_proxies
from core.config_error import ENV_PREFIX, ConfigError
from core.settings import DEFAULTS, SETTINGS, Kind

KEY_PREFIX_RE = re.compile(r"[A-Za-z0-9_.\-]{1,64}")

# An API key shorter than this is too easy to guess.
MIN_API_KEY_LENGTH = 16

LOG_FORMATS = ("text", "json")
# The level names that both Python's logging (under gunicorn) and granian take.
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "WARN", "INFO", "DEBUG", "NOTSET")


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
