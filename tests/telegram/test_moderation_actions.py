"""/kick, /unmute, /unban, timed /ban and /purge on Telegram: PTB's real HTTP client against
the fake Bot API, the real handlers and store."""

from __future__ import annotations

import time

from sqlalchemy import select

from bot.adapters.telegram import TelegramAdapter
from bot.bootstrap import App
from engine.moderation.tables import Restriction
from engine.store.models import AuditEntry, Message
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram.conftest import GROUP, AdapterFactory, eventually, message
from tests.telegram.test_moderation_platform import ADA, GRACE, LINUS, MIA, ask, texts


async def actions(app: App) -> list[str]:
    return await app.store.read(lambda s: list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.id))))


async def community_(fake: FakeTelegram, make_adapter: AdapterFactory) -> TelegramAdapter:
    adapter = await make_adapter()
    fake.set_status(GROUP, 1003, "administrator")
    for who in (ADA, GRACE, LINUS, MIA):
        fake.push_update(message(f"hello, I am {who['first_name']}", sender=who))
    await ask(fake, "/mod add @mia", LINUS, "now a Cohort moderator")
    return adapter


async def test_kick_unmute_unban_and_a_timed_ban(app: App, fake: FakeTelegram, make_adapter: AdapterFactory) -> None:
    await community_(fake, make_adapter)
    await ask(fake, "/kick @grace off topic", MIA, "was removed")
    ban_call, unban_call = fake.calls_to("banChatMember")[-1], fake.calls_to("unbanChatMember")[-1]
    assert ban_call.params["user_id"] == 1002 and unban_call.params["user_id"] == 1002
    assert str(unban_call.params["only_if_banned"]).lower() == "true"

    await ask(fake, "/mute @ada 1h", MIA, "is muted until")
    await ask(fake, "/unmute @ada", MIA, "can speak again")
    lift = fake.calls_to("restrictChatMember")[-1]
    assert lift.params["user_id"] == 1001 and all(lift.params["permissions"].values())

    reply = await ask(fake, "/ban @ada 2d spam", MIA, "is banned until")
    until = int(fake.calls_to("banChatMember")[-1].params["until_date"])
    assert abs(until - (time.time() + 2 * 86400)) < 120
    assert "UTC" in reply
    restriction = await app.store.read(lambda s: s.scalars(select(Restriction).where(Restriction.kind == "ban")).one())
    assert restriction.until is not None and not restriction.cohort_lifts  # Telegram lifts it itself
    await ask(fake, "/unban @ada", MIA, "no longer banned")
    assert fake.calls_to("unbanChatMember")[-1].params["user_id"] == 1001
    assert await actions(app) == ["moderator_added", "kick", "mute", "unmute", "ban", "unban"]


async def test_bad_durations_are_refused_without_a_call(app: App, fake: FakeTelegram,
                                                        make_adapter: AdapterFactory) -> None:
    await community_(fake, make_adapter)
    before = len(fake.calls_to("banChatMember")) + len(fake.calls_to("restrictChatMember"))
    for text, expect in [("/ban @ada -5m x", "negative"), ("/ban @ada 0m x", "from 1m to 365d"),
                         ("/mute @ada 999y", "unknown"), ("/mute @ada 1h30", "one number and one unit"),
                         ("/ban @ada 400d x", "from 1m to 365d"), ("/mute @ada ²m", "digits 0-9")]:
        reply = await ask(fake, text, MIA, "Nothing was changed")
        assert expect in reply, (text, reply)
    assert len(fake.calls_to("banChatMember")) + len(fake.calls_to("restrictChatMember")) == before
    assert await actions(app) == ["moderator_added"]


async def test_purge_deletes_the_stored_messages_and_marks_them(app: App, fake: FakeTelegram,
                                                                make_adapter: AdapterFactory) -> None:
    await community_(fake, make_adapter)
    for i in range(5):
        fake.push_update(message(f"spam {i}", sender=GRACE, message_id=7000 + i, date=int(time.time()) - 60 + i))
    await eventually(lambda: _stored(app, 7004))
    before = len(texts(fake))
    fake.push_update(message("/purge 3", sender=MIA, message_id=7100, date=int(time.time())))
    await eventually(lambda: _said(fake, "Deleted 4 messages", before))
    assert fake.deleted[GROUP] == [7100, 7004, 7003, 7002]
    deleted = await app.store.read(lambda s: sorted(int(x) for x in s.scalars(
        select(Message.external_id).where(Message.deleted_at.is_not(None)))))
    assert deleted == [7002, 7003, 7004]  # the command itself is not stored as a message

    for bad in ("/purge 0", "/purge 100000", "/purge ²", "/purge", "/purge 3 4"):
        reply = await ask(fake, bad, MIA, "/purge" if bad in ("/purge", "/purge 3 4") else "Nothing was deleted")
        assert "1 to 100" in reply or "digits 0-9" in reply, (bad, reply)
    assert len(fake.calls_to("deleteMessages")) == 1


async def test_purge_leaves_messages_older_than_48_hours(app: App, fake: FakeTelegram,
                                                       make_adapter: AdapterFactory) -> None:
    await community_(fake, make_adapter)  # the greetings are dated 2025: far too old
    reply = await ask(fake, "/purge 4", MIA, "Deleted", date=int(time.time()))
    assert "Deleted 1 message " in reply and "4 were too old" in reply
    assert [len(c.params["message_ids"]) for c in fake.calls_to("deleteMessages")] == [1]


async def test_purge_without_the_right_is_explained(app: App, fake: FakeTelegram, make_adapter: AdapterFactory) -> None:
    await community_(fake, make_adapter)
    fake.fail("deleteMessages", status=400, description="Bad Request: message can't be deleted")
    reply = await ask(fake, "/purge 2", MIA, "The platform refused", date=int(time.time()))
    assert "Delete messages" in reply and "Bad Request" not in reply
    assert "purge" not in await actions(app)


async def _stored(app: App, external: int) -> bool:
    found = await app.store.read(lambda s: s.scalars(
        select(Message.id).where(Message.external_id == str(external))).first())
    return found is not None


async def _said(fake: FakeTelegram, needle: str, after: int) -> bool:
    return any(needle in t for t in texts(fake)[after:])




async def test_bad_targets_and_purge_counts_are_refused_without_a_call(app: App, fake: FakeTelegram,
                                                                       make_adapter: AdapterFactory) -> None:
    """The issue's "Bad input" targets: one who left, one never seen, the bot itself (by
    name and by replying to its message), one who outranks the moderator; /purge 0 and 100000."""
    from tests.fakes.telegram_api import BOT_ID, BOT_USERNAME

    await community_(fake, make_adapter)
    left = message("", sender=GRACE, left_chat_member=GRACE)
    del left["message"]["text"]
    fake.push_update(left)
    bot_user = {"id": BOT_ID, "is_bot": True, "first_name": "Cohort", "username": BOT_USERNAME}
    bot_post = {"message_id": 77, "date": int(time.time()), "chat": {"id": GROUP, "type": "supergroup"},
                "from": bot_user, "text": "a reply of mine"}
    calls = ("banChatMember", "unbanChatMember", "restrictChatMember", "deleteMessage", "deleteMessages")
    before = sum(len(fake.calls_to(c)) for c in calls)
    for text, expect, extra in [
        ("/kick @grace", "has already left", {}),
        ("/kick @nobody_here", "I don't know @nobody_here", {}),
        ("/ban 987654321 x", "I don't know 987654321", {}),
        (f"/mute @{BOT_USERNAME}", f"I don't know @{BOT_USERNAME}", {}),  # the bot is never a member
        ("/warn spam", f"I don't know {BOT_ID}", {"reply_to_message": bot_post}),
        ("/kick @linus", "rank at or above", {}),
        ("/ban @linus 1h x", "rank at or above", {}),
        ("/purge 0", "from 1 to 100", {}),
        ("/purge 100000", "from 1 to 100", {}),
        ("/purge ²", "digits 0-9", {}),
    ]:
        reply = await ask(fake, text, MIA, expect, **extra)
        assert "Nothing was" in reply or "don't know" in reply, (text, reply)
    assert sum(len(fake.calls_to(c)) for c in calls) == before
    assert await actions(app) == ["moderator_added"]
