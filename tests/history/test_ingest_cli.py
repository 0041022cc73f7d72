"""``cohort import ...`` through typer's CliRunner, on the hand-written fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, inspect, select
from typer.testing import CliRunner

from bot import history_cli
from engine.store.models import Community, Message
from tests.history.helpers import DISCORD_GENERAL, DISCORD_THREAD, SE_DUMP, TELEGRAM

runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cohort.db"
    monkeypatch.setenv("COHORT_STORAGE__URL", f"sqlite:///{path}")
    monkeypatch.setenv("COHORT_LOG_LEVEL", "WARNING")
    monkeypatch.delenv("COHORT_CONFIG", raising=False)
    return path


def _count(db: Path, model: type) -> int:
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(model)).scalar_one())
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("args", "kinds"),
    [
        (["telegram-export", str(TELEGRAM)], ("message", "reaction_added", "member_joined")),
        (["discord-export", str(DISCORD_GENERAL), str(DISCORD_THREAD)], ("message", "command")),
        (["stackexchange", str(SE_DUMP), "--site", "python"], ("message", "thread_opened")),
    ],
)
def test_each_fixture_imports_with_a_summary(db: Path, args: list[str], kinds: tuple[str, ...]) -> None:
    result = runner.invoke(history_cli.cli, args)

    assert result.exit_code == 0, result.output
    for kind in kinds:
        assert kind in result.output
    assert "members seen:" in result.output
    assert "already stored (duplicates): 0" in result.output
    assert "failed: 0" in result.output
    assert _count(db, Message) > 0

    again = runner.invoke(history_cli.cli, args)
    assert again.exit_code == 0, again.output
    assert "already stored (duplicates): 0" not in again.output


def test_skipped_records_are_listed_with_where_and_why(db: Path) -> None:
    result = runner.invoke(history_cli.cli, ["telegram-export", str(TELEGRAM)])

    assert result.exit_code == 0, result.output
    assert "skipped 4 records" in result.output
    assert "telegram_result.json record 12 field 'from_id'" in result.output


def test_stackexchange_site_names_the_community(db: Path) -> None:
    runner.invoke(history_cli.cli, ["stackexchange", str(SE_DUMP), "--site", "pyfans"])
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        names = set(conn.execute(select(Community.external_id)).scalars())
    engine.dispose()
    assert names == {"pyfans"}


@pytest.mark.parametrize(
    "args",
    [
        ["telegram-export", "{bad}"],
        ["discord-export", str(TELEGRAM)],  # a real export, of the other format
        ["telegram-export", str(DISCORD_GENERAL)],
        ["stackexchange", "{dir}"],
    ],
)
def test_a_file_of_another_format_exits_2_and_writes_nothing(db: Path, tmp_path: Path, args: list[str]) -> None:
    bad = tmp_path / "notes.json"
    bad.write_text('{"hello": "world"}')
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    args = [a.replace("{bad}", str(bad)).replace("{dir}", str(empty_dir)) for a in args]

    result = runner.invoke(history_cli.cli, args)

    assert result.exit_code == 2, result.output
    assert "error:" in result.output and "nothing was imported" in result.output
    # The database is not even created, let alone written.
    assert not db.exists() or not inspect(create_engine(f"sqlite:///{db}")).get_table_names()


def test_one_bad_file_among_several_discord_exports_imports_none(db: Path) -> None:
    result = runner.invoke(history_cli.cli, ["discord-export", str(DISCORD_GENERAL), str(TELEGRAM)])
    assert result.exit_code == 2
    assert not db.exists()


def test_a_truncated_file_reports_where_and_exits_1(db: Path, tmp_path: Path) -> None:
    cut = tmp_path / "result.json"
    data = TELEGRAM.read_text(encoding="utf-8")
    cut.write_text(data[: int(len(data) * 0.7)], encoding="utf-8")

    result = runner.invoke(history_cli.cli, ["telegram-export", str(cut)])

    assert result.exit_code == 1, result.output
    assert "stopped early" in result.output
    assert _count(db, Message) > 0  # what came before the cut is kept


def test_demo_seeds_a_small_simulated_community(db: Path) -> None:
    args = ["demo", "--members", "12", "--days", "4", "--seed", "3", "--language", "en"]
    result = runner.invoke(history_cli.cli, args)

    assert result.exit_code == 0, result.output
    assert "simulated:demo" in result.output
    assert "member_joined" in result.output
    assert "catalog:" in result.output
    assert _count(db, Message) > 0


def test_demo_refuses_an_unknown_language(db: Path) -> None:
    result = runner.invoke(history_cli.cli, ["demo", "--language", "fr"])
    assert result.exit_code == 2
