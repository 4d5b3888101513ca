"""create_app(): the one place that wires stashd together."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, request
from redis import RedisCluster
from werkzeug.exceptions import HTTPException

import accounts
import archives
import assets
import namespaces
import silenced
import stashes
from accounts import apikeys
from accounts.authenticator import Authenticator
from accounts.backup import ApiKeyBackup, UserBackup
from accounts.store import AccountStore
from archives.backup import ArchiveBackup, ShareBackup
from archives.blobs import BlobStore
from archives.scan_store import ScanStore
from archives.share_store import ShareStore
from archives.store import ArchiveStore
from assets.backup import AssetBackup
from assets.store import AssetStore
from backup.cli import export_backup, import_backup
from core import metrics
from core.addresses import allowed_origins
from core.errors import register_error_handlers
from core.gate import Gate
from core.http import JSONResponse
from core.observe import UNROUTED, Observer
from core.replies import FastRoutes
from core.settings import cors_headers
from core.settings_load import from_env, load
from namespaces.backup import NamespaceBackup
from namespaces.store import NamespaceStore
from redisio.clients import RedisClient, make_client, make_runner
from redisio.keys import STASH_BUCKETS, Keys
from server.metrics import DeploymentCollector
from server.metrics import bp as metrics_bp
from server.openapi import bp as openapi_bp
from server.wsgi import ROUTE_KEY, Front
from silenced.backup import SilencedBackup
from silenced.cli import import_silences
from silenced.fast import MatchRoute
from silenced.schemas import check_settings
from silenced.store import SilencedStore
from stashes.backup import StashBackup
from stashes.buckets import BucketedStashStore
from stashes.cli import import_sensu
from stashes.fast import FastPath
from stashes.store import StashStore


def create_app(
    config: Mapping[str, Any] | None = None, *, redis: RedisClient | None = None
) -> Flask:
    """Build the app; tests pass config (and often a client), production neither.

    :raise ConfigError: a setting stashd cannot run with.
    """
    app = Flask(__name__, static_folder=None)
    app.response_class = JSONResponse
    # Tests must not depend on the caller's environment, so it is either or.
    app.config.update(load(from_env(os.environ) if config is None else config))
    check_settings(app.config)

    client = redis if redis is not None else make_client(app.config)
    app.extensions["redis"] = client
    runner = app.extensions["client"] = make_runner(app.config, client)
    cluster = isinstance(client, RedisCluster)
    keys = Keys(app.config["KEY_PREFIX"], cluster)
    # On Redis Cluster stashes spread over buckets; elsewhere they keep one.
    store = app.extensions["stashes"] = (
        BucketedStashStore(keys, STASH_BUCKETS) if cluster else StashStore(keys)
    )
    app.extensions["namespaces"] = NamespaceStore(keys, cluster)
    app.extensions["assets"] = AssetStore(keys)
    app.extensions["archives"] = ArchiveStore(keys)
    app.extensions["scans"] = ScanStore(keys)
    app.extensions["shares"] = ShareStore(keys)
    app.extensions["blobs"] = BlobStore(
        os.path.join(app.config["DATA_DIR"], "archives")
    )
    silenced_store = app.extensions["silenced"] = SilencedStore(
        keys, app.config["SILENCED_V1_NAMESPACE"]
    )
    account_store = app.extensions["accounts"] = AccountStore(keys)
    authenticator = app.extensions["auth"] = Authenticator(
        account_store, runner, app.config
    )

    # Stash paths are taken verbatim: no merged "//", no trailing-slash redirects.
    app.url_map.merge_slashes = False
    app.url_map.strict_slashes = False
    app.url_map.converters["stash"] = stashes.StashPath
    app.url_map.converters["asset"] = assets.AssetName
    app.url_map.converters["archive_id"] = archives.ArchiveId
    register_error_handlers(app)
    app.cli.add_command(import_sensu)
    app.cli.add_command(archives.cli)
    app.cli.add_command(export_backup)
    app.cli.add_command(import_backup)
    # What a backup holds, in the order a restore needs: a namespace or a user
    # before what lives in it.
    app.extensions["backup"] = [
        NamespaceBackup(app.extensions["namespaces"]),
        UserBackup(account_store),
        ApiKeyBackup(account_store),
        StashBackup(store),
        SilencedBackup(silenced_store),
        AssetBackup(app.extensions["assets"], app.extensions["namespaces"]),
        ArchiveBackup(
            app.extensions["archives"],
            app.extensions["namespaces"],
            app.extensions["blobs"],
            app.config,
        ),
        ShareBackup(
            app.extensions["archives"],
            app.extensions["shares"],
            app.extensions["namespaces"],
        ),
    ]
    # import-sensu also brings the silencing entries (stashes knows no silenced).
    app.extensions["sensu_importers"] = [import_silences]
    app.register_blueprint(stashes.bp)
    app.register_blueprint(namespaces.bp, url_prefix="/api/core/v2")
    app.register_blueprint(assets.bp, url_prefix="/api/core/v2")
    app.register_blueprint(archives.bp, url_prefix="/api/core/v2")
    app.register_blueprint(archives.downloads)
    app.register_blueprint(apikeys.bp, url_prefix="/api/core/v2")
    app.register_blueprint(accounts.bp)
    app.register_blueprint(silenced.bp)
    app.register_blueprint(silenced.go_bp, url_prefix="/api/core/v2")
    app.register_blueprint(openapi_bp)
    fast = (
        FastRoutes(
            FastPath(store, app.config["MAX_BODY_BYTES"]),
            MatchRoute(silenced_store, authenticator),
        )
        if app.config["FAST_PATH"]
        else None
    )
    # Stash routes need credentials only once an administrator is configured.
    allows = authenticator if authenticator.guards_stashes else None
    origins = allowed_origins(app.config["ALLOWED_ORIGINS"])
    gate = Gate(cors_headers(app.config["CORS"]), allows, origins)
    if app.config["METRICS"]:
        app.extensions["metrics"] = DeploymentCollector(
            app.extensions["backup"], runner
        )
        app.register_blueprint(metrics_bp)
    # Requests are observed only when something reads what they leave behind.
    counts = metrics.counts if app.config["METRICS"] else None
    access, tags = app.config["ACCESS_LOG"], app.config["LOG_FORMAT"] == "json"
    observer = (
        Observer(access, counts, tags) if access or tags or counts is not None else None
    )
    if observer is not None:
        app.before_request(note_route)
    app.wsgi_app = Front(  # type: ignore[method-assign]
        app.wsgi_app, gate, fast, runner, observer, route_of(app)
    )
    return app


def note_route() -> None:
    """Leave the route Flask chose in the environ, for `Front` to log and count."""
    rule = request.url_rule
    request.environ[ROUTE_KEY] = UNROUTED if rule is None else rule.rule


def route_of(app: Flask) -> Callable[[str, str], str]:
    """The route template of a method and path, for requests answered before Flask
    routed them (OPTIONS, 401): the rule Flask would have chosen."""
    routes = app.url_map.bind("stashd")

    def template(method: str, path: str) -> str:
        try:
            rule, _ = routes.match(path, method, return_rule=True)
        except HTTPException:  # no route (404, 405), or a redirect
            return UNROUTED
        return rule.rule

    return template
