"""``cohort nudge run --dry-run`` and ``cohort nudge report`` on a seeded database."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.nudges import cli
from engine.churn.scores import MemberRisk, Reason, store_scores
from engine.store import migrate
from engine.store.db import make_engine
from tests.nudge.helpers import NOW, add_community, add_member, enable, session_of

runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cli.db"
    monkeypatch.setenv("COHORT_STORAGE__URL", f"sqlite:///{path}")
    monkeypatch.setenv("COHORT_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("COHORT_RECSYS__ARTIFACT_DIR", str(tmp_path / "models"))
    monkeypatch.delenv("COHORT_CONFIG", raising=False)
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    with session_of(engine) as s:
        c = add_community(s, "py")
        enable(s, c)
        members = [add_member(s, c, f"Member{i}") for i in range(10)]
        store_scores(s, c, NOW.date(), "t", [MemberRisk(m, 0.9, (Reason("recency", "quiet", "安静", 0.3),),
                                                        NOW.date(), NOW - timedelta(days=20)) for m in members])
    engine.dispose()
    return path


def test_dry_run_lists_arms_and_one_message_and_stores_nothing(db: Path) -> None:
    result = runner.invoke(cli.cli, ["run", "--dry-run", "--at", NOW.isoformat()])
    assert result.exit_code == 0, result.output
    assert result.output.count("CONTROL (not messaged)") == 2
    assert result.output.count("  nudge") == 8
    assert "Dry run: nothing was stored or sent." in result.output
    assert "/nudges off" in result.output
    report = runner.invoke(cli.cli, ["report", "--format", "json", "--at", NOW.isoformat()])
    assert report.exit_code == 0, report.output
    data = json.loads(report.output)
    assert data["campaigns"] == [] and data["overall"] is None


def test_bad_arguments_are_clear(db: Path) -> None:
    assert "--dry-run" in runner.invoke(cli.cli, ["run"]).output
    bad = runner.invoke(cli.cli, ["report", "--format", "xml"])
    assert bad.exit_code == 2 and "table or json" in bad.output
    missing = runner.invoke(cli.cli, ["report", "--community", "nope"])
    assert missing.exit_code == 2 and "no unique community" in missing.output
