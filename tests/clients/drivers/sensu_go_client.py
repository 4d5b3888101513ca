"""Drive the sensu-go 0.5.0 client (Sensu Go's Python client) through namespaces and
assets: create, get, list past one page (it pages by 100), update and delete.

argv: base URL, then either an API key, or a user and a password. Prints one JSON
document with what each step returned (or the exception it raised).
"""

import json
import sys

from sensu_go import Client, Equal, In, Matches
from sensu_go.errors import SensuError

url, *credentials = sys.argv[1:]
if len(credentials) == 1:
    client = Client(url, api_key=credentials[0])
else:
    client = Client(url, username=credentials[0], password=credentials[1])
results = {}
SHA = "ab" * 64


def record(name, call):
    try:
        results[name] = call()
    except (SensuError, ValueError) as exc:
        results[name] = f"raised: {type(exc).__name__}: {exc}"


def spec(i):
    return {
        "url": f"https://example.com/asset-{i}.tar.gz",
        "sha512": SHA,
        "filters": ["entity.system.os == 'linux'", "entity.system.arm_version == 7"],
    }


record("namespace", lambda: client.namespaces.create({"name": "team-1"}, {}).name)
record("namespace_again", lambda: client.namespaces.create({"name": "team-1"}, {}).name)
record("namespaces", lambda: sorted(ns.name for ns in client.namespaces.list()))


def create_many():
    for i in range(105):
        labels = {"tier": "gold" if i % 50 == 0 else "plain"}
        client.assets.create(
            spec(i),
            {"name": f"team/asset-{i:03}:1.0", "namespace": "team-1", "labels": labels},
        )
    return True


record("create_many", create_many)
record("created", lambda: client.assets.get("team/asset-007:1.0", "team-1").spec["url"])
record(
    "created_by",
    lambda: client.assets.get("team/asset-007:1.0", "team-1").metadata["created_by"],
)
record("list", lambda: [a.name for a in client.assets.list(namespace="team-1")])
record(
    "select_labels",
    lambda: [
        a.name
        for a in client.assets.list("team-1", label_selector=Equal("tier", "gold"))
    ],
)
record(
    "select_fields",
    lambda: [
        a.name
        for a in client.assets.list(
            "team-1",
            field_selector=In("name", ["team/asset-001:1.0", "team/asset-002:1.0"]),
        )
    ],
)
record(
    "select_matches",
    lambda: [
        a.name
        for a in client.assets.list(
            "team-1", field_selector=Matches("name", "asset-10")
        )
    ],
)
record(
    "select_in_filters",
    lambda: len(
        list(
            client.assets.list(
                "team-1", field_selector=In("entity.system.arm_version == 7", "filters")
            )
        )
    ),
)


def update():
    found = client.assets.get("team/asset-007:1.0", "team-1")
    found.spec["url"] = "https://example.com/updated.tar.gz"
    found.save()
    return client.assets.get("team/asset-007:1.0", "team-1").spec["url"]


record("update", update)
record(
    "create_existing",
    lambda: (
        client.assets.create(
            spec(7), {"name": "team/asset-007:1.0", "namespace": "team-1"}
        ).name
    ),
)
record("delete", lambda: client.assets.delete("team/asset-007:1.0", "team-1"))
record("find_deleted", lambda: client.assets.find("team/asset-007:1.0", "team-1"))
record("delete_again", lambda: client.assets.delete("team/asset-007:1.0", "team-1"))
record("count_after", lambda: len(list(client.assets.list(namespace="team-1"))))


def empty_namespace():
    client.assets.list(namespace="team-1").delete()
    client.namespaces.delete("team-1")
    return client.namespaces.find("team-1")


record("delete_namespace", empty_namespace)
print(json.dumps(results))
