"""The role matrix on Telegram, through python-telegram-bot's real HTTP client against the
fake Bot API: every moderator, admin and owner command sent by a member, a Cohort moderator,
a Telegram admin, the group's owner, an anonymous admin, a linked channel and another bot;
then the acting commands aimed at each rank. A refusal writes nothing and calls nothing on
the platform; moderators never act on members who rank at or above them."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.adapters.telegram import TelegramAdapter
from bot.bootstrap import App
from engine.moderation.tables import Filter, Restriction, Warning_
from engine.points.tables import PointsEntry
from engine.store.models import AuditEntry, Community
from tests.fakes.telegram_api import BOT_USERNAME, FakeTelegram
from tests.telegram.conftest import GROUP, AdapterFactory, eventually, group_chat, message, user

# Hundreds of commands through the real adapter: minutes of wall time, so CI runs it (-m slow).
pytestmark = pytest.mark.slow

ADA = user(1001, "Ada", username="ada")          # a member
GRACE = user(1002, "Grace", username="grace")    # the member acted on
LINUS = user(1003, "Linus", username="linus")    # a Telegram administrator
MIA = user(1004, "Mia", username="mia")          # a Cohort moderator
OWEN = user(1005, "Owen", username="owen")       # the group's creator
BOTTY = {"id": 5555, "is_bot": True, "first_name": "Helper", "username": "helper_bot"}
ANON = {"from": {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"},
        "sender_chat": group_chat()}
CHANNEL = {"from": {"id": 777000, "is_bot": False, "first_name": "Telegram"},
           "sender_chat": {"id": -1007777, "title": "News", "type": "channel"}, "is_automatic_forward": True}

# caller → (how the message is sent, the rank the bot must give it)
CALLERS: dict[str, tuple[dict[str, Any], int]] = {
    "member": ({"sender": ADA}, 0),
    "moderator": ({"sender": MIA}, 1),
    "admin": ({"sender": LINUS}, 2),
    "owner": ({"sender": OWEN}, 3),
    "anonymous admin": ({"sender": False, **ANON}, 0),
    "linked channel": ({"sender": False, **CHANNEL}, 0),
    "other bot": ({"sender": BOTTY}, 0),
}
# command → the least rank it needs
COMMANDS: list[tuple[str, int]] = [
    ("/warn @grace rude", 1), ("/warns @grace", 1), ("/unwarn @grace", 1), ("/mute @grace 10m", 1),
    ("/unmute @grace", 1), ("/ban @grace 1d spam", 1), ("/unban @grace", 1), ("/kick @grace", 1),
    ("/purge 1", 1), ("/filter add word spam", 1), ("/modlog", 1), ("/points take @grace 5 x", 1),
    ("/config moderation.flood_messages 5", 1), ("/filter links allow example.com", 1), ("/mod add @grace", 2),
    ("/welcome on", 2),
]
ACTING = ["/warn {t} rude", "/mute {t} 10m", "/ban {t} 1d x", "/kick {t}", "/points give {t} 1 x"]
PLATFORM_CALLS = ("restrictChatMember", "banChatMember", "unbanChatMember", "deleteMessages", "deleteMessage")
_dates = itertools.count(int(time.time()) - 3600, 3)  # 3 s apart: a pace, not a flood of commands


async def state(app: App, fake: FakeTelegram) -> tuple[Any, ...]:
    def read(s: Session) -> tuple[Any, ...]:
        counts = tuple(int(s.execute(select(func.count()).select_from(t)).scalar_one())
                       for t in (AuditEntry, Warning_, Restriction, Filter, PointsEntry))
        settings = json.dumps(s.execute(select(Community.settings)).scalars().all(), sort_keys=True, default=str)
        return (*counts, settings)
    return (*await app.store.read(read), sum(len(fake.calls_to(m)) for m in PLATFORM_CALLS))


async def send(fake: FakeTelegram, text: str, how: dict[str, Any]) -> str:
    """Push ``text`` as ``how`` says; the bot's reply to it."""
    update = message(text, date=next(_dates), **how)
    mid = update["message"]["message_id"]

    def replies() -> list[str]:
        return [str(c.params.get("text", "")) for c in fake.calls_to("sendMessage")
                if f'"message_id": {mid}' in json.dumps(c.params.get("reply_parameters") or {})
                or str(c.params.get("reply_to_message_id", "")) == str(mid)]

    sent_before = len(fake.calls_to("sendMessage"))
    fake.push_update(update)

    def answers() -> list[str]:
        if text.startswith("/purge"):  # its command is deleted too, so the report is no reply
            return replies() or [str(c.params.get("text", "")) for c in fake.calls_to("sendMessage")[sent_before:]]
        return replies()

    async def answered() -> bool:
        return bool(answers())

    try:
        await eventually(answered)
    except AssertionError:
        raise AssertionError(f"no answer to {text!r} from {how}") from None
    return answers()[0]


async def community(fake: FakeTelegram, make_adapter: AdapterFactory) -> TelegramAdapter:
    adapter = await make_adapter()
    fake.set_status(GROUP, 1003, "administrator")
    fake.set_status(GROUP, 1005, "creator")
    for who in (ADA, GRACE, LINUS, MIA, OWEN, BOTTY):
        fake.push_update(message(f"hello, I am {who['first_name']}", sender=who, date=next(_dates)))
    assert "now a Cohort moderator" in await send(fake, "/mod add @mia", {"sender": LINUS})
    return adapter


async def test_who_may_run_each_command(app: App, fake: FakeTelegram, make_adapter: AdapterFactory) -> None:
    await community(fake, make_adapter)
    for caller, (how, rank) in CALLERS.items():
        for text, needs in COMMANDS:
            before = await state(app, fake)
            reply = await send(fake, text, how)
            refused = "and above" in reply or "Only moderators" in reply
            assert refused == (rank < needs), (caller, text, reply)
            if refused:
                assert await state(app, fake) == before, (caller, text)
                if caller in ("anonymous admin", "linked channel") and "and above" in reply:
                    assert "posting as a chat" in reply
                if caller == "other bot" and "and above" in reply:
                    assert "Bots can't use it" in reply


async def test_nobody_acts_on_a_member_who_ranks_at_or_above_them(app: App, fake: FakeTelegram,
                                                                   make_adapter: AdapterFactory) -> None:
    await community(fake, make_adapter)
    targets = {"@ada": 0, "@mia": 1, "@linus": 2, "@owen": 3, "@helper_bot": None, f"@{BOT_USERNAME}": None}
    actors = {"moderator": MIA, "admin": LINUS, "owner": OWEN}
    for (actor, sender), (target, target_rank) in itertools.product(actors.items(), targets.items()):
        rank = CALLERS[actor][1]
        for template in ACTING:
            before = await state(app, fake)
            reply = await send(fake, template.format(t=target), {"sender": sender})
            allowed = target_rank is not None and target_rank < rank and sender["username"] != target[1:]
            changed = await state(app, fake) != before
            assert changed == allowed, (actor, target, template, reply)
            if target_rank is not None and target_rank >= rank and sender["username"] != target[1:]:
                assert "rank at or above" in reply, (actor, target, template, reply)
            if target_rank is None:
                assert "bot" in reply.lower() or "don't know" in reply, reply
