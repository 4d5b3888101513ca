"""The fixtures of the Sensu Go API tests (tests/sensugo.py), for silenced."""

from tests.sensugo import app, backend, config, sensu

__all__ = ["app", "backend", "config", "sensu"]
