from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings, redacted


def test_defaults_load() -> None:
    s = load_settings()
    assert s.storage.url.startswith("sqlite:///")
    assert s.telegram.mode == "polling"


def test_environment_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[storage]\nurl = "sqlite:///from-file.db"\n[telegram]\nport = 9000\n')
    monkeypatch.setenv("COHORT_STORAGE__URL", "sqlite:///from-env.db")
    s = load_settings(cfg)
    assert s.storage.url == "sqlite:///from-env.db"
    assert s.telegram.port == 9000


def test_bad_value_names_the_key_and_the_fix(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[telegram]\nport = 99999999\n")
    with pytest.raises(SettingsError) as err:
        load_settings(cfg)
    assert "telegram.port" in str(err.value) and "COHORT_TELEGRAM__PORT" in str(err.value)


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[storage]\nurll = 'x'\n")
    with pytest.raises(SettingsError, match=r"storage\.urll"):
        load_settings(cfg)


def test_token_in_a_file_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('telegram_token = "123:abc"\n')
    with pytest.raises(SettingsError, match="TELEGRAM_TOKEN"):
        load_settings(cfg)


def test_missing_and_broken_files_say_so(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[storage\n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(bad)


def test_tokens_come_from_env_and_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_TOKEN", "123:tok-XYZ")
    monkeypatch.setenv("COHORT_STORAGE__URL", "postgresql://cohort:hunter2@127.0.0.1/cohort")
    s = load_settings()
    assert s.telegram_token is not None and s.telegram_token.get_secret_value() == "123:tok-XYZ"
    shown = str(redacted(s))
    assert "tok-XYZ" not in shown and "hunter2" not in shown
    assert "***set***" in shown


def test_config_show_cli_redacts(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from bot.cli import app

    monkeypatch.setenv("DISCORD_TOKEN", "very-secret-token")
    result = CliRunner().invoke(app, ["config", "show"])
    assert result.exit_code == 0
    assert "very-secret-token" not in result.output and '"discord_token": "***set***"' in result.output
