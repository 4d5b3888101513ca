"""Maintenance commands: ``flask --app wsgi <command>``."""

from __future__ import annotations

import sys
from typing import cast

import click
import redis
from flask import current_app
from flask.cli import with_appcontext

from core import strictjson
from core.errors import BadRequest
from stashes.store import StashStore


@click.command("import-sensu")
@click.argument("source_url")
@with_appcontext
def import_sensu(source_url: str) -> None:
    """Copy the stashes of a Sensu 1.x Redis (SOURCE_URL) into stashd.

    Sensu keeps each stash under ``stash:<path>`` and lists the paths in the set
    ``stashes``. Remaining TTLs carry over; a stash already in stashd at the same path
    is replaced. Stored values that are not JSON objects are reported and skipped.
    """
    store: StashStore = current_app.extensions["stashes"]
    client = current_app.extensions["client"]
    source: redis.Redis = redis.Redis.from_url(source_url)
    copied = skipped = 0
    members: set[bytes] = cast(set[bytes], source.smembers("stashes"))
    with click.progressbar(
        sorted(members), label="importing stashes", file=sys.stderr
    ) as progress:
        for member in progress:
            key = b"stash:" + member
            with source.pipeline(transaction=True) as pipe:
                pipe.get(key)
                pipe.pttl(key)
                raw, pttl = pipe.execute()
            if raw is None:
                continue  # listed but expired or gone: Sensu left it in the set
            try:
                path = member.decode()
                content = strictjson.parse(raw)
                if not isinstance(content, dict):
                    raise BadRequest("not a JSON object")
            except (BadRequest, UnicodeDecodeError) as exc:
                click.echo(f"skipped {member!r}: {exc}", err=True)
                skipped += 1
                continue
            ttl = -(-pttl // 1000) if pttl > 0 else None
            client.run(store.put(path, strictjson.dumps(content), ttl))
            copied += 1
    click.echo(f"imported {copied} stashes, skipped {skipped}")
    # The other APIs' parts of the same Redis; app.py lists them.
    for importer in current_app.extensions.get("sensu_importers", ()):
        importer(source)
