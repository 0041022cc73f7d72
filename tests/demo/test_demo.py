"""The first-run demo: seeding, reuse on the second start, the console banner."""

from __future__ import annotations

import builtins
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import demo
from bot.bootstrap import App
from bot.cli import run_demo_console
from engine.events import CommandInvoked, Platform
from engine.store.models import Community, CommunityMember, Message
from tests.doubles.messenger import RecordingMessenger
from tests.history.helpers import TELEGRAM
from tests.history.test_ingest import row_counts

SMALL = demo.DemoOptions(members=25, days=6, seed=11, language="en",
                         start=datetime(2025, 1, 1, tzinfo=UTC))


@pytest.fixture
def no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The console reads nothing: the session ends at once (end of input)."""
    def eof(prompt: str = "") -> str:
        raise EOFError

    monkeypatch.setattr(builtins, "input", eof)
    monkeypatch.delenv(demo.DEMO_FROM_ENV, raising=False)


def _counts(app: App) -> tuple[int, int]:
    def read(s: Session) -> tuple[int, int]:
        return (s.execute(select(func.count()).select_from(CommunityMember)).scalar_one(),
                s.execute(select(func.count()).select_from(Message)).scalar_one())
    with Session(app.store.engine) as s:
        return read(s)


async def test_first_start_seeds_and_the_second_reuses(app: App, no_terminal: None,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    await run_demo_console(app, seed_if_empty=True, options=SMALL, train=False)
    first = capsys.readouterr().out
    members, messages = _counts(app)
    assert members > 0 and messages > 0
    assert "seeding a demo community" in first
    assert "Cohort demo: community 'demo'" in first and "(just seeded)" in first
    assert "its most active member and its owner" in first
    assert "/me" in first and "/leaderboard" in first
    assert "catalog:" in first  # loaded, or a note saying why not
    before = row_counts(app)

    await run_demo_console(app, seed_if_empty=True, options=SMALL, train=False)
    second = capsys.readouterr().out

    assert "seeding" not in second and "(from your database)" in second
    assert row_counts(app) == before


async def test_the_demo_member_gets_real_answers(app: App) -> None:
    await demo.seed_demo(app, SMALL)
    info = await demo.demo_info(app, "demo", seeded=True)
    assert info is not None and info.user_id.startswith("u") and info.messages > 0
    messenger = RecordingMessenger()
    me = CommandInvoked(platform=Platform.CONSOLE, community_id="demo", chat_id="general",
                        user_id=info.user_id, user_name=info.user_id, message_id="1", name="me")
    await app.dispatch(me, messenger)
    answer = " ".join(messenger.replies_to(info.user_id))
    assert info.user_name in answer or "points" in answer.lower()


async def test_a_database_with_other_communities_is_not_seeded(app: App, no_terminal: None,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    await demo.seed_demo(app, SMALL, source=TELEGRAM)  # any data at all
    with Session(app.store.engine) as s:
        s.execute(Community.__table__.update().values(external_id="elsewhere"))
        s.commit()
    before = row_counts(app)

    await run_demo_console(app, seed_if_empty=True, options=SMALL, train=False)

    assert "Cohort console. You are the owner" in capsys.readouterr().out
    assert row_counts(app) == before


async def test_demo_from_an_export_is_rehomed_into_the_console_community(
        app: App, no_terminal: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(demo.DEMO_FROM_ENV, str(TELEGRAM))

    await run_demo_console(app, seed_if_empty=True, options=SMALL, train=False)

    out = capsys.readouterr().out
    assert "telegram_result.json" in out
    with Session(app.store.engine) as s:
        communities = s.execute(select(Community.platform, Community.external_id)).all()
    assert communities == [("console", "demo")]


async def test_a_wrong_demo_source_exits_2(app: App, no_terminal: None, monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    import typer

    bad = tmp_path / "x.json"
    bad.write_text("[]")
    monkeypatch.setenv(demo.DEMO_FROM_ENV, str(bad))
    with pytest.raises(typer.Exit) as exc:
        await run_demo_console(app, seed_if_empty=True, options=SMALL, train=False)
    assert exc.value.exit_code == 2
    assert not await demo.has_any_community(app)


