"""What every ``cohort`` sub-command starts with: the settings (a bad one is printed with
its fix, exit 2) and an app whose schema is migrated.

Capability CLIs import this, never :mod:`bot.cli` (which mounts them), so the command
line has no import cycle. The ``--config`` file reaches here through ``COHORT_CONFIG``,
which the root command sets (child processes read the same file).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from bot.logs import configure_logging
from bot.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:  # building the app imports every capability; commands that only need settings skip it
    from bot.bootstrap import App


def settings_or_exit() -> Settings:
    """Load settings; on a bad setting print what and how to fix it, exit 2."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(2) from exc
    configure_logging(settings)  # secrets masked on every logger, httpx's per-request lines quiet
    return settings


def ready_app(settings: Settings) -> App:
    """Build the app with its schema migrated to the newest revision."""
    from bot.bootstrap import build_app
    from engine.store import migrate

    application = build_app(settings)
    migrate.upgrade(application.store.engine)
    return application
