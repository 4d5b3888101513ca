"""Fixtures for the backup tests: a deployment holding every kind of record.

The `app` here is seeded as the launchers seed it, with an API key, on fakeredis
and on a real redis-server (tests/sensugo.py).
"""

from __future__ import annotations

from tests.sensugo import app, backend, config, sensu

__all__ = ["app", "backend", "config", "sensu"]
