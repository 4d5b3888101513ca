"""Drive pysensu 0.5's Pysensu: create, list and delete stashes, unmodified.

pysensu 0.5 always speaks HTTPS with the credentials in the URL. argv: host, port,
user, password. Prints one JSON document of the results.
"""

import json
import sys

from pysensu.pysensu import Pysensu

host, port, user, password = sys.argv[1:]
api = Pysensu(host, user=user, password=password, port=int(port))
api.create_stash("web1")
api.create_stash("web1", "disk")
listed = api.get_all_stashes()
api.delete_stash("web1", "disk")
after = api.get_all_stashes()
try:
    api.delete_stash("web1", "disk")
    second_delete = "no error"
except ValueError as exc:
    second_delete = str(exc)
print(json.dumps({"listed": listed, "after": after, "second_delete": second_delete}))
