"""Drive pysensu-ng 0.13.0's SensuAPI through its stash, health and info calls.

argv: base URL, then optionally user and password. Prints one JSON document with
what each call returned (or the exception text it raised).
"""

import json
import sys

from pysensu.api import SensuAPI, SensuAPIException

url, *credentials = sys.argv[1:]
api = SensuAPI(url, *credentials)
results = {}


def record(name, call):
    try:
        results[name] = call()
    except SensuAPIException as exc:
        results[name] = f"raised: {exc}"


record("health", api.get_health)
record("info_version", lambda: api.get_info()["sensu"]["version"])
payload = {"path": "silence/web1/disk", "content": {"reason": "swap"}, "expire": 600}
record("create_document", lambda: api.create_stash(payload))
record("create_at_path", lambda: api.create_stash({"by": "ng"}, path="silence/web2"))
record("list", api.get_stashes)
record("delete", lambda: api.delete_stash("silence/web2"))
record("delete_again", lambda: api.delete_stash("silence/web2"))
record("list_after", lambda: [stash["path"] for stash in api.get_stashes()])
print(json.dumps(results))
