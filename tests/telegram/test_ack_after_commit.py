"""Acknowledged means committed: the getUpdates offset and the webhook's 200 come only after
an update's events are in the database; handlers run after that and never delay the ack."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import func, select

from bot.bootstrap import App
from engine.events import Event
from engine.ingest.tables import DeadLetter
from engine.store.models import Message
from engine.store.writer import Outcome
from tests.fakes.telegram_api import FakeTelegram

from .conftest import AdapterFactory, eventually, free_port, message

SECRET = "hook-secret_42"
HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET}


class Gated:
    """The router, with storing held until ``commit`` is set and handlers held on ``handle``."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.commit = asyncio.Event()
        self.handle = asyncio.Event()
        self.handle.set()
        self.fail_times = 0
        self.recorded: list[str] = []
        self.reacted: list[str] = []

    async def record(self, event: Event) -> Outcome:
        await self.commit.wait()
        if self.fail_times:
            self.fail_times -= 1
            raise RuntimeError("database is locked")
        outcome = await self.app.router.record(event)
        self.recorded.append(event.message_id or "")
        return outcome

    async def react(self, event: Event, messenger: Any, outcome: Outcome) -> None:
        await self.handle.wait()
        self.reacted.append(event.message_id or "")
        await self.app.router.react(event, messenger, outcome)


async def stored(app: App, model: Any = Message) -> int:
    return int(await app.store.read(lambda s: s.execute(select(func.count()).select_from(model)).scalar_one()))


def offsets(fake: FakeTelegram) -> list[int]:
    return [int(c.params.get("offset") or 0) for c in fake.calls_to("getUpdates")]


async def test_polling_confirms_a_batch_only_after_it_is_committed(
    app: App, fake: FakeTelegram, make_adapter: AdapterFactory
) -> None:
    gated = Gated(app)
    await make_adapter(ingest=gated)
    fake.push_updates([message(f"m{i}", update_id=100 + i, message_id=100 + i) for i in range(5)])
    await eventually(lambda: _true(bool(fake.served)))
    polls = len(fake.calls_to("getUpdates"))
    await asyncio.sleep(0.2)  # give a wrong implementation time to poll again
    assert len(fake.calls_to("getUpdates")) == polls  # no next poll while the batch is uncommitted
    assert max(offsets(fake)) < 105 and await stored(app) == 0
    gated.commit.set()
    await fake.wait_for("getUpdates", polls + 1)
    assert await stored(app) == 5  # committed before the offset that confirms them was asked
    assert offsets(fake)[polls] == 105


async def test_slow_handlers_do_not_hold_back_the_ack(
    app: App, fake: FakeTelegram, make_adapter: AdapterFactory
) -> None:
    gated = Gated(app)
    gated.commit.set()
    gated.handle.clear()  # every handler hangs
    adapter = await make_adapter(ingest=gated)
    fake.push_updates([message(f"m{i}", update_id=200 + i, message_id=200 + i) for i in range(3)])

    async def confirmed() -> bool:
        return 203 in offsets(fake)
    await eventually(confirmed)
    assert await stored(app) == 3 and gated.reacted == []
    gated.handle.set()
    await adapter.drain()
    assert sorted(gated.reacted) == ["200", "201", "202"]


async def test_a_failed_commit_is_fetched_again_and_then_stored_once(
    app: App, fake: FakeTelegram, make_adapter: AdapterFactory
) -> None:
    gated = Gated(app)
    gated.commit.set()
    gated.fail_times = 2  # the first delivery (two tries) fails: a database hiccup
    await make_adapter(ingest=gated)
    fake.push_update(message("flaky db", update_id=300, message_id=300))

    async def confirmed() -> bool:
        return 301 in offsets(fake)
    await eventually(confirmed)
    assert offsets(fake).count(0) >= 2  # asked again from the same offset: not acknowledged
    assert await stored(app) == 1 and await stored(app, DeadLetter) == 0


async def test_stop_drains_handlers_in_flight(app: App, fake: FakeTelegram, make_adapter: AdapterFactory) -> None:
    gated = Gated(app)
    gated.commit.set()
    gated.handle.clear()
    adapter = await make_adapter(ingest=gated)
    fake.push_update(message("/help", update_id=400, message_id=400))
    await eventually(lambda: _true(adapter.inbox.in_flight == 1))
    stopping = asyncio.create_task(adapter.stop())
    await asyncio.sleep(0.05)
    assert not stopping.done()  # waits for the handler
    gated.handle.set()
    await stopping
    assert gated.reacted == ["400"]
    assert any("Commands you can use" in c.params.get("text", "") for c in fake.calls_to("sendMessage"))
    assert offsets(fake)[-1] == 401  # the last batch confirmed on the way out


async def _webhook(make_adapter: AdapterFactory, **kw: Any) -> tuple[Any, str]:
    port = free_port()
    adapter = await make_adapter(
        telegram={"mode": "webhook", "listen": "127.0.0.1", "port": port,
                  "webhook_url": "https://bot.example.test/tg/hook"},
        webhook_secret=SECRET, **kw)
    return adapter, f"http://127.0.0.1:{port}/tg/hook"


async def test_webhook_answers_only_after_the_commit(app: App, make_adapter: AdapterFactory) -> None:
    gated = Gated(app)
    _, url = await _webhook(make_adapter, ingest=gated)
    async with httpx.AsyncClient() as client:
        post = asyncio.create_task(client.post(url, json=message("hooked", message_id=501), headers=HEADERS))
        await asyncio.sleep(0.2)
        assert not post.done() and await stored(app) == 0
        gated.commit.set()
        response = await post
    assert response.status_code == 200 and await stored(app) == 1


async def test_webhook_answers_500_when_storing_fails_so_telegram_redelivers(
    app: App, make_adapter: AdapterFactory
) -> None:
    gated = Gated(app)
    gated.commit.set()
    gated.fail_times = 2
    _, url = await _webhook(make_adapter, ingest=gated)
    update = message("retry me", message_id=601)
    async with httpx.AsyncClient() as client:
        first = await client.post(url, json=update, headers=HEADERS)
        assert first.status_code == 500 and await stored(app) == 0
        second = await client.post(url, json=update, headers=HEADERS)  # Telegram's redelivery
        third = await client.post(url, json=update, headers=HEADERS)
    assert (second.status_code, third.status_code) == (200, 200)
    assert await stored(app) == 1 and gated.recorded == ["601"]


async def test_webhook_quarantines_what_it_cannot_read(app: App, make_adapter: AdapterFactory) -> None:
    adapter, url = await _webhook(make_adapter, max_body=8192)
    async with httpx.AsyncClient() as client:
        big = await client.post(url, content=b'{"update_id": 1, "x": "' + b"a" * 20_000 + b'"}', headers=HEADERS)
        bad = await client.post(url, content=b"{not json", headers=HEADERS)
        deep = await client.post(url, content=b"[" * 3000 + b"]" * 3000, headers=HEADERS)
        odd = await client.post(url, json={"update_id": 7, "message": {"chat": {"id": [1]}}}, headers=HEADERS)
        forged = await client.post(url, content=b"{not json", headers={"X-Telegram-Bot-Api-Secret-Token": "no"})
        good = await client.post(url, json=message("fine", message_id=701), headers=HEADERS)
    assert [r.status_code for r in (big, bad, deep, odd, good)] == [200] * 5
    assert forged.status_code == 403
    letters = await app.store.read(lambda s: s.execute(select(DeadLetter).order_by(DeadLetter.id)).scalars().all())
    reasons = [d.reason for d in letters]
    assert reasons[0] == "webhook body larger than 8192 bytes"
    assert reasons[1].startswith("not JSON")
    assert reasons[3] == "chat.id is a list, not an integer" and letters[3].update_key == "7"
    assert len(letters) == 4 and all(len(d.excerpt) <= 500 for d in letters)
    assert adapter.updates_quarantined == 4 and await stored(app) == 1


async def _true(value: bool) -> bool:
    return value
