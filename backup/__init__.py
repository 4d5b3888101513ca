"""Backups: every record of a deployment as JSON lines, and back again.

A backup file is a header line ``{"format": "stashd-backup", "version": 1, ...}``,
one line per record ``{"kind": "<kind>", ...}``, and an end line
``{"kind": "end", "records": <n>}`` (so a cut-off file is told from a whole one).
Each API contributes a `Part` from its own ``backup.py``; app.py lists them in the
order a restore needs them (namespaces and users before what lives in them). A new
kind of record (archives) is a new part appended there; the format stays version 1
as long as only kinds are added.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from core import strictjson
from core.errors import BadRequest
from redisio.calls import Call, Steps
from sensugo.paging import Batch, Batches

FORMAT = "stashd-backup"
VERSION = 1
END = "end"

# Writes one record line (without its newline) to the backup file.
Emit = Callable[[bytes], None]


class Part(Protocol):
    """One kind of record: how to count, dump and restore it. Nothing here runs a
    command; the backup commands run what a part describes, a batch at a time."""

    kind: str

    def count(self) -> Steps[int]:
        """About how many records `dump` will write (from the indexes)."""
        ...

    def dump(self, emit: Emit) -> Steps[None]:
        """Every record of this kind, emitted a batch per round trip as it comes."""
        ...

    def check(self, record: dict[str, Any]) -> Any:
        """The item a record line describes. :raise BadRequest: not such a record."""
        ...

    def label(self, item: Any) -> str:
        """How messages name `item`."""
        ...

    def conflicts(self, item: Any) -> Call | None:
        """One round trip: True when restoring `item` would replace what the
        deployment holds; None when it never would."""
        ...

    def write(self, item: Any) -> Call | list[Call]:
        """One round trip storing `item`, replacing what is there; True when stored
        (False: what it belongs to, a namespace or a user, does not exist). Several,
        in order, where what it stores spans Redis Cluster slots: stored when each
        answers True."""
        ...

    # Optional: ``settle(item) -> Steps[None]``, run once `item` is stored, for what
    # follows from what the deployment holds (archives: the blob's scan verdict).


def line(kind: str, fields: dict[str, Any], **raw: bytes) -> bytes:
    """A record line: `fields` as JSON, then each of `raw`, which is JSON already
    (stored content, copied as it is rather than parsed and encoded again)."""
    out = strictjson.dumps({"kind": kind, **fields})[:-1]
    for name, value in raw.items():
        out += b',"' + name.encode() + b'":' + value
    return out + b"}"


def walk(batches: Batches, each: Callable[[Any], None]) -> Steps[None]:
    """Pass every item of `batches` to `each`, holding one batch at a time."""
    cursor = batches.start
    while (call := batches.fetch(cursor)) is not None:
        batch: Batch = yield call
        for item in batch.items:
            each(item)
        if batch.next is None:
            return
        cursor = batch.next


def count_each(names: Steps[list[str]], count: Callable[[str], Call]) -> Steps[int]:
    """The sum of `count` (one round trip) over the namespaces `names` lists."""
    total = 0
    for ns in (yield from names):
        total += yield count(ns)
    return total


def header(created: int) -> bytes:
    """The first line of a backup made at Unix time `created`."""
    return strictjson.dumps({"format": FORMAT, "version": VERSION, "created": created})


def end(records: int) -> bytes:
    """The last line of a backup of `records` records."""
    return strictjson.dumps({"kind": END, "records": records})


def check_header(record: Any) -> None:
    """:raise BadRequest: not the header of a backup this stashd can read."""
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise BadRequest("not a stashd backup (its first line is no header)")
    version = record.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise BadRequest("the header has no valid version")
    if version > VERSION:
        raise BadRequest(
            f"backup format version {version} is newer than this stashd's ({VERSION})"
        )


def field(record: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    """`record[name]`, which must be of type `kind` (booleans are no integers).

    :raise BadRequest: missing or of another type.
    """
    value = record.get(name)
    if isinstance(value, bool) and bool not in (
        kind if isinstance(kind, tuple) else (kind,)
    ):
        value = None
    if not isinstance(value, kind):
        raise BadRequest(f"{name!r} is missing or not a {_names(kind)}")
    return value


def text(record: dict[str, Any], name: str) -> str:
    """`record[name]`, a string that is not empty. :raise BadRequest:"""
    value = field(record, name, str)
    if not value:
        raise BadRequest(f"{name!r} is empty")
    return value


def ttl_ms(record: dict[str, Any]) -> int | None:
    """The record's remaining lifetime in ms (``ttl_ms``), None for none.

    :raise BadRequest: neither null nor a positive integer.
    """
    if record.get("ttl_ms") is None:
        return None
    value = field(record, "ttl_ms", int)
    if value <= 0:
        raise BadRequest("'ttl_ms' must be positive or null")
    return value


def _names(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    words = {str: "string", int: "integer", dict: "JSON object", bool: "boolean"}
    return " or ".join(words.get(k, k.__name__) for k in kinds)
