"""The ingest driver: history goes through the live dispatch, idempotently and silently."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.bootstrap import App
from bot.history_import import ImportMessenger, import_dispatch, import_events, stream_of
from engine.events import CommandInvoked, Event, MessagePosted, Platform
from engine.history import read_discord_export, read_stackexchange_dump, read_telegram_export
from engine.history.ingest import IngestSummary, ingest
from engine.store.base import Base
from engine.store.models import Message
from tests.history.helpers import DISCORD_GENERAL, DISCORD_THREAD, SE_DUMP, TELEGRAM

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)


def row_counts(app: App) -> dict[str, int]:
    """Rows in every table the schema knows (including other capabilities' tables)."""
    import engine.store.all_tables  # noqa: F401  (registers every module's tables)

    with Session(app.store.engine) as s:
        return {t.name: s.execute(select(func.count()).select_from(t)).scalar_one()
                for t in Base.metadata.sorted_tables}


def _fixture_streams() -> list[tuple[str, object]]:
    return [
        ("telegram", lambda: read_telegram_export(TELEGRAM)),
        ("discord", lambda: read_discord_export(DISCORD_GENERAL)),
        ("discord-thread", lambda: read_discord_export(DISCORD_THREAD)),
        ("stackexchange", lambda: read_stackexchange_dump(SE_DUMP, site="python")),
    ]


@pytest.mark.parametrize(("name", "open_stream"), _fixture_streams())
async def test_importing_twice_changes_nothing(app: App, name: str, open_stream) -> None:  # type: ignore[no-untyped-def]
    first = await import_events(app, open_stream())
    assert first.summary.new > 0 and first.summary.failed == 0, first.summary.failures
    after_first = row_counts(app)
    assert after_first["messages"] > 0

    second = await import_events(app, open_stream())

    assert second.summary.new == 0
    assert second.summary.duplicate == first.summary.total
    assert row_counts(app) == after_first


async def test_overlapping_exports_merge(app: App) -> None:
    everything = list(read_telegram_export(TELEGRAM))
    half = len(everything) // 2
    await import_events(app, stream_of(everything[: half + 1], "early export"))
    later = await import_events(app, stream_of(everything[half - 1:], "later export"))
    merged = row_counts(app)

    assert later.summary.duplicate == 2  # the two events both exports hold
    await import_events(app, stream_of(everything, "whole"))
    assert row_counts(app) == merged


def _command(n: int, name: str, user: str = "alice") -> CommandInvoked:
    return CommandInvoked(platform=Platform.CONSOLE, community_id="hist", chat_id="hist", user_id=user,
                          user_name=user, message_id=f"c{n}", name=name, raw_text=f"/{name}",
                          at=T0 + timedelta(minutes=n))


async def test_commands_in_history_are_not_answered(app: App) -> None:
    events: list[Event] = [
        MessagePosted(platform=Platform.CONSOLE, community_id="hist", chat_id="hist", user_id="alice",
                      user_name="alice", message_id="m1", text="hello", at=T0),
        _command(2, "help"), _command(3, "me"), _command(4, "leaderboard"), _command(5, "nosuchcommand"),
        _command(6, "ban", user="bob"),
    ]
    result = await import_events(app, stream_of(events, "with commands"))

    assert result.summary.new == len(events) and result.summary.failed == 0
    # Every answer the handlers (and the router's "unknown command"/"not allowed") gave was dropped.
    assert result.messenger.dropped["reply"] >= 5
    assert result.messenger.capabilities == frozenset()


async def test_the_discord_slash_command_in_the_fixture_is_stored_not_answered(app: App) -> None:
    stream = read_discord_export(DISCORD_GENERAL)
    result = await import_events(app, stream, platform=Platform.DISCORD)
    assert result.report.events_by_kind.get("command", 0) >= 1
    assert result.messenger.dropped["reply"] >= 1


async def test_import_messenger_counts_what_it_drops() -> None:
    messenger = ImportMessenger()
    event = _command(1, "me")
    await messenger.reply(event, "x")
    await messenger.dm("alice", "x")
    sent = await messenger.send_document("alice", "a.json", b"{}")
    assert sent.message_id.startswith("import-dropped-")
    assert messenger.dropped_total == 3
    assert (await messenger.role_of("hist", "alice")).name == "MEMBER"


async def test_a_failing_event_is_counted_and_the_rest_go_on() -> None:
    class Done:
        duplicate = False

    async def dispatch(event: Event) -> Done:
        if event.message_id == "c3":
            raise RuntimeError("disk on fire")
        return Done()

    summary = await ingest([_command(n, "x") for n in range(1, 6)], dispatch, concurrency=2)

    assert (summary.new, summary.duplicate, summary.failed) == (4, 0, 1)
    assert summary.failures[0].key.endswith(":c3:command")
    assert "disk on fire" in summary.failures[0].reason
    assert summary.failures_by_reason == {"RuntimeError": 1}
    assert "1 failed" in summary.summary()


async def test_concurrency_is_bounded_and_order_kept() -> None:
    in_flight = peak = 0
    started: list[str] = []

    class Done:
        duplicate = False

    async def dispatch(event: Event) -> Done:
        nonlocal in_flight, peak
        started.append(event.message_id or "")
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.001)
        in_flight -= 1
        return Done()

    events = [_command(n, "x") for n in range(200)]
    progress: list[int] = []
    summary = await ingest(events, dispatch, concurrency=16, on_progress=lambda s: progress.append(s.total),
                           progress_every=50)

    assert summary.new == 200
    assert peak <= 16
    assert started == [e.message_id for e in events]  # handed over in stream order
    assert progress[-1] == 200 and len(progress) >= 4


async def test_a_broken_source_propagates_after_in_flight_events_settle() -> None:
    class Done:
        duplicate = False

    async def dispatch(event: Event) -> Done:
        await asyncio.sleep(0)
        return Done()

    def events() -> Iterator[Event]:
        yield _command(1, "x")
        yield _command(2, "x")
        raise OSError("disk gone")

    summary = IngestSummary()
    with pytest.raises(OSError):
        await ingest(events(), dispatch, summary=summary)
    assert summary.new == 2 and summary.interrupted


async def test_concurrency_must_be_positive() -> None:
    async def dispatch(event: Event) -> object:
        raise AssertionError

    with pytest.raises(ValueError):
        await ingest([], dispatch, concurrency=0)  # type: ignore[arg-type]


async def test_import_dispatch_goes_through_the_app(app: App) -> None:
    messenger = ImportMessenger()
    dispatch = import_dispatch(app, messenger)
    event = MessagePosted(platform=Platform.CONSOLE, community_id="hist", chat_id="hist", user_id="alice",
                          message_id="m9", text="hi", at=T0)
    assert not (await dispatch(event)).duplicate
    assert (await dispatch(event)).duplicate
    count = await app.store.read(lambda s: s.execute(select(func.count()).select_from(Message)).scalar_one())
    assert count == 1
