"""The fixtures of the archives tests (tests/sensugo.py)."""

from tests.sensugo import app, backend, config, sensu

__all__ = ["app", "backend", "config", "sensu"]
