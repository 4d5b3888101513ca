"""Run sensu-plugin 0.8.0's SensuHandler.filter_silenced for one event, unmodified.

argv: API URL (SENSU_API_URL form, credentials allowed), client name, check name.
Prints the handler's own bail message when silenced, else "not silenced".
"""

import os
import sys

from sensu_plugin.handler import SensuHandler

os.environ["SENSU_API_URL"] = sys.argv[1]
handler = SensuHandler(autorun=False)
handler.event = {"client": {"name": sys.argv[2]}, "check": {"name": sys.argv[3]}}
handler.settings = {}
handler.api_settings = handler.get_api_settings()
try:
    handler.filter_silenced()
except SystemExit:
    sys.exit(0)  # bail() printed why
print("not silenced")
