"""Sensu 1.x clients that cannot be installed here, replayed from their source.

Each test sends exactly the paths, headers and bodies the client sends (spec
silenced.md section 14) and checks what the client relies on in the answers.
"""

from __future__ import annotations

import json

from tests.silenced.helpers import assert_empty, assert_json_error

JSON = {"Content-Type": "application/json"}


def test_uchiwa_1_7_create_list_and_clear(v1):
    # uchiwa/silenced.go's struct: "id" always, "dc", empty fields and zero
    # begin/expire left out, then methods.go appends "\n\n".
    create = {
        "id": "",
        "dc": "dc1",
        "subscription": "client:web1",
        "check": "disk",
        "reason": "replacing it",
        "creator": "admin",
        "expire": 3600,
        "expire_on_resolve": True,
    }
    response = v1.create(raw=json.dumps(create, separators=(",", ":")) + "\n\n")
    assert_empty(response, 201)
    per_client = {"id": "", "dc": "dc1", "subscription": "client:web2"}
    assert_empty(v1.create(raw=json.dumps(per_client) + "\n\n"), 201)

    listed = v1.get()  # GetSilenced: no limit parameter
    assert listed.status_code == 200
    assert listed.headers["Content-Length"] == str(len(listed.data))
    items = listed.get_json()
    assert isinstance(items, list) and len(items) == 2
    for item in items:
        # uchiwa-web reads begin === null, and the daemon asserts a number otherwise.
        assert item["begin"] is None or isinstance(item["begin"], int)
        assert isinstance(item["expire"], int)
    assert items[0]["id"] == "client:web1:disk" and 3595 < items[0]["expire"] <= 3600
    assert items[1]["expire"] == -1  # "Never"

    clear = {"id": "client:web1:disk", "dc": "dc1", "creator": "admin"}
    assert_empty(v1.clear(raw=json.dumps(clear) + "\n\n"), 204)
    assert v1.ids() == ["client:web2:*"]


def test_uchiwa_0_18_no_expiration_sent_as_minus_one(v1):
    # sensu/uchiwa#560: Sensu deleted this entry behind its 201.
    body = {"id": "", "dc": "dc1", "subscription": "client:web1", "expire": -1}
    assert_empty(v1.create(body), 201)
    assert v1.entry("client:web1:*").get_json()["expire"] == -1


def test_ruby_sensu_cli_0_11_silenced_commands(v1):
    headers = {**JSON, "api-proxy": "true"}
    create = {
        "creator": "operator",
        "reason": "Silenced via API - no reason given",
        "expire": 600,
        "expire_on_resolve": True,
        "check": "disk",
        "subscription": "web",
    }
    assert v1.client.post("/silenced", json=create, headers=headers).status_code == 201
    without_expire = {
        "creator": "operator",
        "reason": "Silenced via API - no reason given",
        "expire": None,
        "check": None,
        "subscription": "db",
    }
    response = v1.client.post("/silenced", json=without_expire, headers=headers)
    assert response.status_code == 201

    for path in (
        "/silenced",
        "/silenced/subscriptions/web",
        "/silenced/checks/disk",
        "/silenced?limit=1&offset=1",
    ):
        response = v1.client.get(path, headers=headers)
        assert response.status_code == 200 and isinstance(response.get_json(), list)
    assert v1.client.get("/silenced?limit=1&offset=1").get_json()[0]["id"] == (
        "web:disk"
    )
    # `list -s web -c disk` builds a path Sensu never had: 404, as in Sensu.
    response = v1.client.get("/silenced/subscriptions/web/checks/disk")
    assert_empty(response, 404)

    clear = {"creator": "operator", "check": "disk", "subscription": "web"}
    response = v1.client.post("/silenced/clear", json=clear, headers=headers)
    assert_empty(response, 204)
    # `clear -i <id>` alone never sends the id (agent462/sensu-cli#58).
    response = v1.client.post(
        "/silenced/clear", json={"creator": "operator"}, headers=headers
    )
    assert_json_error(response)


def test_ansible_sensu_silence_is_idempotent(v1):
    """community.general's sensu_silence: query, create (201), clear (204)."""

    def query(check=None, subscription=None):
        data = {k: v for k, v in (("check", check), ("subscription", subscription))}
        data = {k: v for k, v in data.items() if v is not None}
        response = v1.client.open(
            "/silenced", method="GET", data=json.dumps(data), headers=JSON
        )
        out = response.get_json()
        # Its clear() indexes both keys of every item.
        assert all("subscription" in i and "check" in i for i in out)
        return out

    def present(**params):
        for item in query(params.get("check"), params["subscription"]):
            if item["subscription"] == params["subscription"] and all(
                params.get(k) in (None, "", item[k])
                for k in ("check", "creator", "reason", "expire", "expire_on_resolve")
            ):
                return False
        body = {k: v for k, v in params.items() if v is not None}
        assert v1.client.post("/silenced", json=body).status_code == 201
        return True

    def absent(subscription, check=None):
        found = {i["subscription"]: i["check"] for i in query(check, subscription)}
        if subscription not in found or (check and found[subscription] != check):
            return False
        body = {k: v for k, v in (("check", check), ("subscription", subscription))}
        body = {k: v for k, v in body.items() if v is not None}
        assert v1.client.post("/silenced/clear", json=body).status_code == 204
        return True

    params = {"subscription": "client:web1", "reason": "patching", "creator": "ops"}
    assert present(**params) is True
    assert present(**params) is False  # no expire: the second run changes nothing
    assert absent("client:web1") is True
    assert absent("client:web1") is False
