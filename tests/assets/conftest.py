"""Fixtures for the Sensu Go API tests: a seeded app, an API key, request helpers.

The assets API has no fast path, so these tests run on fakeredis and on a real
redis-server only (the stash tests add a third run with the fast path off).
"""

from __future__ import annotations

from typing import Any

import pytest
from sensu_helpers import KEY, Sensu

from assets.accounts import ApiKey
from auth import digest, hash_password
from bootstrap import bootstrap


@pytest.fixture(params=["fake", pytest.param("real", marks=pytest.mark.integration)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def config(tmp_path) -> dict:
    """No configured user; the generated admin's password goes to a temp dir."""
    return {"DATA_DIR": str(tmp_path / "data")}


@pytest.fixture
def app(app: Any) -> Any:
    """The app, seeded as the launchers seed it, with API key `KEY` for `admin`."""
    bootstrap(app.config, app.extensions["redis"])
    accounts = app.extensions["accounts"]
    if accounts.password_hash("admin") is None:
        accounts.put_user("admin", hash_password("unused"), 0)
    accounts.put_apikey(
        ApiKey(digest=digest(KEY), username="admin", created_by="admin", created_at=1)
    )
    return app


@pytest.fixture
def sensu(client: Any) -> Sensu:
    return Sensu(client)
