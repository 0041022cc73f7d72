"""One settings object, loaded once: defaults in code, ``config/default.toml``, an optional
user TOML (``COHORT_CONFIG`` or ``--config``), then ``COHORT_*`` environment variables.

Tokens come only from the environment (``TELEGRAM_TOKEN``, ``DISCORD_TOKEN``); a token
written in a TOML file is refused at start. Per-community settings live in the database.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TOML = ROOT / "config" / "default.toml"


class SettingsError(Exception):
    """Bad settings, with a message that names the key and the fix."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StorageSettings(_Section):
    url: str = "sqlite:///data/cohort.db"
    keep_message_text: bool = True
    max_text_length: int = Field(16_384, ge=256, le=1_000_000)
    sqlite_synchronous: Literal["OFF", "NORMAL", "FULL", "EXTRA"] = "FULL"
    max_batch: int = Field(512, ge=1, le=10_000)


class TelegramSettings(_Section):
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str = ""  # public https URL Telegram posts to
    listen: str = "127.0.0.1"
    port: int = Field(8443, ge=1, le=65535)
    base_url: str = ""  # Bot API server; empty = Telegram's (tests point it at a fake)
    role_cache_seconds: int = Field(300, ge=0)
    max_in_flight: int = Field(64, ge=1, le=1024)  # updates being handled at once
    request_timeout: float = Field(10.0, gt=0)


class DiscordSettings(_Section):
    prefix: str = "!"
    sharded: bool = False
    guild_ids: list[int] = Field(default_factory=list)  # where to register slash commands
    dm_interval: float = Field(1.0, ge=0)  # seconds between Cohort's own DMs (bulk nudges)


class ConsoleSettings(_Section):
    user: str = "you"
    community: str = "demo"
    chat: str = "general"


class RecsysSettings(_Section):
    artifact_dir: str = "data/models"
    device: Literal["auto", "cpu", "cuda"] = "auto"


class SchedulerSettings(_Section):
    enabled: bool = True
    timezone: str = "UTC"
    recsys_train_at: str = Field("03:30", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")  # HH:MM, daily
    churn_score_at: str = Field("04:30", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")  # HH:MM, daily
    leader_poll: float = Field(15.0, gt=0, le=50)  # a standby takes over within this (one per DB)
    sync_every: float = Field(60.0, gt=0)  # per-community jobs follow new communities / settings


class NotifierSettings(_Section):
    max_attempts: int = Field(3, ge=1, le=10)  # sends per claim for transient failures
    retry_delay: float = Field(2.0, ge=0)  # first back-off between attempts (then ×4)
    # A "sending" row untouched this long belongs to a dead process and is taken over.
    stale_after: float = Field(300.0, gt=0)
    sweep_interval: float = Field(30.0, gt=0)  # how often planned/stale rows are resumed
    recheck_unreachable_days: float = Field(7.0, ge=0)  # retry an account that refused DMs
    telegram_interval: float = Field(1 / 30, ge=0)  # seconds between DMs (Telegram: 30/s)
    discord_interval: float = Field(0.0, ge=0)  # the Discord messenger paces by dm_interval


class DigestSettings(_Section):
    send_day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"  # weekly, community's local day
    send_at: str = Field("09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")  # HH:MM, community's local time
    answer_hours: float = Field(24.0, gt=0, le=24 * 30)  # a question with no reply this long is unanswered


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="COHORT_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    language: Literal["en", "zh"] = "en"
    owner_ids: list[str] = Field(default_factory=list)  # "platform:id" accounts that own Cohort
    storage: StorageSettings = StorageSettings()
    telegram: TelegramSettings = TelegramSettings()
    discord: DiscordSettings = DiscordSettings()
    console: ConsoleSettings = ConsoleSettings()
    recsys: RecsysSettings = RecsysSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    notifier: NotifierSettings = NotifierSettings()
    digest: DigestSettings = DigestSettings()

    telegram_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("TELEGRAM_TOKEN", "COHORT_TELEGRAM_TOKEN")
    )
    discord_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("DISCORD_TOKEN", "COHORT_DISCORD_TOKEN")
    )
    # Telegram echoes it in a header on every webhook request; requests without it are refused.
    telegram_webhook_secret: SecretStr | None = Field(
        None, validation_alias=AliasChoices("TELEGRAM_WEBHOOK_SECRET", "COHORT_TELEGRAM_WEBHOOK_SECRET")
    )

    @field_validator("telegram_token", "discord_token", "telegram_webhook_secret", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if value in ("", None) else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats init values (the merged TOML files) beats code defaults.
        return (env_settings, init_settings)


SECRET_KEYS = ("telegram_token", "discord_token", "telegram_webhook_secret")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise SettingsError(f"config file {path} does not exist; fix the path in COHORT_CONFIG or --config") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"config file {path} is not valid TOML: {exc}") from exc
    for key in SECRET_KEYS:
        if key in data:
            raise SettingsError(
                f"{path}: '{key}' must not be in a file; set {key.upper()} in the environment instead"
            )
    return data


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_settings(config: str | Path | None = None, **overrides: Any) -> Settings:
    """Load the effective settings.

    Raises :class:`SettingsError` naming the bad key and how to fix it.
    """
    data: dict[str, Any] = _read_toml(DEFAULT_TOML) if DEFAULT_TOML.exists() else {}
    user = config or os.environ.get("COHORT_CONFIG")
    if user:
        data = _merge(data, _read_toml(Path(user)))
    data = _merge(data, overrides)
    try:
        return Settings(**data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            env = "COHORT_" + "__".join(str(p).upper() for p in err["loc"])
            problems.append(f"  {key}: {err['msg']} (got {err.get('input')!r}; fix it in your TOML or {env})")
        raise SettingsError("invalid settings:\n" + "\n".join(problems)) from exc


def redacted(settings: Settings) -> dict[str, Any]:
    """The settings as a dict with secrets shown only as set / not set."""
    data = settings.model_dump(mode="json")
    for key in SECRET_KEYS:
        data[key] = "***set***" if getattr(settings, key) is not None else None
    if "@" in data["storage"]["url"] and "://" in data["storage"]["url"]:
        scheme, rest = data["storage"]["url"].split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        data["storage"]["url"] = f"{scheme}://{user}:***@{host}"
    return data
