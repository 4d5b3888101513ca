"""The fixtures of the Sensu Go API tests (tests/sensugo.py), and a third backend."""

import pytest

from tests.sensugo import app, config, sensu

__all__ = ["app", "backend", "config", "sensu"]


@pytest.fixture(
    params=[
        "fake",
        pytest.param("real", marks=pytest.mark.integration),
        pytest.param("cluster", marks=pytest.mark.integration),
    ]
)
def backend(request: pytest.FixtureRequest) -> str:
    """fake: fakeredis; real: redis-server; cluster: a 3-primary Redis Cluster."""
    return request.param
