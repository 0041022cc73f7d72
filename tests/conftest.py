"""Shared fixtures: a real app on a throwaway SQLite file (or PostgreSQL when asked)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.bootstrap import App, build_app
from bot.settings import Settings, load_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(storage={"url": f"sqlite:///{tmp_path / 'cohort.db'}"},
                         recsys={"artifact_dir": str(tmp_path / "models")})


@pytest.fixture
def app(settings: Settings) -> Iterator[App]:
    """A started app with its schema created; stopped (writer drained) afterwards."""
    application = build_app(settings)
    application.store.create_schema()
    application.start()
    try:
        yield application
    finally:
        application.stop()


def pg_url() -> str | None:
    return os.environ.get("COHORT_TEST_PG_URL") or None
