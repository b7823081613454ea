"""The consent log's settings in ConsentConfig: retention, admin token, user agent and IP,
the chain key and anchoring."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from consentgate import ConfigurationError, ConsentConfig

from .helpers import SECRET, make_config

TOKEN = "admin-token-that-is-long-enough-0123456789"
CHAIN_KEY = "chain-key-that-is-long-enough-0123456789"


def test_defaults_keep_everything_off() -> None:
    config = make_config()
    assert config.retention_days is None
    assert config.admin_token is None
    assert (config.log_user_agent, config.log_ip) == ("off", "off")


def test_records_must_outlive_the_consent_they_prove() -> None:
    with pytest.raises(ConfigurationError, match="retention_days: 181 days is shorter"):
        make_config(retention_days=181)  # the default consent lasts 182 days
    assert make_config(retention_days=182).retention_days == 182
    # A partial day of lifetime needs a whole day of records.
    with pytest.raises(ConfigurationError, match="retention_days"):
        make_config(retention_days=30, cookie_max_age=30 * 86400 + 1)
    assert make_config(retention_days=31, cookie_max_age=30 * 86400 + 1).retention_days == 31


def test_valid_values_are_kept() -> None:
    config = make_config(
        retention_days=730, admin_token=TOKEN, log_user_agent="hash", log_ip="truncate"
    )
    assert (config.retention_days, config.admin_token) == (730, TOKEN)
    assert TOKEN not in repr(config)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("retention_days", 0),
        ("retention_days", -5),
        ("retention_days", 1.5),
        ("retention_days", "30"),
        ("retention_days", True),
        ("retention_days", 10**6),
        ("admin_token", "short"),
        ("admin_token", " " * 40),
        ("admin_token", "a" * 31),
        ("admin_token", "token with spaces that is long enough to pass"),
        ("admin_token", "ünïcødé-token-that-is-long-enough-to-pass"),
        ("admin_token", 12345678901234567890123456789012345),
        ("log_user_agent", "truncated"),
        ("log_user_agent", "on"),
        ("log_ip", "hash"),
        ("log_ip", True),
        ("chain_key", "short"),
        ("chain_key", SECRET),  # the signing secret is in every cookie's signature
        ("chain_key", b"k" * 40),
        ("anchor_url", "ftp://example.com/heads"),
        ("anchor_url", "/heads"),
        ("anchor_every_records", 0),
        ("anchor_every_records", 2.5),
        ("anchor_every_minutes", 0),
        ("anchor_every_minutes", -1),
        ("anchor_every_minutes", True),
    ],
)
def test_invalid_values_name_the_field(field: str, value: Any) -> None:
    with pytest.raises(ConfigurationError) as caught:
        make_config(**{field: value})
    assert caught.value.field == field


def test_the_settings_come_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "consentgate.toml"
    path.write_text(
        f'secret_key = "{SECRET}"\nretention_days = 365\nadmin_token = "{TOKEN}"\n'
        'log_user_agent = "truncate"\nlog_ip = "truncate"\n',
        encoding="utf-8",
    )
    config = ConsentConfig.from_toml(path)
    assert config.retention_days == 365
    assert config.admin_token == TOKEN
    assert (config.log_user_agent, config.log_ip) == ("truncate", "truncate")


def test_the_admin_token_can_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "consentgate.toml"
    path.write_text(f'secret_key = "{SECRET}"\n', encoding="utf-8")
    monkeypatch.setenv("CONSENTGATE_ADMIN_TOKEN", TOKEN)
    assert ConsentConfig.from_toml(path).admin_token == TOKEN
    path.write_text(f'secret_key = "{SECRET}"\nadmin_token = "{"f" * 40}"\n', encoding="utf-8")
    assert ConsentConfig.from_toml(path).admin_token == "f" * 40
    monkeypatch.setenv("CONSENTGATE_ADMIN_TOKEN", "")
    path.write_text(f'secret_key = "{SECRET}"\n', encoding="utf-8")
    assert ConsentConfig.from_toml(path).admin_token is None


def test_the_chain_key_reaches_the_log_and_can_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from consentgate import ConsentMiddleware

    from .helpers import make_app

    config = make_config(chain_key=CHAIN_KEY)
    assert CHAIN_KEY not in repr(config)
    middleware = ConsentMiddleware(make_app(), config=config)
    assert middleware.log.chain_key == CHAIN_KEY.encode()
    path = tmp_path / "consentgate.toml"
    path.write_text(f'secret_key = "{SECRET}"\n', encoding="utf-8")
    monkeypatch.setenv("CONSENTGATE_CHAIN_KEY", CHAIN_KEY)
    assert ConsentConfig.from_toml(path).chain_key == CHAIN_KEY


def test_a_chain_key_for_a_log_made_by_hand_belongs_to_that_log() -> None:
    from .helpers import RecordingLog

    with pytest.raises(ConfigurationError) as caught:
        make_config(store=RecordingLog(), chain_key=CHAIN_KEY)
    assert caught.value.field == "chain_key"
