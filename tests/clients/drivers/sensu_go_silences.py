"""Drive the sensu-go 0.5.0 client's `silences` (Sensu Go silenced API).

argv: base URL, API key. Prints one JSON document with what each step returned (or
the exception it raised).
"""

import json
import sys

from sensu_go import Client
from sensu_go.errors import SensuError

client = Client(sys.argv[1], api_key=sys.argv[2])
results = {}


def record(name, call):
    try:
        results[name] = call()
    except (SensuError, ValueError) as exc:
        results[name] = f"raised: {type(exc).__name__}: {exc}"


def create(spec, name):
    return client.silences.create(spec, {"name": name, "namespace": "default"})


record("create", lambda: create({"subscription": "linux"}, "linux:*").name)
record("create_check", lambda: create({"check": "cpu"}, "*:cpu").name)
record("create_again", lambda: create({"subscription": "linux"}, "linux:*").name)
# Sensu derives the name from subscription and check: this one is not it.
record("create_misnamed", lambda: create({"subscription": "db"}, "database").name)
record("get", lambda: client.silences.get("linux:*", "default").spec)
record("list", lambda: [s.name for s in client.silences.list(namespace="default")])


def update():
    found = client.silences.get("linux:*", "default")
    found.spec["reason"] = "updated"
    found.save()
    return client.silences.get("linux:*", "default").spec["reason"]


record("update", update)
record("delete", lambda: client.silences.delete("linux:*", "default"))
record("find_deleted", lambda: client.silences.find("linux:*", "default"))
record("delete_again", lambda: client.silences.delete("linux:*", "default"))
record("list_after", lambda: [s.name for s in client.silences.list("default")])
print(json.dumps(results))
