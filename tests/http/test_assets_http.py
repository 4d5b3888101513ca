"""The Sensu Go API over real HTTP, under granian (`make run`) and gunicorn."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
import requests

from tests.servers import ROOT, Stashd, stashd_on_own_redis

pytestmark = [pytest.mark.http, pytest.mark.integration]

CORE = "/api/core/v2"
USER, PASSWORD, KEY = "ops", "pa:ss word", "http-test-key-0123456789"
SHA = "ab" * 64


@pytest.fixture(scope="module")
def configured(server_kind, tmp_path_factory):
    """One server per server kind for the module; tests use distinct names."""
    env = {
        "STASHD_DATA_DIR": str(tmp_path_factory.mktemp("configured")),
        "STASHD_API_USER": USER,
        "STASHD_API_PASSWORD": PASSWORD,
        "STASHD_API_KEY": KEY,
    }
    with stashd_on_own_redis(server_kind, env) as server:
        yield server


def asset(name, namespace="default"):
    return {
        "url": f"https://example.com/{name}.tgz",
        "sha512": SHA,
        "metadata": {"name": name, "namespace": namespace},
    }


KEYED = {"Authorization": f"Key {KEY}"}


def test_configured_key_user_and_token_work_on_both_apis(configured):
    url = configured.url
    assert requests.get(f"{url}/stashes").status_code == 401
    assert requests.get(f"{url}/stashes", headers=KEYED).status_code == 200
    assert requests.get(f"{url}/stashes", auth=(USER, PASSWORD)).status_code == 200
    tokens = requests.get(f"{url}/auth", auth=(USER, PASSWORD)).json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert requests.post(f"{url}/stash/t", data="{}", headers=bearer).status_code == 201
    response = requests.get(f"{url}{CORE}/namespaces", headers=bearer)
    assert response.json() == [{"name": "default"}]
    # Basic is not accepted on the core routes, only Key and Bearer.
    response = requests.get(f"{url}{CORE}/namespaces", auth=(USER, PASSWORD))
    assert response.status_code == 401
    assert response.json() == {"message": "bad credentials", "code": 5}


def test_unknown_core_path_is_404_without_credentials(configured):
    response = requests.get(f"{configured.url}{CORE}/nowhere")
    assert response.status_code == 404
    assert response.json() == {"code": 2, "message": "not found"}


@pytest.mark.parametrize("sent", ["sensu%2Fslack:1.0", "sensu/slack:1.0"])
def test_names_with_slash_over_http(configured, sent):
    base = f"{configured.url}{CORE}/namespaces/default/assets"
    put = requests.put(f"{base}/{sent}", json=asset("sensu/slack:1.0"), headers=KEYED)
    assert put.status_code == 201, put.text
    for form in ("sensu%2Fslack:1.0", "sensu/slack:1.0"):
        got = requests.get(f"{base}/{form}", headers=KEYED)
        assert got.json()["metadata"]["name"] == "sensu/slack:1.0"
        assert got.headers["ETag"]
    assert requests.delete(f"{base}/{sent}", headers=KEYED).status_code == 204


def test_oversized_body_is_413_and_stores_nothing(configured):
    base = f"{configured.url}{CORE}/namespaces/default/assets"
    body = asset("big")
    body["headers"] = {"pad": "x" * 520_000}
    response = requests.post(base, json=body, headers=KEYED)
    assert response.status_code == 413
    assert response.json()["code"] == 1

    def chunks():
        data = requests.models.complexjson.dumps(body).encode()
        for i in range(0, len(data), 65536):
            yield data[i : i + 65536]

    response = requests.post(base, data=chunks(), headers=KEYED)
    assert response.status_code == 413
    assert requests.get(f"{base}/big", headers=KEYED).status_code == 404


def test_no_credentials_is_401_before_413(configured):
    base = f"{configured.url}{CORE}/namespaces/default/assets"
    response = requests.post(base, data=b"x" * 600_000)
    assert response.status_code == 401


def test_paging_over_http(configured):
    ns = f"{configured.url}{CORE}/namespaces/paging"
    assert requests.put(ns, json={"name": "paging"}, headers=KEYED).status_code == 201
    base = f"{ns}/assets"
    for i in range(5):
        requests.post(base, json=asset(f"a{i}", "paging"), headers=KEYED)
    first = requests.get(base, params={"limit": 2}, headers=KEYED)
    token = first.headers["Sensu-Continue"]
    rest = requests.get(base, params={"continue": token}, headers=KEYED).json()
    assert [a["metadata"]["name"] for a in rest] == ["a2", "a3", "a4"]
    selected = requests.get(
        f"{configured.url}{CORE}/assets",
        params={"fieldSelector": 'asset.name in ["a1", "a4"]'},
        headers=KEYED,
    ).json()
    assert [a["metadata"]["name"] for a in selected] == ["a1", "a4"]


# A newcomer: no settings at all, `make run` in a fresh directory.


@pytest.fixture
def newcomer(server_kind, own_redis, tmp_path):
    """stashd with no user configured, its data directory at ./var of tmp_path."""
    env = {"STASHD_REDIS_URL": own_redis.url, "STASHD_DATA_DIR": str(tmp_path / "var")}
    return Stashd(server_kind, env)


def readme_example() -> str:
    with open(os.path.join(ROOT, "README.md")) as readme:
        text = readme.read()
    section = text.split("### Try it", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def test_readme_example_works_as_written(newcomer, tmp_path):
    for tool in ("curl", "jq"):
        if shutil.which(tool) is None:
            if os.environ.get("CI"):
                pytest.fail(f"{tool} is missing")
            pytest.skip(f"{tool} is not installed")
    newcomer.start()
    try:
        script = readme_example().replace(
            "API=localhost:8080", f"API=127.0.0.1:{newcomer.ports[0]}"
        )
        assert "API=127.0.0.1" in script
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        newcomer.stop()
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert '"name":"sensu/sensu-slack-handler"' in out
    assert '"created_by":"admin"' in out
    assert re.search(r"HTTP/1.1 200", out)
    # The selection found it on the all-namespaces list too.
    assert out.count('"namespace":"default"') == 3


def test_generated_password_is_printed_once_and_kept(newcomer, tmp_path):
    newcomer.start()
    path = tmp_path / "var" / "admin-password"
    try:
        password = path.read_text().strip()
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        tokens = requests.get(f"{newcomer.url}/auth", auth=("admin", password))
        assert tokens.status_code == 200
        # Stash routes stay open without a configured user.
        assert requests.get(f"{newcomer.url}/stashes").status_code == 200
    finally:
        newcomer.stop()
    assert newcomer.output().count(password) == 1
    newcomer.start()
    try:
        assert path.read_text().strip() == password
        response = requests.get(f"{newcomer.url}/auth/test", auth=("admin", password))
        assert response.status_code == 200
    finally:
        newcomer.stop()
    assert newcomer.output().count(password) == 1
