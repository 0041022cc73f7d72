"""Antiflood, the command budget, filters and the welcome's deep link on Telegram, through
python-telegram-bot's real HTTP client against the fake Bot API."""

from __future__ import annotations

import time

from sqlalchemy import select

from bot.bootstrap import App
from engine.store.models import Account, AuditEntry
from tests.fakes.telegram_api import BOT_USERNAME, FakeTelegram
from tests.telegram.conftest import GROUP, AdapterFactory, eventually, message, private_chat
from tests.telegram.test_moderation_platform import ADA, GRACE, LINUS, MIA, texts


def _now_() -> int:
    return int(time.time())  # the antiflood skips messages older than two minutes by the clock


class _Now:
    def __next__(self) -> int:
        return _now_()


_now = _Now()


async def said(fake: FakeTelegram, needle: str) -> str:
    async def found() -> bool:
        return any(needle in t for t in texts(fake))

    try:
        await eventually(found)
    except AssertionError:
        raise AssertionError(f"{needle!r} not in {texts(fake)}") from None
    return next(t for t in texts(fake) if needle in t)


async def ready(fake: FakeTelegram, make_adapter: AdapterFactory) -> None:
    await make_adapter()
    fake.set_status(GROUP, 1003, "administrator")
    for who in (ADA, GRACE, LINUS, MIA):
        fake.push_update(message(f"hello, I am {who['first_name']}", sender=who, date=next(_now)))
    fake.push_update(message("/mod add @mia", sender=LINUS, date=next(_now)))
    await said(fake, "now a Cohort moderator")


async def test_a_flood_mutes_once_and_moderators_are_exempt(app: App, fake: FakeTelegram,
                                                             make_adapter: AdapterFactory) -> None:
    await ready(fake, make_adapter)
    fake.push_update(message("/config moderation.flood_messages 4", sender=LINUS, date=next(_now)))
    await said(fake, "flood_messages is now 4")
    at = next(_now)
    for i in range(12):
        fake.push_update(message(f"spam {i}", sender=GRACE, date=at))  # twelve in one second
        fake.push_update(message(f"busy moderator {i}", sender=MIA, date=at))
    notice = await said(fake, "is muted for 10 min")
    assert "more than 4 messages in 10 s" in notice
    await eventually(lambda: _count(app, "mute", 1))
    restricted = fake.calls_to("restrictChatMember")
    assert [int(c.params["user_id"]) for c in restricted] == [1002]
    assert sum("is muted for" in t for t in texts(fake)) == 1


async def test_a_flood_of_commands_gets_a_bounded_number_of_replies(app: App, fake: FakeTelegram,
                                                                     make_adapter: AdapterFactory) -> None:
    await ready(fake, make_adapter)
    before = len(fake.calls_to("sendMessage"))
    at = next(_now)
    for _ in range(60):
        fake.push_update(message("/warns", sender=GRACE, date=at))
    await said(fake, "faster than I can answer")
    fake.push_update(message("/warns", sender=ADA, date=at))  # someone else is still answered
    await eventually(lambda: _replied_to(fake, "Ada</b> has no active warnings"))
    await fake.wait_drained()
    grace_replies = [t for t in texts(fake)[before:] if "Grace</b>" in t or "faster" in t]
    assert len(grace_replies) == 11  # 10 answers and one notice for 60 commands


async def test_a_filtered_word_is_deleted_even_in_disguise(app: App, fake: FakeTelegram,
                                                            make_adapter: AdapterFactory) -> None:
    await ready(fake, make_adapter)
    fake.push_update(message("/filter add word crypto warn", sender=MIA, date=next(_now)))
    await said(fake, "Filter #1 added")
    fake.push_update(message("buy ＣＲＹＰＴＯ now", sender=GRACE, message_id=8100, date=next(_now)))
    await said(fake, "Removed a message from <b>Grace</b> (filter #1)")
    assert fake.deleted[GROUP] == [8100]
    fake.push_update(message("crypto is fine for admins", sender=LINUS, message_id=8101, date=next(_now)))
    fake.push_update(message("(a+)+$ test", sender=ADA, message_id=8102, date=next(_now)))
    await fake.wait_drained()
    assert fake.deleted[GROUP] == [8100]


async def test_the_welcome_deep_link_opens_a_private_chat(app: App, fake: FakeTelegram,
                                                          make_adapter: AdapterFactory) -> None:
    await ready(fake, make_adapter)
    fake.push_update(message("/welcome set Hi {name}! {rules}", sender=LINUS, date=next(_now)))
    await said(fake, "Welcome settings saved")
    zoe = {"id": 1009, "is_bot": False, "first_name": "Zoe"}
    join = message("", sender=zoe, date=next(_now), new_chat_members=[zoe])
    del join["message"]["text"]
    fake.push_update(join)
    welcome = await said(fake, "Hi <b>Zoe</b>!")
    [call] = [c for c in fake.calls_to("sendMessage") if c.params.get("text") == welcome]
    markup = call.params["reply_markup"]
    url = (markup if isinstance(markup, dict) else __import__("json").loads(markup))["inline_keyboard"][0][0]["url"]
    assert url.startswith(f"https://t.me/{BOT_USERNAME}?start=c")
    payload = url.split("start=", 1)[1]
    fake.push_update(message(f"/start {payload}", chat=private_chat(1009), sender=zoe, date=next(_now)))
    await said(fake, "This is our private chat")
    reachable = await app.store.read(lambda s: s.scalar(select(Account.dm_reachable).where(
        Account.platform == "telegram", Account.external_id == "1009")))
    assert reachable is True


async def _count(app: App, action: str, n: int) -> bool:
    rows = await app.store.read(lambda s: list(s.scalars(select(AuditEntry.action).where(AuditEntry.action == action))))
    return len(rows) == n


async def _replied_to(fake: FakeTelegram, needle: str) -> bool:
    return any(needle in t for t in texts(fake))


async def test_link_rules_see_hidden_links_and_invites(app: App, fake: FakeTelegram,
                                                       make_adapter: AdapterFactory) -> None:
    await ready(fake, make_adapter)
    fake.push_update(message("/filter links allow example.com", sender=MIA, date=next(_now)))
    await said(fake, "Allowed: <code>example.com</code>")
    hidden = message("read the docs", sender=GRACE, message_id=8200, date=next(_now),
                     entities=[{"type": "text_link", "offset": 0, "length": 4, "url": "https://EVIL.example.net/x"}])
    fake.push_update(hidden)
    invite = message("join t.me/+AbCdEf", sender=ADA, message_id=8201, date=next(_now),
                     entities=[{"type": "url", "offset": 5, "length": 12}])
    fake.push_update(invite)
    fake.push_update(message("docs: https://docs.example.com/a", sender=GRACE, message_id=8202, date=next(_now)))
    fake.push_update(message("ok from an admin: https://else.org", sender=LINUS, message_id=8203, date=next(_now)))
    await eventually(lambda: _count(app, "delete", 2))
    await fake.wait_drained()
    assert sorted(fake.deleted[GROUP]) == [8200, 8201]

    fake.push_update(message("/filter links newcomers ²d", sender=MIA, date=next(_now)))
    await said(fake, "must be written with the digits 0-9")
    fake.push_update(message("/filter links newcomers 3d mute", sender=MIA, date=next(_now)))
    await said(fake, "less than 3 days ago can't post links")
    fake.push_update(message("the docs: example.com/start", sender=GRACE, message_id=8204, date=next(_now)))
    fake.push_update(message("mine: https://spam.xyz", sender=GRACE, message_id=8205, date=next(_now)))
    await said(fake, "Removed a link from <b>Grace</b>")
    await eventually(lambda: _count(app, "mute", 1))
    assert [int(c.params["user_id"]) for c in fake.calls_to("restrictChatMember")] == [1002]
    assert sorted(fake.deleted[GROUP]) == [8200, 8201, 8205]
