"""Drive pysensu-ng 0.13.0's SensuAPI through its silenced calls.

argv: base URL. Prints one JSON document with what each call returned (or the
exception text it raised).
"""

import json
import sys

from pysensu.api import SensuAPI, SensuAPIException

api = SensuAPI(sys.argv[1])
results = {}


def record(name, call):
    try:
        results[name] = call()
    except SensuAPIException as exc:
        results[name] = f"raised: {exc}"


record(
    "create_check",
    lambda: api.post_silence_request(
        {"subscription": "web", "check": "disk", "expire": 600, "reason": "swap"}
    ),
)
record("create_client", lambda: api.post_silence_request({"subscription": "client:h"}))
record("create_star", lambda: api.post_silence_request({"subscription": "*"}))
# The limit travels in a JSON body that the server ignores: every entry comes back.
record("list_limit_1", lambda: api.get_silenced(limit=1))
record("clear", lambda: api.clear_silence({"id": "web:disk"}))
record("clear_again", lambda: api.clear_silence({"id": "web:disk"}))
record("list_after", lambda: [entry["id"] for entry in api.get_silenced()])
print(json.dumps(results))
