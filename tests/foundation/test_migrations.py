"""Models and migrations agree, and upgrade → downgrade → upgrade works on both databases."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

import engine.store.all_tables  # noqa: F401
from engine.store import migrate
from engine.store.base import Base
from engine.store.db import make_engine


def _pg_url() -> str | None:
    url = os.environ.get("COHORT_TEST_PG_URL")
    if not url and os.environ.get("COHORT_REQUIRE_PG"):
        pytest.fail("COHORT_REQUIRE_PG is set but COHORT_TEST_PG_URL is empty: PostgreSQL did not start")
    return url or None


def _reset_pg(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    else:
        url = _pg_url()
        if url is None:
            pytest.skip("no PostgreSQL (set COHORT_TEST_PG_URL; `make test` starts one when installed)")
        engine = make_engine(url)
        _reset_pg(engine)
    yield engine
    if request.param == "postgresql":
        _reset_pg(engine)
    engine.dispose()


def test_models_and_migrations_agree(db: Engine) -> None:
    migrate.upgrade(db)
    with db.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": migrate.include_name})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], f"models differ from migrations: {diff}"


def test_upgrade_downgrade_upgrade(db: Engine) -> None:
    migrate.upgrade(db)
    assert migrate.is_current(db)
    tables = set(inspect(db).get_table_names())
    assert {"messages", "interactions", "audit_log", "processed_events"} <= tables
    migrate.downgrade(db, "base")
    assert set(inspect(db).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(db)
    assert set(inspect(db).get_table_names()) == tables


def test_every_table_is_created_by_migrations(db: Engine) -> None:
    migrate.upgrade(db)
    assert {t.name for t in Base.metadata.sorted_tables} <= set(inspect(db).get_table_names())
