"""One app, one event loop, Telegram and Discord together: each member's messages land in
the same store and each platform's commands are answered on that platform."""

from __future__ import annotations

import discord.ext.test as dpytest
from sqlalchemy import select

from bot.bootstrap import App
from engine.store.models import Account, Message
from tests.telegram.conftest import eventually, message


async def test_telegram_and_discord_served_together(app: App, fake, make_adapter, env) -> None:
    await make_adapter()
    fake.push_update(message("hello from telegram", message_id=501))
    await dpytest.message("hello from discord", member=env.alice)
    await env.settle()

    async def both_stored() -> bool:
        rows = await app.store.read(lambda s: s.execute(select(Message.text)).scalars().all())
        return sorted(rows) == ["hello from discord", "hello from telegram"]

    await eventually(both_stored)
    platforms = await app.store.read(lambda s: sorted(s.execute(select(Account.platform)).scalars()))
    assert platforms == ["discord", "telegram"]

    fake.push_update(message("/help", message_id=502))
    await dpytest.message("!help", member=env.bob)
    await env.settle()
    sent = []
    while not dpytest.sent_queue.empty():  # badge notices may come first
        sent.append(dpytest.get_message().content)
    assert any("Commands you can use" in text for text in sent)

    async def telegram_answered() -> bool:
        return any("Commands you can use" in c.params.get("text", "") for c in fake.calls_to("sendMessage"))

    await eventually(telegram_answered)
