"""The OpenAPI document against the real thing: schemathesis drives every operation
of stashd under granian (as `make run` serves it) with credentials on, and checks
that nothing answers 5xx, every answer conforms to the document (status, Content-
Type, headers, body), and bad input gets a 4xx.

Bounded for `make test`: a fixed seed per operation (derandomized), a few examples
each, and a wall-clock budget for the whole run. `make fuzz` runs it longer
(STASHD_FUZZ_EXAMPLES). schemathesis leaves out the operation that serves the
document it reads (GET /openapi.json): the last test checks that one, on both
addresses of both servers.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator
from typing import NamedTuple

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, seed, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from server.openapi import PATH, document
from tests.archives.helpers import sha512, tarball
from tests.servers import SERVERS, RedisServer, Stashd, stashd_on_own_redis

pytestmark = [pytest.mark.http, pytest.mark.integration]

ADMIN = ("ops", "contract-password-1")
# Examples per operation and phase; `make fuzz` raises it.
EXAMPLES = int(os.environ.get("STASHD_FUZZ_EXAMPLES", "3"))
# Seconds the operations may take together; past them the rest are skipped, saying
# so (0: no budget). Under `make test` they need about a third of it.
BUDGET = float(os.environ.get("STASHD_FUZZ_BUDGET", "90"))
# Unset: each operation's seed is fixed (derandomized), so runs repeat exactly.
SEED = os.environ.get("STASHD_FUZZ_SEED")
PHASES = ["examples", "coverage", "fuzzing"]
# A regular expression: only the operations whose path it finds (FUZZ_PATH).
ONLY = os.environ.get("STASHD_FUZZ_PATH")

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def configure(schema: schemathesis.BaseSchema) -> None:
    """The bounds and checks of the run."""
    # Credentials are the test's own (below), not generated from the security schemes.
    schema.config.generation.update(
        modes=["positive", "negative"],
        max_examples=EXAMPLES,
        deterministic=SEED is None,
        with_security_parameters=False,
        database="none",
    )
    schema.config.checks.negative_data_rejection.expected_statuses = ["4xx"]
    schema.config.phases.update(phases=PHASES)
    schema.config.update(parameters={"path.archive_id": ARCHIVE_ID})
    # Methods no route has are Flask's 405s, tested elsewhere; not worth the time here.
    schema.config.phases.coverage.unexpected_methods = set()


class Live(NamedTuple):
    """A running stashd, and the credentials the test made on it."""

    url: str
    key: str
    session: requests.Session


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """stashd under granian with an administrator, and an API key made over HTTP."""
    env = {
        "STASHD_API_USER": ADMIN[0],
        "STASHD_API_PASSWORD": ADMIN[1],
        "STASHD_DATA_DIR": str(tmp_path_factory.mktemp("contract")),
        # Generated bad credentials must not lock the test's address out.
        "STASHD_AUTH_FAILURES": "1000000",
    }
    with stashd_on_own_redis("granian", env) as stashd, requests.Session() as session:
        token = session.get(f"{stashd.url}/auth", auth=ADMIN).json()["access_token"]
        made = session.post(
            f"{stashd.url}/api/core/v2/apikeys",
            json={"username": ADMIN[0]},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert made.status_code == 201
        key = made.headers["Location"].rsplit("/", 1)[1]
        _seed(session, stashd.url, {"Authorization": f"Key {key}"})
        yield Live(stashd.url, key, session)


# An archive the run uploads first, whose id every generated request names: the
# record, download and trash routes then answer more than 404.
ARCHIVE = tarball()
ARCHIVE_ID = sha512(ARCHIVE)


def _seed(session: requests.Session, url: str, auth: dict[str, str]) -> None:
    """A record of each kind, named as the document's examples name them, so
    generated requests find something."""
    core = f"{url}/api/core/v2/namespaces/default"
    writes = [
        (f"{url}/stash/silence/web1/disk", {"reason": "disk"}),
        (f"{url}/stashes", {"path": "a", "content": {"x": 1}}),
        (f"{url}/silenced", {"subscription": "a", "check": "b"}),
        (
            f"{core}/silenced",
            {
                "subscription": "linux",
                "check": "disk",
                "metadata": {"namespace": "default"},
            },
        ),
        (
            f"{core}/assets",
            {
                "url": "https://example.com/a.tar.gz",
                "sha512": "0" * 128,
                "metadata": {
                    "name": "sensu/sensu-slack-handler",
                    "namespace": "default",
                    "labels": {"k": "v"},
                },
            },
        ),
    ]
    for target, body in writes:
        assert session.post(target, json=body, headers=auth).status_code == 201
    uploaded = session.post(
        f"{core}/archives",
        params={"filename": "a.tar.gz", "alias": "a/latest"},
        data=ARCHIVE,
        headers=auth,
    )
    assert uploaded.status_code == 201


def _credentials(case: schemathesis.Case, live: Live) -> dict[str, str]:
    """The Authorization an operation documents: Basic, a fresh token, or the key."""
    security = case.operation.definition.raw.get("security") or [{"apiKey": []}]
    kinds = {name for requirement in security for name in requirement}
    if kinds == {"basic"}:
        user_password = base64.b64encode(":".join(ADMIN).encode()).decode()
        return {"Authorization": f"Basic {user_password}"}
    if kinds == {"bearer"}:
        tokens = live.session.get(f"{live.url}/auth", auth=ADMIN).json()
        return {"Authorization": f"Bearer {tokens['access_token']}"}
    return {"Authorization": f"Key {live.key}"}


@pytest.fixture(scope="module")
def contract_schema(live: Live) -> schemathesis.BaseSchema:
    """The document as the live server serves it, with the run's bounds."""
    schema = schemathesis.openapi.from_url(live.url + PATH)
    configure(schema)
    return schema


@pytest.fixture(autouse=True)
def node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    """schemathesis 4.32 reads and writes a test's `_nodeid` for its subtests'
    names, which pytest 9.2 no longer has: give it one (the real id is unchanged)."""
    request.node._nodeid = request.node.nodeid


# One test, each operation a subtest of it: one server for the whole run, whichever
# pytest-xdist worker runs it.
contract = schemathesis.pytest.from_fixture("contract_schema")
if ONLY is not None:
    contract = contract.include(path_regex=ONLY)
_started: list[float] = []


@contract.parametrize()
@settings(
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=SEED is None,
    database=None,
)
@(seed(int(SEED)) if SEED is not None else lambda test: test)
def test_contract(case: schemathesis.Case, live: Live) -> None:
    if not _started:
        _started.append(time.monotonic())
    if BUDGET and time.monotonic() - _started[0] > BUDGET:
        pytest.skip(f"over the contract run's budget of {BUDGET:.0f} s")
    headers = {**(case.headers or {}), **_credentials(case, live)}
    case.call_and_validate(
        base_url=live.url,
        session=live.session,
        headers=headers,
        checks=CHECKS,
        timeout=10,
    )


@pytest.mark.parametrize("server", SERVERS)
def test_openapi_is_served_on_both_addresses_without_credentials(server: str) -> None:
    redis_server = RedisServer()
    redis_server.start()
    env = {
        "STASHD_REDIS_URL": redis_server.url,
        "STASHD_API_USER": ADMIN[0],
        "STASHD_API_PASSWORD": ADMIN[1],
        "WEB_CONCURRENCY": "1",
    }
    stashd = Stashd(server, env, ports=2)
    try:
        stashd.start()
        for port in stashd.ports:
            base = f"http://127.0.0.1:{port}"
            assert requests.get(f"{base}/stashes").status_code == 401
            response = requests.get(base + PATH)
            assert response.status_code == 200
            assert response.headers["Content-Type"] == "application/json"
            assert response.json() == document()
    finally:
        stashd.stop()
        redis_server.remove()
