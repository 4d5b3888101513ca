"""stashd's log lines: plain text by default, one JSON object a line on request.

`dict_config` is the one logging configuration, handed to whichever runs first:
gunicorn (``logconfig_dict``), granian (``--log-config``, in its main process and
every worker) and the launcher. With ``STASHD_LOG_FORMAT=json`` every line, the
servers' own included, is a JSON object; lines logged while a request is served
carry its request ID. Access lines come from `core.observe`, with the route
template rather than the URL path (an API key can be a path segment), and never a
header or a body.
"""

from __future__ import annotations

import json
import logging
import time
from contextvars import ContextVar
from typing import Any

# The request being served on this thread or task: its ID, for every line logged.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

ACCESS_LOGGER = "stashd.access"
# gunicorn's own line format, kept for plain text under either server.
TEXT_FORMAT = "%(asctime)s [%(process)d] [%(levelname)s] %(message)s"

# Attributes every LogRecord has; whatever else a record carries was passed as
# `extra` and goes into the JSON object.
_STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys()
    | {"message", "asctime", "taskName"}
)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, the
    request ID of the request being served, any `extra` fields, the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        seconds = time.gmtime(record.created)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", seconds)
        line: dict[str, Any] = {
            "time": f"{stamp}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        current = request_id.get()
        if current is not None:
            line["request_id"] = current
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, default=str, ensure_ascii=False)


def dict_config(level: str, fmt: str) -> dict[str, Any]:
    """The logging configuration (``logging.config.dictConfig``) for `level` and
    `fmt` ("text" or "json"): every logger writes to stderr, access lines to
    stdout as the servers write theirs.

    Loggers of the servers (granian's, gunicorn's) are named, so their lines take
    the same format; gunicorn merges this over its own defaults.
    """
    formatter: dict[str, Any] = (
        {"()": "core.logs.JsonFormatter"}
        if fmt == "json"
        else {"format": TEXT_FORMAT, "datefmt": "[%Y-%m-%d %H:%M:%S %z]"}
    )
    stderr = {"class": "logging.StreamHandler", "stream": "ext://sys.stderr"}
    stdout = {"class": "logging.StreamHandler", "stream": "ext://sys.stdout"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"stashd": formatter},
        "handlers": {
            "stashd": {**stderr, "formatter": "stashd"},
            "stashd_access": {**stdout, "formatter": "stashd"},
        },
        "root": {"level": level.upper(), "handlers": ["stashd"]},
        "loggers": {
            ACCESS_LOGGER: {
                "level": "INFO",
                "handlers": ["stashd_access"],
                "propagate": False,
            },
        },
    }
