"""The silenced settings: parsed by kind, checked at start (D3, D1)."""

from __future__ import annotations

import fakeredis
import pytest

from app import create_app
from core.config_error import ConfigError
from core.settings_load import from_env
from tests.silenced.helpers import assert_json_error


def test_settings_are_read_from_the_environment():
    settings = from_env(
        {
            "STASHD_SILENCED_V1_NAMESPACE": "ops",
            "STASHD_SILENCED_MAX_SECONDS": "86400",
            "STASHD_SILENCED_DEFAULT_SECONDS": "3600",
        }
    )
    assert settings == {
        "SILENCED_V1_NAMESPACE": "ops",
        "SILENCED_MAX_SECONDS": 86400,
        "SILENCED_DEFAULT_SECONDS": 3600,
    }


def test_defaults_are_off():
    config = create_app({}, redis=fakeredis.FakeRedis()).config
    assert config["SILENCED_V1_NAMESPACE"] == "default"
    assert config["SILENCED_MAX_SECONDS"] == 0
    assert config["SILENCED_DEFAULT_SECONDS"] == 0


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"SILENCED_V1_NAMESPACE": ""}, "STASHD_SILENCED_V1_NAMESPACE"),
        ({"SILENCED_V1_NAMESPACE": "a{b}"}, "STASHD_SILENCED_V1_NAMESPACE"),
        ({"SILENCED_MAX_SECONDS": -1}, "STASHD_SILENCED_MAX_SECONDS"),
        ({"SILENCED_DEFAULT_SECONDS": 2**31}, "STASHD_SILENCED_DEFAULT_SECONDS"),
        (
            {"SILENCED_MAX_SECONDS": 60, "SILENCED_DEFAULT_SECONDS": 61},
            "STASHD_SILENCED_DEFAULT_SECONDS",
        ),
    ],
)
def test_settings_stashd_cannot_run_with_stop_it(config, named):
    with pytest.raises(ConfigError, match=named):
        create_app(config, redis=fakeredis.FakeRedis())


class TestBodyLimit:
    @pytest.fixture
    def config(self):
        return {"MAX_BODY_BYTES": 64}

    def test_bodies_over_the_limit_get_413(self, v1):
        body = {"subscription": "web", "reason": "x" * 100}
        assert assert_json_error(v1.create(body), 413)
        assert v1.items() == []
