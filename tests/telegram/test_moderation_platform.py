"""/mute and /ban acting on Telegram, and a 429 that pauses every send, through
python-telegram-bot's real HTTP client against the fake Bot API."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from telegram import Bot

from bot.adapters.telegram import TelegramAdapter
from bot.adapters.telegram.messenger import TelegramMessenger
from bot.bootstrap import App
from bot.ports import Capability, ChatRef, PlatformError
from engine.events import Platform
from engine.store.models import AuditEntry
from tests.fakes.telegram_api import NO_RIGHTS, TOKEN, FakeTelegram
from tests.telegram.conftest import GROUP, AdapterFactory, eventually, group_chat, message, user

ADA = user(1001, "Ada", username="ada")
GRACE = user(1002, "Grace", username="grace")
LINUS = user(1003, "Linus", username="linus")  # a Telegram admin of the group
MIA = user(1004, "Mia", username="mia")  # a Cohort moderator, a plain member on Telegram
BASIC, MOVED = -4001, -1004001


def texts(fake: FakeTelegram) -> list[str]:
    return [str(c.params.get("text", "")) for c in fake.calls_to("sendMessage")]


async def said(fake: FakeTelegram, contains: str, after: int = 0) -> str:
    """The first sendMessage text from index ``after`` on that contains ``contains``."""
    async def found() -> bool:
        return any(contains in t for t in texts(fake)[after:])

    await eventually(found)
    return next(t for t in texts(fake)[after:] if contains in t)


async def ask(fake: FakeTelegram, text: str, sender: dict[str, Any], expect: str, **extra: Any) -> str:
    """Send ``text`` from ``sender`` in the group; the bot's reply containing ``expect``."""
    before = len(texts(fake))
    fake.push_update(message(text, sender=sender, **extra))
    return await said(fake, expect, after=before)


async def audit_actions(app: App) -> list[tuple[str, dict[str, Any]]]:
    rows = await app.store.read(lambda s: s.execute(select(AuditEntry.action, AuditEntry.details)).all())
    return [(action, dict(details or {})) for action, details in rows]


@pytest.fixture
async def community(fake: FakeTelegram, make_adapter: AdapterFactory) -> TelegramAdapter:
    """A running adapter; Ada, Grace, Linus and Mia have spoken; Mia is a Cohort moderator."""
    adapter = await make_adapter()
    fake.set_status(GROUP, 1003, "administrator")
    for who in (ADA, GRACE, LINUS, MIA):
        fake.push_update(message(f"hello, I am {who['first_name']}", sender=who))
    await ask(fake, "/mod add @mia", LINUS, "now a Cohort moderator")
    return adapter


async def test_telegram_declares_moderation(community: TelegramAdapter) -> None:
    assert Capability.MODERATE in community.messenger.capabilities


async def test_moderator_mutes_for_ten_minutes_and_the_audit_shows_it(
    app: App, fake: FakeTelegram, community: TelegramAdapter
) -> None:
    reply = await ask(fake, "/mute @grace 10m flooding the chat", MIA, "is muted until")
    [call] = fake.calls_to("restrictChatMember")
    assert call.params["chat_id"] == GROUP and call.params["user_id"] == 1002
    permissions = call.params["permissions"]
    assert permissions.get("can_send_messages") is False
    assert permissions and not any(permissions.values())
    until = int(call.params["until_date"])
    assert abs(until - (time.time() + 600)) < 60
    assert f"{datetime.fromtimestamp(until, UTC):%Y-%m-%d %H:%M} UTC" in reply

    audit = await ask(fake, "/audit", MIA, "Audit log")
    assert "Mia: mute → Grace — “flooding the chat”" in audit
    [(_, details)] = [a for a in await audit_actions(app) if a[0] == "mute"]
    assert details["reason"] == "flooding the chat" and "until" in details


async def test_ban_by_replying_to_the_message(app: App, fake: FakeTelegram, community: TelegramAdapter) -> None:
    spam = {"message_id": 500, "date": 1_735_689_600, "chat": group_chat(), "from": GRACE, "text": "buy now"}
    await ask(fake, "/ban spam links", MIA, "is banned", reply_to_message=spam)
    [call] = fake.calls_to("banChatMember")
    assert call.params["chat_id"] == GROUP and call.params["user_id"] == 1002
    assert ("ban", {"reason": "spam links"}) in await audit_actions(app)


async def test_a_plain_member_is_refused_without_calling_telegram(
    app: App, fake: FakeTelegram, community: TelegramAdapter
) -> None:
    await ask(fake, "/mute @grace 10m", ADA, "for moderators and above")
    await ask(fake, "/ban @grace", ADA, "for moderators and above")
    assert fake.calls_to("restrictChatMember") == [] and fake.calls_to("banChatMember") == []
    assert [a for a, _ in await audit_actions(app) if a in ("mute", "ban")] == []


async def test_missing_rights_get_a_clear_reply_and_no_audit_row(
    app: App, fake: FakeTelegram, community: TelegramAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail("restrictChatMember", status=400, description=NO_RIGHTS)
    with caplog.at_level(logging.WARNING):
        reply = await ask(fake, "/mute @grace 1h", MIA, "The platform refused")
    assert "not allowed to mute members here" in reply and "Ban users" in reply
    assert "restrictChatMember" not in reply and "Bad Request" not in reply
    assert len(fake.calls_to("restrictChatMember")) == 1  # a refusal is not retried
    assert [a for a, _ in await audit_actions(app) if a == "mute"] == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

    # an admin on Telegram: the rank rule refuses before Telegram is asked
    reply = await ask(fake, "/ban @linus", MIA, "rank at or above")
    assert "Linus is an admin here" in reply and "Bad Request" not in reply and fake.calls_to("banChatMember") == []
    assert [a for a, _ in await audit_actions(app) if a == "ban"] == []


async def test_until_date_is_sent_as_telegram_reads_it(fake: FakeTelegram, community: TelegramAdapter) -> None:
    m = community.messenger
    now = datetime.now(UTC)
    in_2_days = now + timedelta(days=2)
    assert await m.mute(str(GROUP), "1002", until=None, reason="") is None
    short = await m.mute(str(GROUP), "1002", until=now + timedelta(seconds=5), reason="")  # Telegram: forever
    long = await m.mute(str(GROUP), "1002", until=now + timedelta(days=400), reason="")  # Telegram: forever
    naive = await m.mute(str(GROUP), "1002", until=in_2_days.replace(tzinfo=None), reason="")
    with pytest.raises(PlatformError, match="in the future"):
        await m.mute(str(GROUP), "1002", until=now - timedelta(minutes=1), reason="")
    sent = [c.params.get("until_date") for c in fake.calls_to("restrictChatMember")]
    assert sent[0] is None and len(sent) == 4  # no until_date: until lifted
    assert short is not None and long is not None and naive is not None
    assert sent[1:] == [int(short.timestamp()), int(long.timestamp()), int(naive.timestamp())]
    assert 59 <= (short - now).total_seconds() <= 90  # raised to a real short mute
    assert timedelta(days=364) < long - now <= timedelta(days=365)  # cut to a real long one
    assert abs((naive - in_2_days).total_seconds()) < 1  # naive means UTC


async def test_basic_group_and_moved_group(fake: FakeTelegram, community: TelegramAdapter) -> None:
    m = community.messenger
    with pytest.raises(PlatformError, match="only in supergroups"):
        await m.mute(str(BASIC), "1002", until=None, reason="")
    with pytest.raises(PlatformError, match="in the group itself"):
        await m.mute("", "1002", until=None, reason="")  # a private chat has no group

    fake.fail("banChatMember", status=400, description="Bad Request: group chat was upgraded to a supergroup chat",
              migrate_to_chat_id=MOVED, chat_id=BASIC)
    await m.ban(str(BASIC), "1002", reason="")
    assert [c.params["chat_id"] for c in fake.calls_to("banChatMember")] == [BASIC, MOVED]
    await m.mute(str(BASIC), "1002", until=None, reason="")  # follows the move: a supergroup now
    assert fake.calls_to("restrictChatMember")[-1].params["chat_id"] == MOVED


# -- 429: one flood wait pauses every acting call ------------------------------------------------
class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=fake.base_url) as client:
        yield client


def messenger(bot: Bot, clock: FakeClock, sleep: Callable[[float], Any], **kw: Any) -> TelegramMessenger:
    return TelegramMessenger(bot, sleep=sleep, clock=clock, retry_delay=0.001, **kw)


def group(chat_id: int = GROUP) -> ChatRef:
    return ChatRef(Platform.TELEGRAM, str(chat_id), str(chat_id))


async def test_a_flood_wait_pauses_every_other_send(fake: FakeTelegram, bot: Bot) -> None:
    clock, resume = FakeClock(), asyncio.Event()
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        await resume.wait()

    m = messenger(bot, clock, sleep)
    other = -1005550001
    fake.fail("sendMessage", status=429, description="Too Many Requests: retry after 30", retry_after=30,
              chat_id=GROUP)
    first = asyncio.create_task(m.send(group(), "first"))
    await eventually(lambda: _true(len(sleeps) == 1))  # the 429 is being waited out
    second = asyncio.create_task(m.send(group(other), "second"))
    third = asyncio.create_task(m.dm("1001", "third"))
    await eventually(lambda: _true(len(sleeps) == 3))
    assert sleeps == [30.0, 30.0, 30.0]
    assert texts(fake) == ["first"]  # nobody else reached Telegram during the pause
    assert await m.role_of(str(GROUP), "1001") is not None  # reads are not paused
    assert len(sleeps) == 3

    clock.now += 30
    resume.set()
    await asyncio.gather(first, second, third)
    assert sorted(texts(fake)) == ["first", "first", "second", "third"]
    await m.send(group(other), "after")  # the pause is over: no more waiting
    assert len(sleeps) == 3


async def test_a_flood_wait_longer_than_allowed_fails_fast_for_everyone(fake: FakeTelegram, bot: Bot) -> None:
    clock = FakeClock()
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    m = messenger(bot, clock, sleep, max_retry_after=60)
    fake.fail("sendMessage", status=429, description="Too Many Requests: retry after 120", retry_after=120)
    with pytest.raises(PlatformError, match="flood control"):
        await m.send(group(), "first")
    with pytest.raises(PlatformError, match="flood control"):
        await m.mute(str(GROUP), "1002", until=None, reason="")
    assert texts(fake) == ["first"] and fake.calls_to("restrictChatMember") == []
    assert sleeps == []

    clock.now += 70  # 50 s left: within max_retry_after, so it waits, then sends
    await m.send(group(), "second")
    assert sleeps == [50.0] and texts(fake) == ["first", "second"]


async def _true(value: bool) -> bool:
    return value
