"""Shared fixtures: a real app on a throwaway SQLite file (or PostgreSQL when asked)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from bot.bootstrap import App, build_app
from bot.settings import Settings, load_settings
from engine.store import migrate
from engine.store.db import make_engine


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


@pytest.fixture
def fresh_pg() -> Iterator[tuple[str, Engine]]:
    """The test PostgreSQL database, emptied and migrated to head: (url, engine). Skipped
    without ``COHORT_TEST_PG_URL``; a failure when CI asked for PostgreSQL (``COHORT_REQUIRE_PG``)."""
    url = pg_url()
    if not url:
        if os.environ.get("COHORT_REQUIRE_PG"):
            pytest.fail("COHORT_REQUIRE_PG is set but COHORT_TEST_PG_URL is empty: PostgreSQL did not start")
        pytest.skip("no PostgreSQL (set COHORT_TEST_PG_URL)")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    migrate.upgrade(engine)
    yield url, engine
    engine.dispose()
