"""``cohort doctor`` without tokens checks the database, models, catalog and scheduler."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from bot.adapters.base import Severity
from bot.bootstrap import App
from bot.doctor import local_findings
from engine.recsys.community import community_dir
from engine.store import migrate
from engine.store.db import make_engine
from tests.catalog.helpers import COURSE, load_rows

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _by_check(findings):  # type: ignore[no-untyped-def]
    return {f.check: f for f in findings}


def test_an_unmigrated_database_is_an_error_with_its_fix(tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    found = _by_check(local_findings(settings, engine, now=NOW))
    assert found["database"].severity == Severity.ERROR and "cohort db upgrade" in found["database"].fix
    assert "TELEGRAM_TOKEN" in found["platforms"].detail


def test_without_a_token_doctor_says_which_rights_it_would_check(tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    rights = _by_check(local_findings(settings, engine, now=NOW))["moderation rights"].detail
    assert "not checked without a token" in rights
    for named in ("can_restrict_members", "can_delete_messages", "Kick", "Manage Messages", "Timeout"):
        assert named in rights


async def test_catalog_models_and_jobs_are_reported(app: App) -> None:
    engine = app.store.engine
    with engine.begin() as conn:  # the fixture made the schema from the models: stamp it as migrated
        conn.execute(text("CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
        conn.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": migrate.head()})
    with engine.begin() as conn:  # what the scheduler's job store would hold
        conn.execute(text("CREATE TABLE IF NOT EXISTS scheduler_jobs (id VARCHAR(191) PRIMARY KEY, "
                          "next_run_time FLOAT, job_state BLOB)"))
    found = _by_check(local_findings(app.settings, engine, now=NOW))
    assert found["database"].severity == Severity.OK
    assert found["communities"].severity == Severity.OK  # none yet

    cid = await load_rows(app, COURSE)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO scheduler_jobs VALUES ('recsys-nightly-training', :t, x'00')"),
                     {"t": (NOW - timedelta(days=2)).timestamp()})
    found = _by_check(local_findings(app.settings, engine, now=NOW))
    catalog = next(f for c, f in found.items() if c.startswith("catalog "))
    model = next(f for c, f in found.items() if c.startswith("model "))
    assert catalog.severity == Severity.OK and "items" in catalog.detail
    assert model.severity == Severity.WARNING and "not trained yet" in model.detail
    assert found["job recsys-nightly-training"].severity == Severity.WARNING  # overdue: no bot running

    broken = community_dir(Path(app.settings.recsys.artifact_dir), cid) / "20260101T000000000000Z-broken"
    broken.mkdir(parents=True)
    (broken / "manifest.json").write_text("{not json")
    model = next(f for f in local_findings(app.settings, engine, now=NOW) if f.check.startswith("model "))
    assert model.severity == Severity.ERROR and "no loadable artifact" in model.detail
