"""The silenced part of `flask --app wsgi import-sensu`: Sensu 1.x silences."""

from __future__ import annotations

import sys
from typing import cast

import click
import redis
from flask import current_app

from core import strictjson
from core.errors import BadRequest
from silenced.schemas import load_v1_import
from silenced.store import SilencedStore

PREFIX = b"silence:"


def import_silences(source: redis.Redis) -> None:
    """Copy the ``silence:<id>`` entries listed in `source`'s set ``silenced`` into
    the 1.x view, with their remaining TTLs, replacing entries of the same name;
    values that are not entries are reported and skipped."""
    store: SilencedStore = current_app.extensions["silenced"]
    client = current_app.extensions["client"]
    copied = skipped = 0
    members: set[bytes] = cast(set[bytes], source.smembers("silenced"))
    with click.progressbar(
        sorted(members), label="importing silences", file=sys.stderr
    ) as progress:
        for member in progress:
            with source.pipeline(transaction=True) as pipe:
                pipe.get(member)
                pipe.pttl(member)
                raw, pttl = pipe.execute()
            if raw is None:
                continue  # listed but expired or cleared: Sensu cleans the set lazily
            try:
                if not member.startswith(PREFIX):
                    raise BadRequest("not a silence:<id> key")
                name, write = load_v1_import(strictjson.parse(raw), pttl)
            except BadRequest as exc:
                click.echo(f"skipped {member!r}: {exc}", err=True)
                skipped += 1
                continue
            client.run(store.put(store.v1_namespace, name, write, False, False))
            copied += 1
    click.echo(f"imported {copied} silences, skipped {skipped}")
