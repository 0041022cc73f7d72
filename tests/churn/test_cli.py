"""``cohort churn train|eval`` on a seeded database: the folded per-community loop, the
rolling windows of ``eval --splits`` in the table and in JSON, bad options refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from bot import churn_cli
from engine.store import migrate
from engine.store.db import make_engine
from tests.churn.seed import seed, when
from tests.churn.synth import community

runner = CliRunner()
NOW = when(190)


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cli.db"
    monkeypatch.setenv("COHORT_STORAGE__URL", f"sqlite:///{path}")
    monkeypatch.setenv("COHORT_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("COHORT_RECSYS__ARTIFACT_DIR", str(tmp_path / "models"))
    monkeypatch.delenv("COHORT_CONFIG", raising=False)
    monkeypatch.setenv("COLUMNS", "200")  # rich tables unwrapped
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    with Session(engine) as session:
        seed(session, community(n=100, days=200, seed=11)[0])
    engine.dispose()
    return path


def test_train_then_eval_over_rolling_windows(db: Path, tmp_path: Path) -> None:
    trained = runner.invoke(churn_cli.cli, ["train", "--as-of", NOW.isoformat()])
    assert trained.exit_code == 0, trained.output
    assert "examples" in trained.output and "(community)" in trained.output
    assert list((tmp_path / "models" / "churn").glob("churn-*.json"))

    table = runner.invoke(churn_cli.cli, ["eval", "--as-of", NOW.isoformat(), "--rounds", "100", "--splits", "2"])
    assert table.exit_code == 0, table.output
    assert "model − logistic-rf ROC-AUC" in table.output and "rolling later windows" in table.output
    assert "mean ± sd" in table.output and "model ≥ logistic-rf in" in table.output

    data = json.loads(runner.invoke(churn_cli.cli, ["eval", "--as-of", NOW.isoformat(), "--rounds", "100",
                                                    "--splits", "2", "--format", "json"]).output)
    [report] = data
    assert [r["name"].split(" ")[0] for r in report["rows"]] == ["model", "recency", "logistic-rf", "bgnbd"]
    windows = report["rolling"]["splits"]
    assert len(windows) + len(report["rolling"]["skipped"]) == 2 and windows
    assert all(w["test_from"] > report["rolling"]["splits"][0]["test_from"] for w in windows[1:])


def test_bad_options_are_refused_plainly(db: Path) -> None:
    for args, expect in ((["eval", "--format", "xml"], "--format must be table or json"),
                         (["train", "--as-of", "yesterday"], "--as-of must be an ISO date")):
        result = runner.invoke(churn_cli.cli, args)
        assert result.exit_code == 2 and expect in result.output, result.output
        assert "Traceback" not in result.output
