"""Real Sensu 1.x clients from PyPI, unmodified, against stashd under each server.

Each client lives in a virtualenv of its own (`make clients`) and is driven by a
small script in drivers/ that calls its public API and prints what happened.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import requests
import trustme

from tests.servers import ROOT, Stashd

pytestmark = [pytest.mark.clients, pytest.mark.http, pytest.mark.integration]

DRIVERS = os.path.join(os.path.dirname(__file__), "drivers")
USER, PASSWORD = "sensu", "s3cret:with:colons"


def client_python(name: str) -> str:
    python = os.path.join(ROOT, ".venv-clients", name, "bin", "python")
    if not os.path.exists(python):
        if os.environ.get("CI"):
            pytest.fail(f"{python} is missing: `make clients` sets it up")
        pytest.skip(f"{name} is not installed; run `make clients`")
    return python


def drive(
    client: str, driver: str, *args: str, env: dict[str, str] | None = None
) -> str:
    done = subprocess.run(
        [client_python(client), os.path.join(DRIVERS, driver), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    """A CA and a certificate for 127.0.0.1, as files."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    folder = tmp_path_factory.mktemp("tls")
    paths = {name: str(folder / f"{name}.pem") for name in ("ca", "cert", "key")}
    ca.cert_pem.write_to_path(paths["ca"])
    cert.cert_chain_pems[0].write_to_path(paths["cert"])
    cert.private_key_pem.write_to_path(paths["key"])
    return paths


@pytest.fixture(scope="module")
def secured(server_kind, redis_server, tls):
    """stashd over HTTPS with Basic auth on."""
    env = {
        "STASHD_REDIS_URL": redis_server.url,
        "STASHD_API_USER": USER,
        "STASHD_API_PASSWORD": PASSWORD,
    }
    server = Stashd(server_kind, env, tls=(tls["cert"], tls["key"]))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def plain(stashd_http, real_redis):
    return stashd_http


def silence(url: str, path: str) -> None:
    assert requests.post(f"{url}/stash/{path}", data="{}").status_code == 201


@pytest.mark.parametrize(
    ("stash", "verdict"),
    [
        (None, "not silenced"),
        ("silence/web1", "client alerts silenced: web1/disk"),
        ("silence/web1/disk", "check alerts silenced: web1/disk"),
        ("silence/all/disk", "check alerts silenced: web1/disk"),
        ("silence/web2", "not silenced"),
    ],
)
def test_sensu_plugin_handler_sees_silences(plain, stash, verdict):
    if stash:
        silence(plain.url, stash)
    output = drive("sensu-plugin", "sensu_plugin_handler.py", plain.url, "web1", "disk")
    assert output.strip() == verdict


def test_sensu_plugin_handler_with_basic_auth_over_https(secured, real_redis, tls):
    url = f"https://{USER}:{PASSWORD}@127.0.0.1:{secured.ports[0]}"
    env = {"REQUESTS_CA_BUNDLE": tls["ca"]}
    assert drive(
        "sensu-plugin", "sensu_plugin_handler.py", url, "web1", "disk", env=env
    ) == ("not silenced\n")
    requests.post(
        f"https://127.0.0.1:{secured.ports[0]}/stash/silence/web1/disk",
        data="{}",
        auth=(USER, PASSWORD),
        verify=tls["ca"],
    )
    output = drive(
        "sensu-plugin", "sensu_plugin_handler.py", url, "web1", "disk", env=env
    )
    assert output.strip() == "check alerts silenced: web1/disk"


def test_pysensu_ng_stash_health_and_info_calls(plain):
    results = json.loads(drive("pysensu-ng", "pysensu_ng_api.py", plain.url))
    assert results["health"] is True
    assert results["info_version"]
    assert results["create_document"] is True
    assert results["create_at_path"] is True
    listed = {stash["path"]: stash for stash in results["list"]}
    assert listed["silence/web1/disk"]["content"] == {"reason": "swap"}
    assert 0 < listed["silence/web1/disk"]["expire"] <= 600
    assert listed["silence/web2"] == {
        "path": "silence/web2",
        "content": {"by": "ng"},
        "expire": -1,
    }
    assert results["delete"] is True
    assert results["delete_again"] == "raised: 404 Not Found"
    assert results["list_after"] == ["silence/web1/disk"]


def test_pysensu_ng_with_basic_auth(secured, real_redis, tls):
    url = f"https://127.0.0.1:{secured.ports[0]}"
    env = {"REQUESTS_CA_BUNDLE": tls["ca"]}
    results = json.loads(
        drive("pysensu-ng", "pysensu_ng_api.py", url, USER, PASSWORD, env=env)
    )
    assert results["health"] is True
    assert results["list_after"] == ["silence/web1/disk"]
    wrong = json.loads(
        drive("pysensu-ng", "pysensu_ng_api.py", url, USER, "nope", env=env)
    )
    assert wrong["health"] is False
    assert wrong["list"] == "raised: 401 Unauthorized"


def test_pysensu_creates_lists_and_deletes_over_https_with_credentials(
    secured, real_redis, tls
):
    args = ("127.0.0.1", str(secured.ports[0]), USER, PASSWORD)
    env = {"REQUESTS_CA_BUNDLE": tls["ca"]}
    results = json.loads(drive("pysensu", "pysensu_client.py", *args, env=env))
    assert results["listed"] == [
        {"path": "web1", "content": {}, "expire": -1},
        {"path": "web1/disk", "content": {}, "expire": -1},
    ]
    assert results["after"] == [{"path": "web1", "content": {}, "expire": -1}]
    assert results["second_delete"] == "Error deleting stash (404)"
