"""What archive options and records look like (spec archives.md 3, 5.2, 6.1, 8.3).

No Flask, no Redis. A record is stored as its fields (`Stored`) and sent with the
derived ones (download URL, references, availability) added by `record_json`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple, NotRequired, TypedDict
from urllib.parse import quote

import esprima

ARCHIVE_ID = re.compile(r"[0-9a-fA-F]{128}")
MAX_FILENAME_BYTES = 255
MAX_ALIAS_BYTES = 1024
MAX_ALIASES = 16
_ALIAS_SEGMENT = re.compile(r"[A-Za-z0-9._~:@+\-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SECONDS = re.compile(r"[0-9]{1,10}")
# Characters an asset name may not hold become "_" in a suggested name (6.4).
_NOT_IN_NAME = re.compile(r"[^A-Za-z0-9_.:/\-]")
# Option names a multipart text part may carry (the query string wins over them).
OPTIONS = ("filename", "alias", "asset", "as", "filter", "share")


class Invalid(ValueError):
    """An option or field that breaks a rule; the message is the client's reason."""


class Origin(TypedDict):
    kind: str
    url: str | None
    headers: list[str]
    fetched_at: int | None
    error: str | None


class MirrorState(TypedDict):
    """What a mirrored record keeps for its next fetch and never shows: the
    upstream request headers (secrets) and when the last fetch failed."""

    headers: dict[str, str]
    failed_at: int | None


class Stored(TypedDict):
    """The fields of a record kept in Redis (as JSON); the rest are derived."""

    sha256: str
    size: int
    type: str
    filename: str
    state: str
    origin: Origin
    warnings: list[str]
    created_at: int
    updated_at: int
    labels: dict[str, str]
    annotations: dict[str, str]
    created_by: str
    mirror: NotRequired[MirrorState]  # a mirror's, until its bytes are in


class Options(NamedTuple):
    """An upload's options, from the query string and multipart text parts."""

    filename: str | None
    labels: dict[str, str]
    aliases: list[str]
    asset: str | None
    as_build: bool
    filters: list[str] | None  # None: none given
    share: int | None = None  # seconds: a share token goes into the written URL


def check_filename(name: str) -> str:
    """A file name of 5.2's rules. :raise Invalid:"""
    size = len(name.encode("utf-8", "surrogatepass"))
    if not 1 <= size <= MAX_FILENAME_BYTES:
        raise Invalid(f"filename must be 1 to {MAX_FILENAME_BYTES} bytes of UTF-8")
    if "/" in name or "\\" in name or _CONTROL.search(name):
        raise Invalid("filename must not contain /, \\ or control characters")
    return name


def check_alias(alias: str) -> str:
    """An alias of 8.3's rules. :raise Invalid:"""
    if not 1 <= len(alias.encode()) <= MAX_ALIAS_BYTES:
        raise Invalid(f"alias must be 1 to {MAX_ALIAS_BYTES} bytes")
    for segment in alias.split("/"):
        if segment in (".", "..") or not _ALIAS_SEGMENT.fullmatch(segment):
            raise Invalid(
                f"invalid alias {alias}: segments of A-Z a-z 0-9 . _ ~ : @ + - "
                "separated by /, none empty, . or .."
            )
    return alias


def check_aliases(aliases: Iterable[str]) -> list[str]:
    """Distinct valid aliases, at most 16. :raise Invalid:"""
    unique = list(dict.fromkeys(check_alias(a) for a in aliases))
    if len(unique) > MAX_ALIASES:
        raise Invalid(f"an archive has at most {MAX_ALIASES} aliases")
    return unique


def check_filters(filters: list[str]) -> list[str]:
    """Asset filter expressions, which must parse (assets.md 4.4). :raise Invalid:"""
    for i, expression in enumerate(filters):
        try:
            esprima.parseScript(expression)
        except (esprima.Error, RecursionError):
            raise Invalid(f"syntax error in filter {i}: {expression}") from None
    return filters


def parse_options(args: Mapping[str, list[str]]) -> Options:
    """The options of 5.2 and 6.1 from lists of values by name (the query string,
    over multipart text parts). :raise Invalid:"""

    def one(name: str) -> str | None:
        values = args.get(name) or []
        if len(values) > 1:
            raise Invalid(f"{name} may be given once")
        return values[0] if values else None

    filename = one("filename")
    if filename is not None:
        check_filename(filename)
    labels = {}
    for name, values in args.items():
        if name.startswith("labels."):
            key = name[len("labels.") :]
            if not key:
                raise Invalid("a label needs a name: labels.<name>=<value>")
            labels[key] = values[-1]
    aliases = check_aliases(args.get("alias") or [])
    asset = one("asset")
    mode = one("as") or "url"
    if mode not in ("url", "build"):
        raise Invalid("as must be url or build")
    filters = args.get("filter")
    if filters is not None:
        check_filters(list(filters))
    if asset is None and (one("as") is not None or filters is not None):
        raise Invalid("as and filter need asset=<name>")
    share = one("share")
    if share is not None and not _SECONDS.fullmatch(share):
        raise Invalid("share must be a number of seconds")
    return Options(
        filename,
        labels,
        aliases,
        asset,
        mode == "build",
        None if filters is None else list(filters),
        None if share is None else int(share),
    )


def default_filename(archive_id: str, kind: str) -> str:
    """The file name of an upload that gave none (5.2)."""
    return archive_id[:16] + (".tar.gz" if kind == "tar+gzip" else ".tar")


def suggested_name(filename: str) -> str:
    """An asset name from a file name (6.4): the extension off, other characters
    than an asset name allows turned into ``_``."""
    for extension in (".tar.gz", ".tgz", ".tar"):
        if filename.endswith(extension) and len(filename) > len(extension):
            filename = filename[: -len(extension)]
            break
    return _NOT_IN_NAME.sub("_", filename)


def canonical_path(ns: str, archive_id: str, filename: str) -> str:
    """The canonical download path of an archive (section 1)."""
    return f"/archives/{quote(ns, safe='')}/{archive_id}/{quote(filename, safe='')}"


class RecordView(NamedTuple):
    """A record as read from Redis: its stored fields and the rest."""

    stored: Stored
    # The write version, the compare-and-set token of record writes; clients
    # see `record_etag`, which also follows references and moved aliases.
    etag: str
    deleted_at: int | None
    last_download_at: int | None
    aliases: list[str]
    referenced_by: list[str]
    # The blob's scan verdict as copied onto the record; None until it has one.
    scan: dict[str, Any] | None = None


UNSCANNED = {"state": "unscanned", "scanned_at": None, "detail": ""}


def record_state(view: RecordView) -> str:
    """A record's ``state``: a mirror's own (``pending``, ``failed``), else its
    blob's scan state (``unscanned`` until a verdict is copied onto it)."""
    state = view.stored["state"]
    if state in ("pending", "failed") or view.scan is None:
        return state
    return str(view.scan["state"])


def scan_blocks(state: str, scanning: bool) -> bool:
    """True when the scan state keeps an archive from being served: while scanning
    is on, anything but ``clean``; ``infected`` always (kept for inspection only)."""
    if state in ("pending", "failed"):
        return False
    return state != "clean" if scanning else state == "infected"


def record_json(
    ns: str,
    archive_id: str,
    view: RecordView,
    base_url: str,
    scanning: bool = False,
) -> dict[str, Any]:
    """A record in the shape of section 3, every key present; `scanning`: whether
    the scan hook is on (only ``clean`` is available then)."""
    stored = view.stored
    state = record_state(view)
    deleted = view.deleted_at is not None
    available = not deleted and state not in ("pending", "failed")
    return {
        "sha512": archive_id,
        "sha256": stored["sha256"],
        "size": stored["size"],
        "type": stored["type"],
        "filename": stored["filename"],
        "state": state,
        "available": available and not scan_blocks(state, scanning),
        "scan": dict(view.scan or UNSCANNED),
        "origin": stored["origin"],
        "aliases": sorted(view.aliases),
        "download_url": base_url + canonical_path(ns, archive_id, stored["filename"]),
        "referenced_by": sorted(view.referenced_by),
        "warnings": stored["warnings"],
        "created_at": stored["created_at"],
        "updated_at": stored["updated_at"],
        "deleted_at": view.deleted_at,
        "last_download_at": view.last_download_at,
        "metadata": {
            "name": archive_id,
            "namespace": ns,
            "labels": stored["labels"],
            "annotations": stored["annotations"],
            "created_by": stored["created_by"],
        },
    }


def record_etag(record: dict[str, Any]) -> str:
    """The ETag of a record as `record_json` gives it (8.3): a digest of all of it
    but ``download_url`` (which follows the request's host), so it changes
    whenever the record does and stays equal while it does not."""
    content = {key: value for key, value in record.items() if key != "download_url"}
    data = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(data.encode()).hexdigest()[:32]
