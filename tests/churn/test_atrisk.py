"""``/atrisk`` through the router on a seeded community: faders on top, bad input answered."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.bootstrap import App
from bot.handlers.churn import model_dir
from bot.ports import Role
from engine.churn.service import score_community, train_community
from engine.store.models import Community
from tests.churn.seed import seed, when
from tests.churn.synth import community
from tests.doubles.events import command, message
from tests.doubles.messenger import RecordingMessenger


@pytest.fixture
async def world(app: App) -> tuple[RecordingMessenger, set[str]]:
    chat = RecordingMessenger(roles={"mod": Role.MODERATOR})
    await app.dispatch(message("mod", "hello"), chat)  # the community exists, mod is known
    log, faders = community(n=100, days=200, seed=11)
    now = when(190)
    with Session(app.store.engine) as session:
        cid, _ = seed(session, log)
        train_community(session, cid, now, model_dir(app.settings))
        score_community(session, cid, now, model_dir(app.settings))
        session.commit()
    chat.said.clear()
    return chat, {f"U{i}" for i in faders}


def _names(text: str) -> list[str]:
    return [line.split("—")[0].replace("⚑", "").strip() for line in text.splitlines() if "—" in line and "%" in line]


async def test_atrisk_pages_flagged_members_faders_first(app: App, world) -> None:
    chat, faders = world
    await app.dispatch(command("mod", "atrisk", "2"), chat)
    text = chat.said[-1].plain
    assert "flagged of" in text and "last active" in text
    top = _names(text)
    assert len(top) == 2 and all(name in faders for name in top), (top, faders)
    assert "page 1/" in text and "next: /atrisk 2 2" in text
    await app.dispatch(command("mod", "atrisk", "2", "2"), chat)
    rest = _names(chat.said[-1].plain)
    assert rest and set(rest).isdisjoint(top)


async def test_atrisk_for_one_member_and_bad_input(app: App, world) -> None:
    chat, _ = world
    await app.dispatch(command("mod", "atrisk", "@u0"), chat)
    assert "U0" in chat.said[-1].plain and "risk" in chat.said[-1].plain
    for args, expect in ((("abc",), "not a valid n"), (("²",), "not a valid n"), (("0",), "not a valid n"),
                         (("99",), "not a valid n"), (("5", "999"), "only"), (("@ghost",), "don't know"),
                         (("1", "2", "3"), "Usage")):
        await app.dispatch(command("mod", "atrisk", *args), chat)
        assert expect in chat.said[-1].plain, (args, chat.said[-1].plain)
    said = len(chat.said)
    await app.dispatch(command("u1", "atrisk"), chat)  # members may not see it
    assert len(chat.said) == said + 1 and "moderator" in chat.said[-1].plain.lower()


async def test_atrisk_before_any_scoring(app: App) -> None:
    chat = RecordingMessenger(roles={"mod": Role.MODERATOR})
    await app.dispatch(message("mod", "hello"), chat)
    await app.dispatch(command("mod", "atrisk"), chat)
    assert "No churn scores yet" in chat.said[-1].plain



async def test_atrisk_answers_in_the_communitys_language(app: App, world) -> None:
    chat, faders = world

    def to_chinese(session: Session) -> None:
        for c in session.scalars(select(Community)):
            c.settings = {**(c.settings or {}), "language": "zh"}
        session.commit()

    with Session(app.store.engine) as session:
        to_chinese(session)
    await app.dispatch(command("mod", "atrisk", "2"), chat)
    text = chat.said[-1].plain
    assert "流失风险" in text and "人被标记" in text and "第 1/" in text and "下一页：/atrisk 2 2" in text
    assert "最后活跃" in text and "At risk" not in text
    top = _names(text)
    assert top and all(name in faders for name in top)
    await app.dispatch(command("mod", "atrisk", "²"), chat)
    assert "² 不是有效的 n" in chat.said[-1].plain and "用法" in chat.said[-1].plain
    await app.dispatch(command("mod", "atrisk", "@u0"), chat)
    assert "风险" in chat.said[-1].plain and "评分" in chat.said[-1].plain
