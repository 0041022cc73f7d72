"""The adapter end to end: fake Bot API → PTB's real client and dispatch → router → SQLite."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bot.adapters.base import Severity
from bot.bootstrap import App
from bot.ports import Button, ChatRef, NotReachable, PlatformError, Role
from engine.events import ButtonClicked, Event, Platform
from engine.ingest.tables import DeadLetter
from engine.store.models import Account, Message, ProcessedEvent
from tests.fakes.telegram_api import BLOCKED, CANT_INITIATE, FakeTelegram

from .conftest import (
    FORUM,
    GROUP,
    AdapterFactory,
    eventually,
    free_port,
    group_chat,
    message,
    private_chat,
    user,
)


async def count(app: App, model: Any, *where: Any) -> int:
    return await app.store.read(lambda s: s.execute(select(func.count()).select_from(model).where(*where)).scalar_one())


async def stored_text(app: App, external_id: str) -> str | None:
    return await app.store.read(
        lambda s: s.execute(select(Message.text).where(Message.external_id == external_id)).scalar_one_or_none())


async def account(app: App, uid: str) -> Account | None:
    return await app.store.read(
        lambda s: s.execute(select(Account).where(Account.platform == "telegram", Account.external_id == uid)).scalar_one_or_none())


async def test_polling_stores_a_group_message(app: App, fake: FakeTelegram, make_adapter: AdapterFactory) -> None:
    adapter = await make_adapter()
    assert adapter.bot_username == "CohortTestBot"
    fake.push_update(message("hello from the group", message_id=77))
    await eventually(lambda: _is(stored_text(app, "77"), "hello from the group"))
    [poll, *_] = fake.calls_to("getUpdates")
    assert poll.params["allowed_updates"] == ["message", "edited_message", "callback_query", "message_reaction",
                                               "message_reaction_count", "chat_member", "my_chat_member"]


async def sent_where(fake: FakeTelegram, contains: str, timeout: float = 10.0) -> Any:
    """The first sendMessage whose text contains ``contains`` (other handlers, such as badge
    notices, may send messages of their own)."""
    async def found() -> bool:
        return any(contains in c.params.get("text", "") for c in fake.calls_to("sendMessage"))
    await eventually(found, timeout)
    return next(c for c in fake.calls_to("sendMessage") if contains in c.params.get("text", ""))


def sends_to(fake: FakeTelegram, chat_id: int) -> list[Any]:
    return [c for c in fake.calls_to("sendMessage") if c.params.get("chat_id") == chat_id]


async def _is(value: Any, expected: Any) -> bool:
    return (await value) == expected


async def test_help_is_answered_in_html_as_a_reply(fake: FakeTelegram, make_adapter: AdapterFactory) -> None:
    await make_adapter()
    fake.push_update(message("/help@CohortTestBot", message_id=90))
    call = await sent_where(fake, "Commands you can use")
    assert call.params["chat_id"] == GROUP
    assert call.params["parse_mode"] == "HTML"
    assert "<b>Commands you can use</b>" in call.params["text"]
    assert call.params["reply_parameters"]["message_id"] == 90
    assert "message_thread_id" not in call.params


async def test_forum_reply_lands_in_the_topic(fake: FakeTelegram, make_adapter: AdapterFactory) -> None:
    await make_adapter()
    fake.push_update(message("/help", chat=group_chat(FORUM, forum=True), message_id=701,
                             message_thread_id=700, is_topic_message=True))
    call = await sent_where(fake, "Commands you can use")
    assert call.params["chat_id"] == FORUM
    assert call.params["message_thread_id"] == 700
    assert call.params["reply_parameters"]["message_id"] == 701


async def test_private_start_records_reachability(app: App, fake: FakeTelegram, make_adapter: AdapterFactory) -> None:
    await make_adapter()
    fake.push_update(message("/start ref-abc", chat=private_chat(2002), sender=user(2002, "Grace")))
    call = await sent_where(fake, "Send /help")
    assert call.params["chat_id"] == 2002

    async def reachable() -> bool:
        acc = await account(app, "2002")
        return acc is not None and acc.dm_reachable is True and acc.dm_checked_at is not None
    await eventually(reachable)


async def test_button_round_trip(app: App, fake: FakeTelegram, make_adapter: AdapterFactory) -> None:
    clicks: list[Event] = []

    async def on_click(event: ButtonClicked) -> None:
        clicks.append(event)
    app.router.on(ButtonClicked, handler=on_click)
    adapter = await make_adapter()

    sent = await adapter.messenger.send(
        ChatRef(Platform.TELEGRAM, str(GROUP), str(GROUP)), "Was this helpful?",
        buttons=[Button("Yes", data="vote:yes"), Button("Docs", url="https://example.org/docs")],
    )
    [call] = sends_to(fake, GROUP)
    [[yes, docs]] = call.params["reply_markup"]["inline_keyboard"]
    assert yes == {"text": "Yes", "callback_data": "vote:yes"}
    assert docs == {"text": "Docs", "url": "https://example.org/docs"}

    fake.push_update({"update_id": 5001, "callback_query": {
        "id": "cb-1", "chat_instance": "1", "from": user(1002, "Grace"), "data": "vote:yes",
        "message": {"message_id": int(sent.message_id), "date": 1735689600, "chat": group_chat(),
                    "from": {"id": 424242, "is_bot": True, "first_name": "Cohort"}, "text": "Was this helpful?"}}})
    [answer] = await fake.wait_for("answerCallbackQuery")
    assert answer.params["callback_query_id"] == "cb-1"
    [click] = clicks
    assert isinstance(click, ButtonClicked)
    assert (click.data, click.user_id, click.message_id) == ("vote:yes", "1002", sent.message_id)


@pytest.mark.parametrize("description", [CANT_INITIATE, BLOCKED])
async def test_dm_refused_is_not_reachable_and_recorded(
    app: App, fake: FakeTelegram, make_adapter: AdapterFactory, description: str
) -> None:
    adapter = await make_adapter()
    fake.push_update(message("I am here", sender=user(3003, "Linus"), message_id=300))
    await eventually(lambda: _is(stored_text(app, "300"), "I am here"))
    fake.fail("sendMessage", status=403, description=description, chat_id=3003, times=5)

    with pytest.raises(NotReachable) as info:
        await adapter.messenger.dm("3003", "Your weekly summary")
    assert info.value.user_id == "3003" and description in info.value.reason
    assert len(sends_to(fake, 3003)) == 1  # not retried
    acc = await account(app, "3003")
    assert acc is not None and acc.dm_reachable is False and acc.dm_checked_at is not None


async def test_flood_wait_is_honoured_then_succeeds(fake: FakeTelegram, make_adapter: AdapterFactory) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
    adapter = await make_adapter(sleep=sleep)
    fake.fail("sendMessage", status=429, description="Too Many Requests: retry after 7", retry_after=7)
    sent = await adapter.messenger.send(ChatRef(Platform.TELEGRAM, str(GROUP), str(GROUP)), "hi")
    assert sent.message_id
    assert len(fake.calls_to("sendMessage")) == 2
    assert waits == [7.0]


async def test_server_errors_become_platform_error_after_bounded_retries(
    fake: FakeTelegram, make_adapter: AdapterFactory
) -> None:
    adapter = await make_adapter(max_attempts=3)
    fake.fail("sendMessage", status=500, description="Internal Server Error", times=100)
    with pytest.raises(PlatformError):
        await adapter.messenger.send(ChatRef(Platform.TELEGRAM, str(GROUP), str(GROUP)), "hi")
    assert len(fake.calls_to("sendMessage")) == 3


async def test_timeouts_retry_reads_but_not_sends(fake: FakeTelegram, make_adapter: AdapterFactory) -> None:
    adapter = await make_adapter(request_timeout=0.2)
    fake.fail("sendMessage", status=0, delay=1.0)  # slow, then answers
    with pytest.raises(PlatformError, match="timed out"):
        await adapter.messenger.send(ChatRef(Platform.TELEGRAM, str(GROUP), str(GROUP)), "hi")
    assert len(sends_to(fake, GROUP)) == 1  # it may have landed: no duplicate
    fake.set_status(GROUP, 1001, "administrator")
    fake.fail("getChatMember", status=0, delay=1.0)
    assert await adapter.messenger.role_of(str(GROUP), "1001") is Role.ADMIN
    assert len(fake.calls_to("getChatMember")) == 2


async def test_long_text_is_split_into_messages(fake: FakeTelegram, make_adapter: AdapterFactory) -> None:
    adapter = await make_adapter()
    text = "<b>Leaderboard</b>\n" + "\n".join(f"{i}. <i>member {i}</i> — {i * 7} points" for i in range(400))
    await adapter.messenger.send(ChatRef(Platform.TELEGRAM, str(GROUP), str(GROUP)), text)
    calls = fake.calls_to("sendMessage")
    assert 2 <= len(calls) <= 3
    for call in calls:
        body = call.params["text"]
        assert len(body) <= 4096 and body.count("<i>") == body.count("</i>")


async def test_role_of_reads_and_caches_chat_member(fake: FakeTelegram, make_adapter: AdapterFactory) -> None:
    adapter = await make_adapter()
    fake.set_status(GROUP, 1001, "creator")
    fake.set_status(GROUP, 1002, "administrator")
    m = adapter.messenger
    assert await m.role_of(str(GROUP), "1001") is Role.OWNER
    assert await m.role_of(str(GROUP), "1002") is Role.ADMIN
    assert await m.role_of(str(GROUP), "1003") is Role.MEMBER
    assert await m.role_of(str(GROUP), "1001") is Role.OWNER
    assert await m.role_of("", "1001") is Role.MEMBER  # a private chat
    assert len(fake.calls_to("getChatMember")) == 3


async def test_picture_document_and_edit(fake: FakeTelegram, make_adapter: AdapterFactory) -> None:
    adapter = await make_adapter()
    m = adapter.messenger
    chat = ChatRef(Platform.TELEGRAM, str(FORUM), str(FORUM), "700")
    await m.send_picture(chat, b"\x89PNG\r\n\x1a\nfake", caption="<b>Week 1</b>")
    [photo] = fake.calls_to("sendPhoto")
    assert photo.params["message_thread_id"] == 700 and photo.params["parse_mode"] == "HTML"
    assert photo.params["photo"]["bytes"].startswith(b"\x89PNG")
    await m.send_document("1001", "mydata.json", b'{"a": 1}', caption="your data")
    [doc] = fake.calls_to("sendDocument")
    assert doc.params["chat_id"] == 1001 and doc.params["document"]["filename"] == "mydata.json"
    sent = await m.send(chat, "v1")
    await m.edit(sent, "v2", buttons=[Button("Refresh", data="refresh")])
    [edit] = fake.calls_to("editMessageText")
    assert edit.params["message_id"] == int(sent.message_id) and edit.params["text"] == "v2"
    fake.fail("editMessageText", status=400,
              description="Bad Request: message is not modified: specified new message content and reply markup are exactly the same")
    await m.edit(sent, "v2")  # not an error


async def test_malformed_and_odd_updates_do_not_stop_polling(
    app: App, fake: FakeTelegram, make_adapter: AdapterFactory
) -> None:
    await make_adapter()
    odd = "\u202eשלום\u200b RTL 👩‍💻 zero\u200dwidth NUL\x00here"
    fake.push_updates([
        {"update_id": 1, "some_future_update": {"x": 1}},
        message("no author", sender=False, update_id=2, message_id=2),  # type: ignore[arg-type]
        {"update_id": 3, "message": {"message_id": 3, "date": 1735689600, "chat": group_chat(),
                                     "sender_chat": {"id": -1007777, "title": "News", "type": "channel"},
                                     "text": "channel says hi"}},
        {"update_id": 4, "message": {"message_id": 4, "date": 1735689600, "chat": group_chat(),
                                     "from": user(1001), "photo": [{"file_id": "a", "file_unique_id": "a",
                                                                    "width": 1, "height": 1}],
                                     "caption": "c" * 10_000}},
        message(odd, update_id=5, message_id=5),
        {"update_id": 6, "message": {"message_id": 6, "date": 1735689600, "chat": group_chat(),
                                     "from": user(1001), "text": "bad entity",
                                     "entities": [{"type": "url", "offset": 500, "length": 9}]}},
        message("still alive", update_id=7, message_id=7),
    ])
    await eventually(lambda: _is(stored_text(app, "7"), "still alive"))
    assert await stored_text(app, "2") == "no author"
    assert await stored_text(app, "3") == "channel says hi"
    assert await stored_text(app, "4") == "c" * 10_000
    assert await stored_text(app, "5") == odd.replace("\x00", "\ufffd")
    authors = await app.store.read(lambda s: dict(s.execute(
        select(Message.external_id, Message.author_id).where(Message.external_id.in_(["2", "3"]))).all()))
    assert authors == {"2": None, "3": None}


def _batch(n: int, start: int = 10_000) -> list[dict[str, Any]]:
    return [message(f"message {i}", update_id=start + i, message_id=start + i,
                    sender=user(4000 + i % 50)) for i in range(n)]


@pytest.mark.parametrize("recent_updates", [4096, 0], ids=["lru", "store-dedup"])
async def test_replayed_updates_are_stored_once(
    app: App, fake: FakeTelegram, make_adapter: AdapterFactory, recent_updates: int
) -> None:
    adapter = await make_adapter(recent_updates=recent_updates)
    updates = _batch(1000)
    fake.push_updates(updates)
    await eventually(lambda: _gte(count(app, Message), 1000), timeout=30)
    fake.push_updates(json.loads(json.dumps(updates)), force=True)  # the same updates again
    await fake.wait_drained()
    await eventually(lambda: _gte(_seen(adapter), 2000), timeout=30)
    await adapter.drain()
    assert await count(app, Message) == 1000
    assert await count(app, ProcessedEvent) == 1000
    assert adapter.updates_skipped == (1000 if recent_updates else 0)


async def _seen(adapter: Any) -> int:
    return int(adapter.updates_seen)


async def _gte(value: Any, n: int) -> bool:
    return int(await value) >= n


async def test_webhook_mode_checks_the_secret(
    app: App, fake: FakeTelegram, make_adapter: AdapterFactory
) -> None:
    port = free_port()
    await make_adapter(
        telegram={"mode": "webhook", "listen": "127.0.0.1", "port": port,
                  "webhook_url": "https://bot.example.test/tg/hook"},
        webhook_secret="s3cret-token_1",
    )
    [hook] = fake.calls_to("setWebhook")
    assert hook.params["url"] == "https://bot.example.test/tg/hook"
    assert hook.params["secret_token"] == "s3cret-token_1"
    assert "message_reaction" in hook.params["allowed_updates"]
    assert not fake.calls_to("getUpdates")

    url = f"http://127.0.0.1:{port}/tg/hook"
    async with httpx.AsyncClient() as client:
        bad = await client.post(url, json=message("forged", message_id=801),
                                headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"})
        missing = await client.post(url, json=message("forged too", message_id=802))
        update = message("via webhook", message_id=803)
        good = await client.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-token_1"})
        again = await client.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-token_1"})
    assert bad.status_code == 403 and missing.status_code == 403
    assert good.status_code == 200 and again.status_code == 200
    await eventually(lambda: _is(stored_text(app, "803"), "via webhook"))
    await asyncio.sleep(0.05)
    assert await stored_text(app, "801") is None and await stored_text(app, "802") is None
    assert await count(app, Message, Message.external_id == "803") == 1


async def test_webhook_mode_without_a_secret_refuses_to_start(
    fake: FakeTelegram, make_adapter: AdapterFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TELEGRAM_WEBHOOK_SECRET", raising=False)
    with pytest.raises(RuntimeError, match="TELEGRAM_WEBHOOK_SECRET"):
        await make_adapter(telegram={"mode": "webhook", "port": free_port(),
                                     "webhook_url": "https://bot.example.test/hook"})


async def test_handler_errors_do_not_stop_polling(app: App, fake: FakeTelegram, make_adapter: AdapterFactory) -> None:
    seen: list[str] = []

    class Flaky:
        """Storing message 1 always fails; the others are stored and handled."""

        async def record(self, event: Event) -> Any:
            if event.message_id == "1":
                raise RuntimeError("boom")
            return await app.router.record(event)

        async def react(self, event: Event, messenger: Any, outcome: Any) -> None:
            seen.append(event.message_id or "")
            await app.router.react(event, messenger, outcome)

    adapter = await make_adapter(ingest=Flaky())
    fake.push_updates([message("one", update_id=1, message_id=1), message("two", update_id=2, message_id=2)])
    await eventually(lambda: _is(stored_text(app, "2"), "two"))
    await eventually(lambda: _gte(count(app, DeadLetter), 1))
    await adapter.drain()
    assert seen == ["2"]
    [letter] = await app.store.read(lambda s: s.execute(select(DeadLetter)).scalars().all())
    assert (letter.update_key, letter.reason) == ("1", "storing failed: RuntimeError: boom")
    # Both were committed (one as a dead letter) before the offset moved past them.
    await fake.wait_for("getUpdates", 3)
    assert max(int(c.params.get("offset") or 0) for c in fake.calls_to("getUpdates")) == 3


OTHER_GROUP = -1005555555555


async def test_doctor_reports_privacy_admin_rights_and_token(
    app: App, fake: FakeTelegram, make_adapter: AdapterFactory, settings: Any
) -> None:
    from bot.adapters.telegram import TelegramAdapter

    from .conftest import tg_settings

    fake.privacy_off = False
    fake.set_status(GROUP, 424242, "administrator", can_restrict_members=True, can_delete_messages=True)
    fake.set_status(OTHER_GROUP, 424242, "administrator")  # an admin, but without 'Ban users'

    async def known() -> list[str]:
        return [str(GROUP), str(FORUM), str(OTHER_GROUP)]

    adapter = TelegramAdapter(tg_settings(settings, fake), app.router, known_chats=known)
    findings = {f.check: f for f in await adapter.doctor()}
    assert findings["telegram token"].severity is Severity.OK
    privacy = findings["telegram privacy mode"]
    assert privacy.severity is Severity.ERROR and "Group Privacy → Turn off" in privacy.fix
    assert findings[f"telegram group {GROUP}"].severity is Severity.OK
    assert findings[f"telegram group {FORUM}"].severity is Severity.WARNING
    assert "administrator" in findings[f"telegram group {FORUM}"].fix
    weak = findings[f"telegram group {OTHER_GROUP}"]
    assert weak.severity is Severity.WARNING and "Ban users" in weak.fix and "/mute" in weak.detail
    assert "'Delete messages'" in weak.fix and "/purge" in weak.detail  # filters and /purge need it
    [me_call] = [c for c in fake.calls_to("getChatMember") if int(c.params["chat_id"]) == OTHER_GROUP]
    assert int(me_call.params["user_id"]) == 424242  # the bot asked about itself

    bad = TelegramAdapter(
        tg_settings(settings, fake).model_copy(update={"telegram_token": _secret("1:wrong")}), app.router)
    [finding] = await bad.doctor()
    assert finding.severity is Severity.ERROR
    assert finding.fix == "TELEGRAM_TOKEN is invalid: get a new one from @BotFather with /token"
    with pytest.raises(RuntimeError, match="BotFather"):
        await bad.start()


def _secret(value: str) -> Any:
    from pydantic import SecretStr
    return SecretStr(value)
