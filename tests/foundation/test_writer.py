"""Group commits: many events share a commit, each acknowledged after it; a bad one fails alone."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select, text

from bot.bootstrap import App
from engine.store.models import Message
from tests.doubles.events import message
from tests.doubles.messenger import RecordingMessenger


async def test_concurrent_events_share_commits(app: App) -> None:
    m = RecordingMessenger()
    before = app.store.writer.batches
    await asyncio.gather(*(app.dispatch(message(f"u{i % 20}", f"text {i}"), m) for i in range(500)))
    batches = app.store.writer.batches - before
    assert batches < 500 / 4, f"{batches} commits for 500 events: not grouped"
    count = app.store.read_sync(lambda s: s.execute(select(func.count()).select_from(Message)).scalar_one())
    assert count == 500


async def test_acknowledged_event_is_visible_to_a_new_connection(app: App) -> None:
    ev = message("alice", "durable", mid="dur-1")
    await app.dispatch(ev, RecordingMessenger())
    with app.store.engine.connect() as conn:
        assert conn.execute(text("select count(*) from messages where external_id='dur-1'")).scalar_one() == 1


async def test_a_failing_job_fails_alone_and_the_batch_is_kept(app: App) -> None:
    def bad(session):
        session.execute(text("insert into no_such_table values (1)"))

    m = RecordingMessenger()
    goods = [app.dispatch(message("alice", f"ok {i}"), m) for i in range(50)]
    results = await asyncio.gather(*goods[:25], app.store.write(bad), *goods[25:], return_exceptions=True)
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1
    count = app.store.read_sync(lambda s: s.execute(select(func.count()).select_from(Message)).scalar_one())
    assert count == 50


async def test_write_jobs_return_their_result(app: App) -> None:
    assert await app.store.write(lambda s: 41 + 1) == 42


def test_stop_drains_the_queue(app: App) -> None:
    futures = [app.store.writer._submit(message("bob", f"t {i}"), None) for i in range(100)]
    app.store.stop()
    assert all(f.done() and not f.exception() for f in futures)
    app.store.start = lambda: None  # type: ignore[method-assign]
    app.stop = lambda: None  # type: ignore[method-assign]


def test_writer_refuses_work_before_start(settings) -> None:
    from bot.bootstrap import build_app

    application = build_app(settings)
    with pytest.raises(RuntimeError, match="not started"):
        application.store.writer.record_sync(message("x"))
