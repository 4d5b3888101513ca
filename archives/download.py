"""What a download answers once its record is found (spec archives.md 7.2-7.4):
headers, conditionals and ranges. No Flask, no Redis.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import NamedTuple
from urllib.parse import quote

from core.errors import ApiError

CONTENT_TYPES = {"tar+gzip": "application/gzip", "tar": "application/x-tar"}
IMMUTABLE = "max-age=31536000, immutable"


class RangeNotSatisfiable(ApiError):
    status, kind, default = 416, 1, "range not satisfiable"

    def __init__(self, size: int) -> None:
        super().__init__()
        self.headers.append(("Content-Range", f"bytes */{size}"))


class Plan(NamedTuple):
    """The answer to send: status, headers, and the bytes (offset, length) or
    None for no body."""

    status: int
    headers: list[tuple[str, str]]
    span: tuple[int, int] | None


def http_date(seconds: int) -> str:
    """Unix seconds as an HTTP date (``Last-Modified``)."""
    return format_datetime(datetime.fromtimestamp(seconds, UTC), usegmt=True)


def _parse_date(text: str | None) -> int | None:
    if not text:
        return None
    try:
        return int(parsedate_to_datetime(text).timestamp())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _b64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


def disposition(filename: str) -> str:
    """``attachment`` with the file name, in RFC 6266's two forms when not ASCII."""
    if filename.isascii():
        escaped = filename.replace("\\", "\\\\").replace('"', '\\"')
        return f'attachment; filename="{escaped}"'
    fallback = filename.encode("ascii", "replace").decode().replace('"', "_")
    return (
        f'attachment; filename="{fallback}"; '
        f"filename*=UTF-8''{quote(filename, safe='')}"
    )


def _single_range(header: str, size: int) -> tuple[int, int] | None:
    """(offset, length) of one ``bytes=`` range; None for several (served whole).

    :raise RangeNotSatisfiable: unparsable or outside the file.
    """
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or not spec.strip():
        raise RangeNotSatisfiable(size)
    parts = [p.strip() for p in spec.split(",")]
    if len(parts) > 1:
        return None
    first, dash, last = parts[0].partition("-")
    if not dash or not (first.isdigit() or last.isdigit()):
        raise RangeNotSatisfiable(size)
    if (first and not first.isdigit()) or (last and not last.isdigit()):
        raise RangeNotSatisfiable(size)
    if not first:  # the last n bytes
        n = int(last)
        if n == 0 or size == 0:
            raise RangeNotSatisfiable(size)
        n = min(n, size)
        return size - n, n
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        raise RangeNotSatisfiable(size)
    return start, end - start + 1


def plan(
    archive_id: str,
    sha256: str,
    size: int,
    kind: str,
    filename: str,
    created_at: int,
    cache_control: str,
    headers: dict[str, str | None],
) -> Plan:
    """Status, headers and span of a download of a servable archive, given the
    request's conditional and range headers (lower-case names).

    :raise RangeNotSatisfiable: (416, with ``Content-Range: bytes */size``).
    """
    etag = f'"{archive_id}"'
    validators = [
        ("ETag", etag),
        ("Last-Modified", http_date(created_at)),
        ("Cache-Control", cache_control),
    ]
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
        if "*" in tags or etag in tags:
            return Plan(304, validators, None)
    else:
        since = _parse_date(headers.get("if-modified-since"))
        if since is not None and since >= created_at:
            return Plan(304, validators, None)
    answer = [
        ("Content-Type", CONTENT_TYPES.get(kind, "application/octet-stream")),
        *validators,
        ("Repr-Digest", f"sha-256=:{_b64(sha256)}:, sha-512=:{_b64(archive_id)}:"),
        ("Accept-Ranges", "bytes"),
        ("Content-Disposition", disposition(filename)),
        ("X-Content-Type-Options", "nosniff"),
    ]
    span = (0, size)
    status = 200
    wanted = headers.get("range")
    if wanted is not None and headers.get("method") != "HEAD":
        if_range = headers.get("if-range")
        applies = True
        if if_range is not None:
            if if_range.strip().startswith('"') or if_range.strip().startswith("W/"):
                applies = if_range.strip() == etag
            else:
                date = _parse_date(if_range)
                applies = date is not None and date >= created_at
        if applies:
            found = _single_range(wanted, size)
            if found is not None:
                span, status = found, 206
                start, length = found
                answer.append(
                    ("Content-Range", f"bytes {start}-{start + length - 1}/{size}")
                )
    answer.append(("Content-Length", str(span[1])))
    return Plan(status, answer, span)
