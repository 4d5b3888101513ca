"""``flask --app wsgi archives gc`` and ``... archives fsck``: the maintenance the
server also does, for cron."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from archives import garbage


@click.group("archives")
def cli() -> None:
    """Archive storage maintenance."""


@cli.command("gc")
@with_appcontext
def gc() -> None:
    """Purge old unreferenced trash, delete unheld blobs, remove stale temp files."""
    app = current_app
    client = app.extensions["client"]
    names = client.drive(app.extensions["namespaces"].names())
    report = garbage.collect_garbage(
        client, app.extensions["archives"], app.extensions["blobs"], names, app.config
    )
    if report is None:
        click.echo("another process is collecting garbage; nothing done", err=True)
        sys.exit(1)
    for name, value in report._asdict().items():
        click.echo(f"{name}: {value}")


@cli.command("fsck")
@with_appcontext
def fsck() -> None:
    """Re-hash every blob; list those whose bytes no longer match (exit 1)."""
    damaged = garbage.fsck(current_app.extensions["blobs"])
    for archive_id in damaged:
        click.echo(f"damaged: {archive_id}")
    click.echo(f"{len(damaged)} damaged blob(s)")
    if damaged:
        sys.exit(1)
