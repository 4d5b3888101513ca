"""Real silencing clients from PyPI, unmodified, against stashd under each server.

pysensu-ng 0.13.0 and the Python sensu-cli 0.1.0 (Sensu 1.x /silenced), and the
sensu-go 0.5.0 client (Sensu Go silenced API), each in a virtualenv of its own
(`make clients`). Uchiwa 1.7.0's calls are replayed over real HTTP here too, for the
response framing its Go client needs.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess

import pytest
import requests

from tests.clients.test_clients import client_python, drive
from tests.servers import stashd_on_own_redis

pytestmark = [pytest.mark.clients, pytest.mark.http, pytest.mark.integration]

KEY = "sensu-go-silences-key-0123"


@pytest.fixture
def plain(stashd_http, real_redis):
    return stashd_http


def test_pysensu_ng_silenced_calls(plain):
    results = json.loads(drive("pysensu-ng", "pysensu_ng_silenced.py", plain.url))
    assert results["create_check"] is True
    assert results["create_client"] is True
    assert results["create_star"] == "raised: 400 Bad Request"
    listed = {entry["id"]: entry for entry in results["list_limit_1"]}
    assert sorted(listed) == ["client:h:*", "web:disk"]
    assert listed["web:disk"]["reason"] == "swap"
    assert 0 < listed["web:disk"]["expire"] <= 600
    assert results["clear"] is True
    assert results["clear_again"] == "raised: 404 Not Found"
    assert results["list_after"] == ["client:h:*"]


def sensu_cli(url: str, *args: str) -> subprocess.CompletedProcess:
    """The Python sensu-cli 0.1.0's `sensu` command against stashd at `url`."""
    python = client_python("sensu-cli")
    host, port = url.removeprefix("http://").split(":")
    command = os.path.join(os.path.dirname(python), "sensu")
    return subprocess.run(
        [command, "--server", host, "--port", port, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_python_sensu_cli_silence_list_unsilence(plain):
    # It sends every option, null included, plus "host": Sensu stored ":foo".
    done = sensu_cli(plain.url, "silence", "--check", "foo", "--reason", "disk")
    assert done.returncode == 0, done.stderr
    listed = sensu_cli(plain.url, "silenced")
    assert listed.returncode == 0, listed.stderr
    entries = ast.literal_eval(listed.stdout)
    assert [(e["id"], e["subscription"], e["reason"]) for e in entries] == [
        ("*:foo", None, "disk")
    ]
    match = requests.get(f"{plain.url}/silenced/match?check=foo&client=h", timeout=5)
    assert match.json() == {"silenced": True, "silenced_by": ["*:foo"]}
    assert sensu_cli(plain.url, "unsilence", "--check", "foo").returncode == 0
    assert ast.literal_eval(sensu_cli(plain.url, "silenced").stdout) == []
    # `unsilence --id` is an int option, so the id goes out as a number: 400.
    refused = sensu_cli(plain.url, "unsilence", "--id", "5")
    assert refused.returncode != 0 and "400 Bad Request" in refused.stderr


def test_uchiwa_calls_over_http(plain):
    create = '{"id":"","dc":"dc1","subscription":"client:web1",'
    create += '"expire_on_resolve":true}'
    response = requests.post(f"{plain.url}/silenced", data=create + "\n\n", timeout=5)
    assert response.status_code == 201
    assert response.content == b"" and response.headers["Content-Length"] == "0"
    listed = requests.get(f"{plain.url}/silenced", timeout=5)
    assert int(listed.headers["Content-Length"]) == len(listed.content)
    (entry,) = listed.json()
    assert entry["id"] == "client:web1:*" and entry["begin"] is None
    clear = '{"id":"client:web1:*","dc":"dc1","creator":"admin"}'
    cleared = requests.post(f"{plain.url}/silenced/clear", data=clear, timeout=5)
    assert cleared.status_code == 204 and cleared.content == b""


@pytest.fixture(scope="module")
def go_stashd(server_kind, tmp_path_factory):
    env = {
        "STASHD_DATA_DIR": str(tmp_path_factory.mktemp("silences")),
        "STASHD_API_USER": "sensu-admin",
        "STASHD_API_PASSWORD": "p@ss:word",
        "STASHD_API_KEY": KEY,
    }
    with stashd_on_own_redis(server_kind, env) as server:
        yield server


def test_sensu_go_client_silences(go_stashd):
    results = json.loads(drive("sensu-go", "sensu_go_silences.py", go_stashd.url, KEY))
    assert results["create"] == "linux:*"
    assert results["create_check"] == "*:cpu"
    assert results["create_again"].startswith("raised: ValueError")  # it exists
    assert "does not match the name of the URI (database)" in results["create_misnamed"]
    spec = results["get"]
    assert spec["subscription"] == "linux" and spec["creator"] == "sensu-admin"
    assert spec["expire"] == -1 and spec["expire_at"] == 0
    assert results["list"] == ["*:cpu", "linux:*"]
    assert results["update"] == "updated"
    assert results["delete"] is None
    assert results["find_deleted"] is None
    assert results["delete_again"].startswith("raised: ResponseError")
    assert results["list_after"] == ["*:cpu"]
