"""Fixtures: a fake Bot API on 127.0.0.1 and a real TelegramAdapter pointed at it."""

from __future__ import annotations

import itertools
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from pydantic import SecretStr

from bot.adapters.telegram import TelegramAdapter, reachability_hook
from bot.bootstrap import App
from bot.settings import Settings, TelegramSettings
from engine.ingest.dead_letters import dead_letter_hook
from tests.fakes.telegram_api import BOT_ID, TOKEN, FakeTelegram

GROUP = -1001234567890
FORUM = -1009876543210
_ids = itertools.count(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tg_settings(settings: Settings, fake: FakeTelegram, **telegram: Any) -> Settings:
    """``settings`` with the token set and the Bot API pointed at ``fake``."""
    tg = TelegramSettings(**{"base_url": fake.base_url, **telegram})
    return settings.model_copy(update={"telegram": tg, "telegram_token": SecretStr(TOKEN)})


def user(uid: int, name: str = "", **kw: Any) -> dict[str, Any]:
    return {"id": uid, "is_bot": False, "first_name": name or f"User{uid}", **kw}


def group_chat(chat_id: int = GROUP, *, forum: bool = False) -> dict[str, Any]:
    chat = {"id": chat_id, "title": "Forum" if forum else "Python Cohort", "type": "supergroup"}
    if forum:
        chat["is_forum"] = True
    return chat


def private_chat(uid: int) -> dict[str, Any]:
    return {"id": uid, "type": "private", "first_name": f"User{uid}"}


def message(
    text: str, *, chat: dict[str, Any] | None = None, sender: dict[str, Any] | None = None,
    update_id: int | None = None, message_id: int | None = None, **extra: Any,
) -> dict[str, Any]:
    """A ``message`` update; a leading ``/word`` gets its bot_command entity."""
    uid = update_id if update_id is not None else next(_ids)
    msg: dict[str, Any] = {"message_id": message_id or uid, "date": 1_735_689_600 + uid,
                           "chat": chat or group_chat(), "text": text, **extra}
    if sender is not False:
        msg["from"] = sender or user(1001, "Ada")
    if text.startswith("/"):
        msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"update_id": uid, "message": msg}


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as tg:
        yield tg


AdapterFactory = Callable[..., Awaitable[TelegramAdapter]]


@pytest.fixture
async def make_adapter(app: App, settings: Settings, fake: FakeTelegram) -> AsyncIterator[AdapterFactory]:
    """Build and start adapters on the real ``app``; all are stopped afterwards."""
    started: list[TelegramAdapter] = []

    async def build(*, telegram: dict[str, Any] | None = None, ingest: Any = None, **kw: Any) -> TelegramAdapter:
        kw.setdefault("on_reachability", reachability_hook(app.store))
        kw.setdefault("on_quarantine", dead_letter_hook(app.store))
        kw.setdefault("retry_delay", 0.001)
        kw.setdefault("poll_timeout", 1)
        adapter = TelegramAdapter(tg_settings(settings, fake, **(telegram or {})), ingest or app.router, **kw)
        await adapter.start()
        started.append(adapter)
        return adapter

    yield build
    for adapter in started:
        await adapter.stop()


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Poll an async condition until it holds (fails the test after ``timeout``)."""
    import asyncio

    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


__all__ = ["BOT_ID", "FORUM", "GROUP", "eventually", "free_port", "group_chat", "message",
           "private_chat", "tg_settings", "user"]
