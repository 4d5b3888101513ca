"""create_app(): the one place that wires stashd together."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask
from redis import RedisCluster

import accounts
import assets
import namespaces
import silenced
import stashes
from accounts import apikeys
from accounts.authenticator import Authenticator
from accounts.store import AccountStore
from assets.store import AssetStore
from core.errors import register_error_handlers
from core.gate import Gate
from core.http import JSONResponse
from core.replies import FastRoutes
from core.settings import allowed_origins, cors_headers, from_env, load
from namespaces.store import NamespaceStore
from redisio.clients import RedisClient, make_client, make_runner
from redisio.keys import STASH_BUCKETS, Keys
from server.wsgi import Front
from silenced.cli import import_silences
from silenced.fast import MatchRoute
from silenced.schemas import check_settings
from silenced.store import SilencedStore
from stashes.cli import import_sensu
from stashes.fast import FastPath
from stashes.store import BucketedStashStore, StashStore


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
    register_error_handlers(app)
    app.cli.add_command(import_sensu)
    # import-sensu also brings the silencing entries (stashes knows no silenced).
    app.extensions["sensu_importers"] = [import_silences]
    app.register_blueprint(stashes.bp)
    app.register_blueprint(namespaces.bp, url_prefix="/api/core/v2")
    app.register_blueprint(assets.bp, url_prefix="/api/core/v2")
    app.register_blueprint(apikeys.bp, url_prefix="/api/core/v2")
    app.register_blueprint(accounts.bp)
    app.register_blueprint(silenced.bp)
    app.register_blueprint(silenced.go_bp, url_prefix="/api/core/v2")
    fast = (
        FastRoutes(
            FastPath(store, app.config["MAX_BODY_BYTES"]), MatchRoute(silenced_store)
        )
        if app.config["FAST_PATH"]
        else None
    )
    # Stash routes need credentials only once an administrator is configured.
    allows = authenticator if authenticator.guards_stashes else None
    origins = allowed_origins(app.config["ALLOWED_ORIGINS"])
    gate = Gate(cors_headers(app.config["CORS"]), allows, origins)
    app.wsgi_app = Front(app.wsgi_app, gate, fast, runner)  # type: ignore[method-assign]
    return app
