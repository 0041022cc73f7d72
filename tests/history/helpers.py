"""Shared helpers for the history importer tests."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "history"
TELEGRAM = FIXTURES / "telegram_result.json"
DISCORD_GENERAL = FIXTURES / "discord_general.json"
DISCORD_THREAD = FIXTURES / "discord_thread.json"
SE_DUMP = FIXTURES / "stackexchange" / "python.example"
