"""Web-layer settings: defaults, parsing, and failing fast with the variable's name."""

from __future__ import annotations

import ipaddress

import pytest

from api.settings import ApiSettings
from heatmap_engine.config import ConfigError


def test_defaults_allow_all_origins_and_do_not_limit():
    settings = ApiSettings.from_env({})
    assert settings.cors_origins == ("*",) and settings.cors_allow_all
    assert settings.rate_limit == "" and settings.trusted_proxies == ()
    assert settings.api_max_age == 2


def test_values_are_parsed():
    settings = ApiSettings.from_env(
        {
            "HEATMAP_CORS_ORIGINS": "https://a.example, http://localhost:3000/,https://a.example",
            "HEATMAP_RATE_LIMIT": "10/second;600/hour",
            "HEATMAP_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8, ::1",
            "HEATMAP_API_MAX_AGE": "5",
        }
    )
    assert settings.cors_origins == ("https://a.example", "http://localhost:3000")
    assert not settings.cors_allow_all
    assert settings.rate_limit == "10/second;600/hour"
    assert ipaddress.ip_address("10.9.8.7") in settings.trusted_proxies[1]
    assert len(settings.trusted_proxies) == 3 and settings.api_max_age == 5


@pytest.mark.parametrize("off", ["", "off", "0", "none", "OFF"])
def test_rate_limit_can_be_switched_off(off):
    assert ApiSettings.from_env({"HEATMAP_RATE_LIMIT": off}).rate_limit == ""


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HEATMAP_CORS_ORIGINS", "wagmi-global.eu"),
        ("HEATMAP_CORS_ORIGINS", "https://a.example/path"),
        ("HEATMAP_CORS_ORIGINS", "*,https://a.example"),
        ("HEATMAP_RATE_LIMIT", "lots"),
        ("HEATMAP_RATE_LIMIT", "10 per fortnight"),
        ("HEATMAP_TRUSTED_PROXIES", "nginx"),
        ("HEATMAP_API_MAX_AGE", "-1"),
        ("HEATMAP_API_MAX_AGE", "soon"),
        ("HEATMAP_API_CACHE_SIZE", "1"),
    ],
)
def test_bad_values_fail_fast_naming_the_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        ApiSettings.from_env({name: value})


def test_reads_the_process_environment_by_default(monkeypatch):
    monkeypatch.setenv("HEATMAP_API_MAX_AGE", "7")
    assert ApiSettings.from_env().api_max_age == 7
