"""Sensu Go clients that cannot be installed here, replayed from their source:
sensuctl 6.x and Ansible's sensu.sensu_go.silence (spec silenced.md section 14)."""

from __future__ import annotations

import time

from tests.sensugo import CORE, assert_empty_success
from tests.silenced.go.helpers import names, url


def test_sensuctl_create_list_info_update_delete(sensu):
    create = {
        "metadata": {"namespace": "default"},
        "expire": -1,
        "expire_on_resolve": False,
        "check": "check-cpu",
        "reason": "kernel update",
        "subscription": "linux",
        "begin": int(time.time()),
        "expire_at": 0,
    }
    assert_empty_success(sensu.request("POST", url(), create), 201)
    only_sub = dict(create, check="", subscription="linux")
    assert sensu.request("POST", url(), only_sub).status_code == 201

    # list: one request, limit only with --chunk-size, no continue loop.
    listed = sensu.request("GET", url() + "?limit=1")
    assert names(listed) == ["linux:*", "linux:check-cpu"]
    assert "Sensu-Continue" not in listed.headers
    assert names(sensu.request("GET", url() + "/subscriptions/linux")) == [
        "linux:*",
        "linux:check-cpu",
    ]
    assert names(sensu.request("GET", url() + "/checks/check-cpu")) == [
        "linux:check-cpu"
    ]
    assert len(sensu.request("GET", f"{CORE}/silenced").get_json()) == 2
    assert len(sensu.request("GET", f"{CORE}/silenced/checks/check-cpu").get_json())

    # info and update: url.PathEscape keeps ":" and sends "*" as %2A.
    info = sensu.request("GET", f"{url()}/linux:%2A")
    assert info.status_code == 200
    entry = info.get_json()
    entry["expire"] = 300
    entry["reason"] = "longer"
    assert_empty_success(sensu.request("PUT", f"{url()}/linux:%2A", entry), 201)
    after = sensu.request("GET", f"{url()}/linux:%2A").get_json()
    assert after["expire"] == 300 and after["expire_at"] == after["begin"] + 300

    assert_empty_success(sensu.request("DELETE", f"{url()}/linux:%2A"), 204)
    assert names(sensu.request("GET", url())) == ["linux:check-cpu"]


def test_ansible_sensu_go_silence_module(sensu):
    # Every path part quoted with quote(p, safe=""): linux%3A%2A.
    path = f"{url()}/linux%3A%2A"
    assert sensu.request("GET", path).status_code == 404
    payload = {
        "metadata": {"name": "linux:*", "namespace": "default"},
        "subscription": "linux",
        "expire_on_resolve": True,
    }
    assert_empty_success(sensu.request("PUT", path, payload), 201)
    stored = sensu.request("GET", path).get_json()
    assert stored["subscription"] == "linux" and stored["expire_on_resolve"] is True
    assert_empty_success(sensu.request("DELETE", path), 204)
    assert sensu.request("GET", path).status_code == 404
