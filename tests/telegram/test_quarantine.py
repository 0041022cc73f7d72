"""Quarantine, not death: a malformed update is counted, logged in one short line, kept as
a dead letter for ``cohort doctor`` and never stops the others."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot import cli
from bot.bootstrap import App
from engine.ingest.dead_letters import MAX_EXCERPT, excerpt, quarantined, store_dead_letter
from engine.ingest.tables import DeadLetter
from engine.store.models import Chat, Community, Message
from tests.fakes.telegram_api import FakeTelegram

from .conftest import AdapterFactory, eventually, group_chat, message, user

HUGE = "x" * 2_000_000


def poison() -> list[dict[str, Any]]:
    """Updates that once stopped ingest or PTB, each with a valid update_id."""
    chat = group_chat()
    return [
        {"update_id": 1, "message": {"message_id": 1, "date": 1735689600, "chat": {"id": {"a": 1}}, "text": "x"}},
        {"update_id": 2, "message": {"message_id": 2, "date": 1735689600, "chat": chat, "from": {"id": [1]}, "text": "x"}},
        {"update_id": 3, "callback_query": {"id": "q", "from": {"id": {}}, "data": "d",
                                            "message": {"message_id": 1, "date": 0, "chat": {"id": [1]}}}},
        {"update_id": 4, "message_reaction": {"chat": {"id": []}, "message_id": 1, "date": 1, "user": user(5)}},
        {"update_id": 5, "message": {"message_id": 5, "date": "yesterday", "chat": chat, "text": "x"}},
        {"update_id": 6, "message": {"message_id": 6, "date": 1735689600, "chat": chat, "text": {"deep": [[[[1]]]]}}},
        {"update_id": 7, "brand_new_kind": {"x": HUGE}},
        {"update_id": 8, "message": "a string"},
        {"update_id": 9},
    ]


async def test_poison_updates_are_quarantined_and_the_rest_flows(
    app: App, fake: FakeTelegram, make_adapter: AdapterFactory, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = await make_adapter()
    caplog.set_level(logging.INFO)
    fake.push_updates([*poison(), message("after the poison", update_id=10, message_id=10)])
    await eventually(lambda: _stored(app, "10"))
    letters = await app.store.read(lambda s: s.execute(select(DeadLetter).order_by(DeadLetter.id)).scalars().all())
    assert [d.update_key for d in letters] == [str(i) for i in range(1, 10)]
    assert adapter.updates_quarantined == 9
    assert letters[0].reason == "chat.id is a dict, not an integer"
    assert letters[1].reason == "from.id is a list, not an integer"
    assert letters[4].reason == "date is a str, not an integer"
    assert letters[6].reason == "unknown update kind ['brand_new_kind']"
    assert all(len(d.excerpt) <= MAX_EXCERPT and len(d.reason) <= 300 for d in letters)
    quarantine_lines = [r for r in caplog.records if "quarantined" in r.getMessage()]
    assert len(quarantine_lines) == 9  # once per update
    assert max(len(r.getMessage()) for r in caplog.records) < 400  # never the payload
    assert not [r for r in caplog.records if r.exc_info]


async def test_a_redelivered_poison_update_is_one_dead_letter(
    app: App, fake: FakeTelegram, make_adapter: AdapterFactory
) -> None:
    adapter = await make_adapter(recent_updates=0)
    bad = poison()[0]
    fake.push_update(bad)
    fake.push_update(message("one", update_id=20, message_id=20))
    await eventually(lambda: _stored(app, "20"))
    fake.push_updates([bad], force=True)  # Telegram sends it again after a crash
    fake.push_update(message("two", update_id=21, message_id=21))
    await eventually(lambda: _stored(app, "21"))
    assert adapter.updates_quarantined == 2
    assert await app.store.read(lambda s: len(s.execute(select(DeadLetter)).all())) == 1


async def test_bad_titles_and_names_are_cleaned_not_fatal(
    app: App, fake: FakeTelegram, make_adapter: AdapterFactory
) -> None:
    await make_adapter()
    lone = "Py\ud800thon\x00 group"
    chat = {"id": -100777, "type": "supergroup", "title": lone}
    fake.push_updates([
        message("first", chat=chat, update_id=30, message_id=30,
                sender={"id": 31, "is_bot": False, "first_name": "A\udfffda", "username": "ada\x00"}),
        message("second", chat={**chat, "title": ["not", "a", "string"]}, update_id=31, message_id=31,
                sender={"id": 32, "is_bot": False, "first_name": 12345, "last_name": {"x": 1}}),
        message("third", chat=chat, update_id=32, message_id=32),
    ])
    await eventually(lambda: _stored(app, "32"))
    assert await _stored(app, "30") and await _stored(app, "31")
    titles = await app.store.read(lambda s: (
        s.execute(select(Community.title).where(Community.external_id == "-100777")).scalar_one(),
        s.execute(select(Chat.title).where(Chat.external_id == "-100777")).scalar_one()))
    assert titles == ("Py\ufffdthon\ufffd group",) * 2


def test_excerpt_is_bounded_for_huge_and_deep_payloads() -> None:
    deep: Any = 1
    for _ in range(100_000):
        deep = [deep]
    wide = {f"k{i}": HUGE for i in range(1000)}
    for payload in (deep, wide, HUGE, {"t": "\ud800" * 10}, object()):
        text = excerpt(payload)
        assert len(text) <= MAX_EXCERPT
        text.encode("utf-8")  # storable


def test_doctor_reports_dead_letters_without_a_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.orm import Session

    from engine.store import migrate
    from engine.store.db import make_engine

    url = f"sqlite:///{tmp_path / 'doctor.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)  # a real, migrated database: what `cohort run` leaves
    monkeypatch.setenv("COHORT_STORAGE__URL", url)
    monkeypatch.setenv("COHORT_RECSYS__ARTIFACT_DIR", str(tmp_path / "models"))
    for var in ("TELEGRAM_TOKEN", "DISCORD_TOKEN", "COHORT_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    runner = CliRunner()
    clean = runner.invoke(cli.app, ["doctor"])
    assert "dead letters: none" in clean.output
    with Session(engine) as session, session.begin():
        store_dead_letter(session, quarantined("telegram", 5, {"x": 1}, "chat.id is a list"))
    with Session(engine) as session, session.begin():
        store_dead_letter(session, quarantined("telegram", 6, {}, "no update kind"))
    engine.dispose()
    out = runner.invoke(cli.app, ["doctor"]).output
    assert "dead letters: 2 update(s) quarantined" in out
    assert out.index("no update kind") < out.index("chat.id is a list")  # newest first


async def _stored(app: App, external_id: str) -> bool:
    found = await app.store.read(
        lambda s: s.execute(select(Message.id).where(Message.external_id == external_id)).first())
    return found is not None


async def test_forget_removes_dead_letters_that_name_the_member(
    app: App, fake: FakeTelegram, make_adapter: AdapterFactory
) -> None:
    from engine.members.privacy import export_member, forget_member
    from engine.store.models import Account

    await make_adapter()
    fake.push_updates([
        message("hi", update_id=40, message_id=40, sender=user(4242, username="grace_h")),
        {"update_id": 41, "message": {"message_id": 41, "date": "bad", "chat": group_chat(), "from": user(4242)}},
        {"update_id": 42, "message": {"message_id": 42, "date": "bad", "chat": group_chat(), "from": user(4343)}},
        message("done", update_id=43, message_id=43),
    ])
    await eventually(lambda: _stored(app, "43"))
    member_id = await app.store.read(lambda s: s.execute(
        select(Account.member_id).where(Account.external_id == "4242")).scalar_one())
    exported = await app.store.read(lambda s: export_member(s, member_id, app.privacy_hooks))
    assert [d["reason"] for d in exported["dead_letters"]["dead_letters"]] == ["date is a str, not an integer"]
    await app.store.write(lambda s: forget_member(s, member_id, app.privacy_hooks))
    keys = await app.store.read(lambda s: s.execute(select(DeadLetter.update_key)).scalars().all())
    assert keys == ["42"]  # another member's dead letter stays
