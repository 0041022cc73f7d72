"""The write path on SQLite and on a real PostgreSQL: group commits, idempotency, big ids."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import func, select, text

from bot.bootstrap import App, build_app
from bot.settings import load_settings
from engine.events import MessagePosted, Platform, ReactionAdded, ReactionRemoved
from engine.store import migrate
from engine.store.models import Account, Message, Reaction
from tests.doubles.events import at
from tests.doubles.messenger import RecordingMessenger


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_app(request: pytest.FixtureRequest, tmp_path) -> Iterator[App]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'b.db'}"
    else:
        url = os.environ.get("COHORT_TEST_PG_URL", "")
        if not url:
            if os.environ.get("COHORT_REQUIRE_PG"):
                pytest.fail("COHORT_REQUIRE_PG is set but PostgreSQL did not start")
            pytest.skip("no PostgreSQL")
    application = build_app(load_settings(storage={"url": url}))
    if request.param == "postgresql":
        with application.store.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    migrate.upgrade(application.store.engine)
    application.start()
    yield application
    application.stop()
    application.store.engine.dispose()


BIG = str(2**40 + 7)  # Telegram user ids exceed 32 bits


def tg_message(i: int, user: str = BIG) -> MessagePosted:
    return MessagePosted(platform=Platform.TELEGRAM, community_id="-1001234567890", chat_id="-1001234567890",
                         user_id=user, user_name="Big Id", message_id=str(i), text=f"msg {i} 你好 👍", at=at(i))


async def test_concurrent_write_path_and_duplicates(backend_app: App) -> None:
    m = RecordingMessenger()
    events = [tg_message(i, user=str(2**40 + i % 13)) for i in range(300)]
    outcomes = await asyncio.gather(*(backend_app.dispatch(e, m) for e in events + events[:100]))
    assert sum(o.duplicate for o in outcomes) == 100

    def counts(s):
        return (s.execute(select(func.count()).select_from(Message)).scalar_one(),
                s.execute(select(func.count()).select_from(Account)).scalar_one())

    assert backend_app.store.read_sync(counts) == (300, 13)


async def test_reaction_add_twice_then_readd(backend_app: App) -> None:
    m = RecordingMessenger()
    await backend_app.dispatch(tg_message(1), m)
    r = ReactionAdded(platform=Platform.TELEGRAM, community_id="-1001234567890", chat_id="-1001234567890",
                      user_id="42", message_id="1", emoji="❤️", target_user_id=BIG, at=at(5))
    assert not (await backend_app.dispatch(r, m)).duplicate
    assert (await backend_app.dispatch(r, m)).duplicate
    rows = backend_app.store.read_sync(lambda s: s.execute(select(Reaction.emoji, Reaction.target_member_id)).all())
    assert len(rows) == 1 and rows[0][1] is not None
    # removed, re-added later (a new event), then the re-add redelivered with a new time
    removed = ReactionRemoved(**{f: getattr(r, f) for f in ("platform", "community_id", "chat_id", "user_id",
                                                             "message_id", "emoji", "target_user_id")}, at=at(6))
    assert not (await backend_app.dispatch(removed, m)).duplicate
    assert not (await backend_app.dispatch(replace(r, at=at(7)), m)).duplicate
    assert (await backend_app.dispatch(replace(r, at=at(8)), m)).duplicate
    state = backend_app.store.read_sync(lambda s: s.execute(select(Reaction.removed_at)).scalars().all())
    assert state == [None]


async def test_text_with_nul_and_emoji_on_backend(backend_app: App) -> None:
    m = RecordingMessenger()
    ev = MessagePosted(platform=Platform.DISCORD, community_id="1", chat_id="2", user_id="3",
                       message_id="9", text="a\x00b 🧑🏽‍🚀 مرحبا", at=at(0))
    await backend_app.dispatch(ev, m)
    assert backend_app.store.read_sync(lambda s: s.execute(select(Message.text)).scalar_one()) == "a\ufffdb 🧑🏽‍🚀 مرحبا"
