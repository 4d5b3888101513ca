"""``flask --app wsgi export FILE`` and ``flask --app wsgi import FILE``.

Both stream: export writes each batch as the store reads it, import reads lines and
writes a batch of up to `BATCH` records of one kind per pipelined round trip, so a
backup of a million stashes needs no more memory than one of ten. Progress goes to
stderr (a bar on a terminal), the counts to stdout at the end.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any, NamedTuple

import click
import redis
from flask import current_app
from flask.cli import with_appcontext

import backup
from backup import Part
from core import strictjson
from core.errors import BadRequest
from redisio.clients import BlockingClient

# Records per pipelined round trip on import.
BATCH = 500

# What --on-conflict does with a record the deployment holds already.
CONFLICT_MODES = ("fail", "skip", "replace")


def _parts() -> list[Part]:
    return current_app.extensions["backup"]


def _client() -> BlockingClient:
    return current_app.extensions["client"]


def _summary(counts: Counter[str], parts: list[Part]) -> str:
    kinds = [part.kind for part in parts if counts[part.kind]]
    return ", ".join(f"{counts[kind]} {kind}" for kind in kinds) or "nothing"


@contextmanager
def _private_file(path: str) -> Iterator[IO[bytes]]:
    """A file only its owner may read (it holds password hashes), written beside
    `path` and renamed over it once whole, so a failed export leaves no half file."""
    if path == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    temp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise


def _redis_errors(command: Callable[..., None]) -> Callable[..., None]:
    """`command`, with Redis failures told in one line rather than a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except redis.RedisError as exc:
            raise click.ClickException(f"redis: {exc}") from None

    return wrapper


@click.command("export")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@with_appcontext
@_redis_errors
def export_backup(file: str) -> None:
    """Write every record of this deployment to FILE ("-": stdout) as JSON lines.

    Stashes and silences carry their remaining lifetimes; users their password
    hashes and API keys their digests. The file is readable by its owner only.
    """
    parts, client = _parts(), _client()
    counts: Counter[str] = Counter()
    expected = sum(client.drive(part.count()) for part in parts)
    with (
        _private_file(file) as out,
        click.progressbar(
            length=expected, label="exporting", file=sys.stderr
        ) as progress,
    ):
        out.write(backup.header(int(time.time())) + b"\n")
        for part in parts:

            def emit(data: bytes, kind: str = part.kind) -> None:
                out.write(data + b"\n")
                counts[kind] += 1
                progress.update(1)

            client.drive(part.dump(emit))
        out.write(backup.end(counts.total()) + b"\n")
    where = "stdout" if file == "-" else file
    click.echo(
        f"exported {counts.total()} records to {where}: {_summary(counts, parts)}",
        err=file == "-",
    )


class Record(NamedTuple):
    number: int  # its line in the file
    item: Any


class Restore:
    """One import run: its counts, and what it reports on the way."""

    def __init__(
        self, parts: list[Part], client: BlockingClient, mode: str, quiet: bool = False
    ) -> None:
        self.quiet = quiet
        self.kinds = {part.kind: part for part in parts}
        self.parts = parts
        self.client = client
        self.mode = mode
        self.stored: Counter[str] = Counter()
        self.skipped = self.invalid = self.unstored = 0
        self.conflicts: list[str] = []

    def problem(self, number: int, message: str) -> None:
        if not self.quiet:
            click.echo(f"line {number}: {message}", err=True)

    def check_batch(self, part: Part, batch: list[Record]) -> list[bool]:
        """Whether each record of `batch` would replace something."""
        calls = [part.conflicts(record.item) for record in batch]
        found = iter(self.client.run_all([c for c in calls if c is not None]))
        return [False if call is None else next(found) for call in calls]

    def find_conflicts(self, part: Part, batch: list[Record]) -> None:
        """Note the records of `batch` the deployment holds (the check of `fail`)."""
        for record, taken in zip(batch, self.check_batch(part, batch), strict=True):
            if taken:
                self.conflicts.append(
                    f"line {record.number}: {part.label(record.item)}"
                )

    def restore(self, part: Part, batch: list[Record]) -> None:
        """Write `batch`, leaving out (skip) or stopping at (fail) the records the
        deployment holds already."""
        if self.mode != "replace":
            held = self.check_batch(part, batch)
            if self.mode == "fail" and any(held):
                first = held.index(True)
                self.restore(part, batch[:first])
                record = batch[first]
                raise click.ClickException(
                    f"line {record.number}: {part.label(record.item)} exists "
                    f"(--on-conflict fail); the records before it were imported"
                )
            self.skipped += sum(held)
            batch = [
                record for record, taken in zip(batch, held, strict=True) if not taken
            ]
        writes = [part.write(record.item) for record in batch]
        flat = [call for w in writes for call in (w if isinstance(w, list) else [w])]
        replies = iter(self.client.run_all(flat))
        results = [
            all([next(replies) for _ in w]) if isinstance(w, list) else next(replies)
            for w in writes
        ]
        settle = getattr(part, "settle", None)
        for record, stored in zip(batch, results, strict=True):
            if stored:
                self.stored[part.kind] += 1
                if settle is not None:
                    self.client.drive(settle(record.item))
            else:
                self.unstored += 1
                self.problem(
                    record.number,
                    f"{part.label(record.item)} not stored: "
                    "its namespace or user does not exist",
                )


def _lines(source: IO[bytes], progress: Any) -> Iterator[tuple[int, bytes]]:
    """The file's lines, numbered from 1, the progress bar following the bytes."""
    for number, data in enumerate(source, 1):
        progress.update(len(data))
        yield number, data


def _batches(
    source: IO[bytes], restore: Restore, progress: Any
) -> Iterator[tuple[Part, list[Record]]]:
    """The file's records, parsed and checked, in batches of one kind (up to
    `BATCH`); invalid lines are reported and counted on the way.

    :raise click.ClickException: not a backup, or not a whole one (after the
        batches read before the fault).
    """
    lines = _lines(source, progress)
    first = next(lines, None)
    try:
        if first is None:
            raise BadRequest("the file is empty")
        backup.check_header(strictjson.parse(first[1]))
    except BadRequest as exc:
        raise click.ClickException(f"line 1: {exc}") from None
    part: Part | None = None
    batch: list[Record] = []
    seen = 0
    ended: int | None = None
    after_end: int | None = None  # the first line after the end line
    for number, data in lines:
        if ended is not None:
            after_end = number
            break
        try:
            record = strictjson.parse(data)
            if not isinstance(record, dict):
                raise BadRequest("not a JSON object")
            kind = record.get("kind")
            if kind == backup.END:
                ended = backup.field(record, "records", int)
                continue
            seen += 1
            this = restore.kinds.get(kind) if isinstance(kind, str) else None
            if this is None:
                raise BadRequest(f"unknown kind of record {kind!r}")
            item = this.check(record)
        except BadRequest as exc:
            restore.invalid += 1
            restore.problem(number, str(exc))
            continue
        if part is not None and (this is not part or len(batch) == BATCH):
            yield part, batch
            batch = []
        part = this
        batch.append(Record(number, item))
    if part is not None and batch:
        yield part, batch
    if after_end is not None:
        raise click.ClickException(f"line {after_end}: records after the end line")
    if ended is None:
        raise click.ClickException(
            "the file has no end line: it was cut off, and only what it holds was read"
        )
    if ended != seen:
        raise click.ClickException(
            f"the end line counts {ended} records, the file holds {seen}"
        )


@contextmanager
def _open(file: str, label: str) -> Iterator[tuple[IO[bytes], Any]]:
    """FILE ("-": stdin) and a progress bar following its bytes."""
    if file == "-":
        source, size = sys.stdin.buffer, 0
    else:
        source = open(file, "rb")  # noqa: SIM115 (closed below)
        size = os.fstat(source.fileno()).st_size
    try:
        with click.progressbar(length=size, label=label, file=sys.stderr) as bar:
            yield source, bar
    finally:
        if source is not sys.stdin.buffer:
            source.close()


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--on-conflict",
    type=click.Choice(CONFLICT_MODES),
    default="fail",
    show_default=True,
    help="a record this deployment holds already: fail (checked before anything "
    "is written), skip it, or replace what is there",
)
@with_appcontext
@_redis_errors
def import_backup(file: str, on_conflict: str) -> None:
    """Restore the records of FILE ("-": stdin), a backup made by `export`.

    Lifetimes count from now. Invalid records are reported and left out, and the
    exit status is then 1.
    """
    parts, client = _parts(), _client()
    if on_conflict == "fail" and file != "-":
        restore = Restore(parts, client, on_conflict, quiet=True)
        with _open(file, "checking") as (source, bar):
            for part, batch in _batches(source, restore, bar):
                restore.find_conflicts(part, batch)
        if restore.conflicts:
            for conflict in restore.conflicts[:10]:
                click.echo(conflict, err=True)
            raise click.ClickException(
                f"{len(restore.conflicts)} records exist already and nothing was "
                "imported: choose --on-conflict skip or replace"
            )
    restore = Restore(parts, client, on_conflict)
    with _open(file, "importing") as (source, bar):
        for part, batch in _batches(source, restore, bar):
            restore.restore(part, batch)
    stored = restore.stored
    click.echo(
        f"imported {stored.total()} records: {_summary(stored, parts)}; "
        f"skipped {restore.skipped} existing, {restore.invalid} invalid, "
        f"{restore.unstored} not stored"
    )
    if restore.invalid or restore.unstored:
        click.get_current_context().exit(1)
