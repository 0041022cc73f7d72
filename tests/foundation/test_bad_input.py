"""Odd, huge and hostile input is stored faithfully or cleanly, and never stops the bot."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.bootstrap import App
from engine.events import CommandInvoked, MessagePosted
from engine.store.models import Message
from tests.doubles.events import base, command, message
from tests.doubles.messenger import RecordingMessenger

ODD = {
    "rtl": "مرحبا بالعالم ‏שלום‎",
    "zero_width": "a\u200bb\u200d\ufeffc",
    "emoji_zwj": "👩‍💻🧑🏽‍🚀🇨🇳",
    "control": "bell\x07tab\tesc\x1b[31m",
    "sql": "'; DROP TABLE messages; --",
    "cjk": "请问 asyncio 的事件循环怎么用？",
}


@pytest.mark.parametrize("name", sorted(ODD))
async def test_odd_text_is_stored_exactly(app: App, name: str) -> None:
    ev = message("alice", ODD[name], mid=f"odd-{name}")
    await app.dispatch(ev, RecordingMessenger())
    stored = app.store.read_sync(lambda s: s.execute(select(Message.text).where(Message.external_id == f"odd-{name}")).scalar_one())
    assert stored == ODD[name]


async def test_nul_and_lone_surrogates_are_replaced_not_crashed(app: App) -> None:
    await app.dispatch(message("alice", "nul\x00here and \ud800 lone", mid="nul"), RecordingMessenger())
    stored = app.store.read_sync(lambda s: s.execute(select(Message.text).where(Message.external_id == "nul")).scalar_one())
    assert stored == "nul\ufffdhere and \ufffd lone"


async def test_huge_message_is_cut_flagged_and_length_kept(app: App) -> None:
    text = "x" * 100_000
    await app.dispatch(message("alice", text, mid="huge"), RecordingMessenger())
    row = app.store.read_sync(lambda s: s.execute(select(Message).where(Message.external_id == "huge")).scalar_one())
    assert row.text_length == 100_000
    assert row.text_truncated is True
    assert len(row.text or "") == app.settings.storage.max_text_length


async def test_a_failing_handler_is_logged_and_others_still_run(app: App, caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []

    async def broken(event: MessagePosted) -> None:
        raise RuntimeError("boom")

    async def healthy(event: MessagePosted) -> None:
        seen.append(event.message_id or "")

    app.router.on(MessagePosted, handler=broken)
    app.router.on(MessagePosted, handler=healthy)
    ev = message("alice", mid="h1")
    await app.dispatch(ev, RecordingMessenger())
    await app.dispatch(message("alice", mid="h2"), RecordingMessenger())
    assert seen == ["h1", "h2"]
    assert any(ev.dedup_key in r.getMessage() for r in caplog.records)


async def test_a_crashing_command_gets_a_polite_reply(app: App) -> None:
    async def explode() -> None:
        raise ValueError("bug")

    app.router.command("explode", explode)
    m = RecordingMessenger()
    await app.dispatch(command("alice", "explode"), m)
    assert "went wrong" in m.replies_to("alice")[0]


async def test_unknown_command_gets_a_hint(app: App) -> None:
    m = RecordingMessenger()
    await app.dispatch(command("alice", "frobnicate", "x"), m)
    assert m.replies_to("alice") == ["I don't know /frobnicate. Send /help to see what I can do."]


async def test_command_names_with_markup_are_escaped(app: App) -> None:
    m = RecordingMessenger()
    await app.dispatch(CommandInvoked(**base("alice"), message_id="x1", name="<b>x</b>", raw_text="/<b>x</b>"), m)
    assert "&lt;b&gt;" in m.said[0].text
