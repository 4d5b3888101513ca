"""The error every setting parser raises, and the prefix its messages name.

Its own module so that `core.settings_load` and `core.addresses` both import it
and neither imports the other's caller.
"""

from __future__ import annotations

ENV_PREFIX = "STASHD_"


class ConfigError(ValueError):
    """A setting has a value stashd cannot run with; the message names it."""
