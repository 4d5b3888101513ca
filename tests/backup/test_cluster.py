"""Export and import on a 3-primary Redis Cluster: a batch of an import spans
slots, and a namespace's marker and the list of namespaces are in two of them.

The tests are the single-Redis round trips, run again with the cluster backend.
"""

from __future__ import annotations

import pytest

from tests.backup.test_backup import (
    deployment,
    test_round_trip_keeps_scan_verdicts_and_shares,
    test_round_trip_restores_every_record,
    test_round_trip_serves_the_same_answers,
)

__all__ = [
    "deployment",
    "test_round_trip_keeps_scan_verdicts_and_shares",
    "test_round_trip_restores_every_record",
    "test_round_trip_serves_the_same_answers",
]


@pytest.fixture(params=[pytest.param("cluster", marks=pytest.mark.integration)])
def backend(request: pytest.FixtureRequest) -> str:
    """Only the cluster: the other backends run these tests in test_backup.py."""
    return request.param
