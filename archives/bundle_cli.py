"""``flask --app wsgi archives bundle export|import``: bundles as files, for hosts
where the bundle is carried to the server itself (spec archives.md 13; the same
checks and the same one step as the routes)."""

from __future__ import annotations

import os
import time

import click
from flask import current_app
from flask.cli import with_appcontext

from archives import bundles, bundling
from core.errors import ApiError
from core.settings import VERSION


@click.group("bundle")
def bundle() -> None:
    """Export and import bundles of assets and their archives."""


def _context() -> tuple:
    app = current_app
    return app.extensions["client"], app.extensions["archives"], app.extensions["blobs"]


@bundle.command("export")
@click.argument("namespace")
@click.option("--asset", "names", multiple=True, help="an asset and its archives")
@click.option("--archive", "ids", multiple=True, help="an archive by SHA-512")
@click.option("--all", "everything", is_flag=True, help="every asset and archive")
@click.option("--skip-missing", is_flag=True, help="assets naming archives not here")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
@with_appcontext
def export_bundle(
    namespace: str,
    names: tuple[str, ...],
    ids: tuple[str, ...],
    everything: bool,
    skip_missing: bool,
    output: str,
) -> None:
    """Write a bundle of NAMESPACE's assets and archives to OUTPUT."""
    client, store, blobs = _context()
    if not client.run(current_app.extensions["namespaces"].exists(namespace)):
        raise click.ClickException(f"namespace {namespace} does not exist")
    try:
        chosen = bundling.select(
            client, store, blobs, namespace, list(names), list(ids), everything,
            skip_missing, redact=False,
        )  # fmt: skip
    except ApiError as exc:
        raise click.ClickException(exc.message) from None
    source = current_app.config["PUBLIC_URL"]
    manifest = bundles.manifest(
        namespace, source, VERSION, chosen.entries, chosen.assets, chosen.missing
    )
    made = bundles.export(manifest, blobs, chosen.entries, int(time.time()))
    partial = output + ".part"
    with (
        open(partial, "wb") as file,
        click.progressbar(length=made.length, label="bundle", file=None) as bar,
    ):
        for piece in made.pieces:
            file.write(piece)
            bar.update(len(piece))
        file.flush()
        os.fsync(file.fileno())
    # Only a whole bundle takes the name: a cut one never passes for finished.
    os.replace(partial, output)
    click.echo(
        f"{len(chosen.entries)} archive(s), {len(chosen.assets)} asset(s), "
        f"{made.length} bytes: {output}"
    )
    for archive_id in chosen.missing:
        click.echo(f"missing: {archive_id}", err=True)


@bundle.command("import")
@click.argument("namespace")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--on-conflict", type=click.Choice(bundling.CONFLICTS), default="fail",
    help="an asset that exists: fail (nothing imported), skip, replace",
)  # fmt: skip
@click.option("--no-rewrite-urls", is_flag=True, help="keep the assets' URLs")
@click.option("--url", help="this server's base URL (default STASHD_PUBLIC_URL)")
@click.option("--user", default="admin", help="recorded as created_by")
@with_appcontext
def import_bundle(
    namespace: str,
    path: str,
    on_conflict: str,
    no_rewrite_urls: bool,
    url: str | None,
    user: str,
) -> None:
    """Import the bundle at PATH into NAMESPACE, checked whole first."""
    config = current_app.config
    base = (url or config["PUBLIC_URL"]).rstrip("/")
    if not base and not no_rewrite_urls:
        raise click.ClickException(
            "rewriting URLs needs --url or STASHD_PUBLIC_URL (or --no-rewrite-urls)"
        )
    if os.path.getsize(path) > config["BUNDLE_MAX_BYTES"]:
        raise click.ClickException(
            f"bundle is larger than {config['BUNDLE_MAX_BYTES']} bytes"
        )
    client, store, blobs = _context()
    try:
        with open(path, "rb") as file:
            received = bundles.read_bundle(file, blobs, config["ARCHIVE_MAX_BYTES"])
        try:
            body = bundling.store_import(
                client, store, blobs, namespace, received, not no_rewrite_urls,
                on_conflict, base, user, current_app.config,
            )  # fmt: skip
        finally:
            received.discard()
    except ApiError as exc:
        raise click.ClickException(exc.message) from None
    archives, assets = body["archives"], body["assets"]
    click.echo(
        f"archives: {len(archives['created'])} created, "
        f"{len(archives['existing'])} existing; assets: {len(assets['created'])} "
        f"created, {len(assets['replaced'])} replaced, "
        f"{len(assets['skipped'])} skipped"
    )
