"""What a deployment needs before it serves: run once at start by the launchers.

serve.py and gunicorn.conf.py call `at_start` after Redis is up and before any
worker exists, so nothing here races; every step is idempotent all the same.

* A fresh deployment gets the namespace ``default`` (Sensu seeds it too), once: a
  deleted ``default`` stays deleted.
* ``STASHD_API_USER`` + ``STASHD_API_PASSWORD`` create or update that user, the
  administrator; ``STASHD_API_KEY`` registers an API key for it (and a key set
  earlier but no longer is revoked). A new password revokes the administrator's
  access and refresh tokens; a new ``STASHD_API_USER`` removes the previous one with
  its keys and tokens (spec stashes.md 17.5).
* Without them, a newcomer still gets a working assets API: the user ``admin`` with
  a generated password, written to ``<data dir>/admin-password`` (mode 600) and
  logged at the start that made it. Deleting the file makes a new one at the next
  start. Configuring a user later deletes the generated one.
* Every asset's archive ids are added to the reference sets, so assets stored
  before asset writes kept them protect their archives too (spec archives.md 19.1).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import time
from collections.abc import Mapping
from typing import Any

from redis import RedisCluster

from accounts.passwords import digest, hash_password, verify_password
from accounts.store import AccountStore, ApiKey
from archives.garbage import backfill_refs
from archives.store import ArchiveStore
from core.errors import UNREACHABLE
from namespaces.store import NamespaceStore
from redisio.clients import BlockingClient, RedisClient, make_client, make_runner
from redisio.keys import Keys

log = logging.getLogger(__name__)

DEFAULT_NAMESPACE = "default"
GENERATED_ADMIN = "admin"
PASSWORD_FILE = "admin-password"


def password_file(config: Mapping[str, Any]) -> str:
    """Where the generated admin password is kept."""
    return os.path.join(config["DATA_DIR"], PASSWORD_FILE)


def bootstrap(config: Mapping[str, Any], client: RedisClient) -> None:
    """Seed the deployment and set up its administrator (see the module docstring);
    the stores' round trips run on a connection of its own, closed at the end."""
    runner = make_runner(config, client)
    try:
        cluster = isinstance(client, RedisCluster)
        _bootstrap(config, runner, cluster)
        keys = Keys(config["KEY_PREFIX"])
        namespaces = runner.drive(NamespaceStore(keys, cluster).names())
        backfill_refs(runner, ArchiveStore(keys), namespaces)
    finally:
        runner.close()


def _bootstrap(
    config: Mapping[str, Any], client: BlockingClient, cluster: bool
) -> None:
    keys = Keys(config["KEY_PREFIX"], cluster)
    accounts = AccountStore(keys)
    if client.run(accounts.first_start()):
        client.drive(NamespaceStore(keys, cluster).create(DEFAULT_NAMESPACE))
        log.info("new deployment: created namespace %s", DEFAULT_NAMESPACE)
    now = int(time.time())
    user, password = config["API_USER"], config["API_PASSWORD"]
    if user and password:
        _configure_admin(client, accounts, user, password, now)
        for name, generated in client.run(accounts.users()):
            if generated and name != user:
                client.run(accounts.delete_user(name))
                log.info("deleted the generated user %s: %s is configured", name, user)
        with contextlib.suppress(FileNotFoundError):
            os.remove(password_file(config))
        _configure_key(client, accounts, config["API_KEY"], user, now)
        return
    _configure_key(client, accounts, None, "", now)
    _generated_admin(config, client, accounts, now)


def _configure_admin(
    client: BlockingClient, accounts: AccountStore, user: str, password: str, now: int
) -> None:
    previous = client.run(accounts.configured_user())
    if previous is not None and previous != user:
        if client.run(accounts.delete_user(previous)):
            log.info(
                "removed user %s, the previous STASHD_API_USER, with its API keys "
                "and tokens",
                previous,
            )
    stored = client.run(accounts.password_hash(user))
    generated = dict(client.run(accounts.users())).get(user, False)
    # A password set again keeps the tokens made with it: only a change ends them.
    if stored is None or generated or not verify_password(password.encode(), stored):
        client.run(accounts.put_user(user, hash_password(password), now))
        if stored is not None:
            log.info("new password for user %s: its tokens are revoked", user)
    client.run(accounts.set_configured_user(user))


def _configure_key(
    client: BlockingClient, accounts: AccountStore, key: str | None, user: str, now: int
) -> None:
    earlier = client.run(accounts.configured_key())
    wanted = digest(key) if key else None
    if earlier is not None and earlier != wanted:
        client.run(accounts.delete_apikey(earlier))
        log.info("revoked the API key of an earlier STASHD_API_KEY")
    if wanted is not None:
        record = ApiKey(digest=wanted, username=user, created_by=user, created_at=now)
        client.run(accounts.put_apikey(record))
    client.run(accounts.set_configured_key(wanted))


def _generated_admin(
    config: Mapping[str, Any],
    client: BlockingClient,
    accounts: AccountStore,
    now: int,
) -> None:
    users = client.run(accounts.users())
    if any(not generated for _, generated in users):
        log.info(
            "STASHD_API_USER is not set; the users of earlier starts keep their "
            "passwords"
        )
        return
    path = password_file(config)
    if users and os.path.exists(path):
        log.info("the password of user %s is in %s", GENERATED_ADMIN, path)
        return
    password = secrets.token_urlsafe(18)
    # As the embedded Redis makes it: the owner's alone (spec stashes.md 17.11).
    os.makedirs(config["DATA_DIR"], mode=0o700, exist_ok=True)
    # Created with mode 600 from the start: never readable by others, not even
    # for a moment; a file left from before is truncated and its mode reset.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(password + "\n")
    client.run(
        accounts.put_user(GENERATED_ADMIN, hash_password(password), now, generated=True)
    )
    log.warning(
        "generated a password for user %s of the Sensu Go API: %s (kept in %s; "
        "set STASHD_API_USER and STASHD_API_PASSWORD to choose your own)",
        GENERATED_ADMIN,
        password,
        path,
    )


def at_start(settings: Mapping[str, Any], redis_url: str) -> None:
    """`bootstrap` on its own connection to `redis_url`.

    :raise RuntimeError: Redis cannot be reached; stashd should not start.
    """
    settings = {**settings, "REDIS_URL": redis_url}
    client = make_client(settings)
    try:
        bootstrap(settings, client)
    except UNREACHABLE as exc:
        raise RuntimeError(f"Redis cannot be reached: {exc}") from None
    finally:
        client.close()
