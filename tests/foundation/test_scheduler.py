"""Scheduled jobs persist in Cohort's database, run on the bot's event loop through the
scheduler instance that declared them, per community at local time, each firing once."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, update

from bot.bootstrap import App, build_scheduler
from bot.leader import FileLock
from bot.modules import CommunityRef, Daily, Every, JobSpec
from bot.scheduler import JOB_TABLE, Scheduler, parse_hhmm, persisted_entry
from bot.settings import Settings
from engine.jobs.tables import JobRun
from engine.store import migrate
from engine.store.db import make_engine
from engine.store.models import Community
from engine.store.store import Store
from tests.members.fakes import FakeMessenger, msg


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    migrate.upgrade(engine)
    s = Store(engine)
    s.start()
    yield s
    s.stop()


async def test_jobs_are_stored_and_survive_a_restart(store: Store) -> None:
    async def work() -> None: ...

    first = Scheduler(store)
    first.add(JobSpec("nightly", Daily(at="03:00"), work, summary="nightly work"))
    await first.start()
    assert first.is_leader
    stored_next = first.next_runs()["nightly"]
    await first.stop()
    assert JOB_TABLE in inspect(store.engine).get_table_names()

    second = Scheduler(store)
    second.add(JobSpec("nightly", Daily(at="03:00"), work))
    await second.start()
    assert second.next_runs() == {"nightly": stored_next}
    await second.stop()
    assert migrate.is_current(store.engine)  # the job store's table does not upset the schema check


async def test_a_stale_stored_job_is_removed(store: Store) -> None:
    async def work() -> None: ...

    old = Scheduler(store)
    old.add(JobSpec("retired", Daily(at="01:00"), work))
    await old.start()
    await old.stop()
    new = Scheduler(store)
    await new.start()
    assert new.next_runs() == {}
    await new.stop()


async def test_work_gets_its_dependencies_and_a_firing_runs_once(app: App, caplog) -> None:  # type: ignore[no-untyped-def]
    store = app.store
    ran: list[tuple[str, datetime]] = []

    async def work(settings: Settings, now: datetime) -> None:
        ran.append((settings.language, now))

    async def broken() -> None:
        raise RuntimeError("nope")

    scheduler = Scheduler(store, deps=app.deps)
    scheduler.add(JobSpec("tick", Every(seconds=60), work))
    scheduler.add(JobSpec("broken", Every(seconds=60), broken))
    at = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    assert await scheduler.run("tick", None, at) is True
    assert await scheduler.run("tick", None, at) is False  # the same firing again (take-over, redelivery)
    assert ran == [(app.settings.language, at)]
    with caplog.at_level(logging.ERROR):
        assert await scheduler.run("broken", None, at) is True  # logged, never raised
    assert any("broken" in r.getMessage() for r in caplog.records)
    assert await scheduler.run("unknown", None, at) is False
    runs = await store.read(lambda s: s.execute(select(JobRun.job_id, JobRun.ok)).all())
    assert sorted(runs) == [("broken", False), ("tick", True)]
    with pytest.raises(RuntimeError):
        persisted_entry("tick")  # the stored reference is never the work itself


def test_a_missing_dependency_is_refused_when_declared(store: Store) -> None:
    async def work(weather: object) -> None: ...

    with pytest.raises(RuntimeError, match="weather"):
        Scheduler(store).add(JobSpec("w", Every(seconds=1), work))


async def test_per_community_jobs_follow_each_communitys_timezone(app: App) -> None:
    fake = FakeMessenger()
    await app.dispatch(msg("ada", "hi", community="berlin"), fake)
    await app.dispatch(msg("bo", "hi", community="shanghai"), fake)
    await app.dispatch(msg("cy", "hi", community="nowhere"), fake)
    # A private chat is a community of its own in the store; it gets no per-community jobs.
    from tests.members.fakes import cmd

    await app.dispatch(cmd("ada", "help", private=True), fake)

    def configure(s) -> None:  # type: ignore[no-untyped-def]
        for ext, settings in (("berlin", {"timezone": "Europe/Berlin", "digest": {"send_at": "07:15"}}),
                              ("shanghai", {"timezone": "Asia/Shanghai"}),
                              ("nowhere", {"timezone": "Mars/Olympus", "digest": {"send_at": "25:99"}})):
            s.execute(update(Community).where(Community.external_id == ext).values(settings=settings))

    await app.store.write(configure)
    seen: list[CommunityRef] = []

    async def digest(community: CommunityRef) -> None:
        seen.append(community)

    scheduler = Scheduler(app.store, deps=app.deps)
    scheduler.add(JobSpec("digest.daily", Daily(at="09:00", setting="digest.send_at"), digest, per_community=True))
    await scheduler.start()
    try:
        ids = await app.store.read(lambda s: dict(s.execute(select(Community.external_id, Community.id)).all()))
        runs = scheduler.next_runs()
        assert set(runs) == {f"digest.daily@{ids[x]}" for x in ("berlin", "shanghai", "nowhere")}
        berlin, shanghai, nowhere = (runs[f"digest.daily@{ids[x]}"] for x in ("berlin", "shanghai", "nowhere"))
        assert (berlin.hour, berlin.minute, str(berlin.tzinfo)) == (7, 15, "Europe/Berlin")
        assert (shanghai.hour, shanghai.minute, str(shanghai.tzinfo)) == (9, 0, "Asia/Shanghai")
        assert (nowhere.hour, nowhere.minute, nowhere.utcoffset()) == (9, 0, UTC.utcoffset(None))

        # Clocks go back in Berlin on 2026-10-25: 02:30 happens twice, the digest runs once.
        first = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
        second = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 CET
        assert await scheduler.run("digest.daily", ids["berlin"], first) is True
        assert await scheduler.run("digest.daily", ids["berlin"], second) is False
        assert [(c.external_id, c.timezone, c.local_date) for c in seen] == [
            ("berlin", "Europe/Berlin", date(2026, 10, 25))]
        # Late evening UTC is already tomorrow in Shanghai.
        await scheduler.run("digest.daily", ids["shanghai"], datetime(2026, 3, 1, 23, 0, tzinfo=UTC))
        assert seen[-1].local_date == date(2026, 3, 2)

        # A changed setting moves the stored job at the next sync.
        await app.store.write(lambda s: s.execute(update(Community).where(Community.external_id == "shanghai")
                                                  .values(settings={"timezone": "Asia/Shanghai",
                                                                    "digest": {"send_at": "20:45"}})))
        await scheduler.sync()
        moved = scheduler.next_runs()[f"digest.daily@{ids['shanghai']}"]
        assert (moved.hour, moved.minute) == (20, 45)
    finally:
        await scheduler.stop()


async def test_a_second_process_on_one_sqlite_file_is_told_it_is_single_process(store: Store, caplog) -> None:  # type: ignore[no-untyped-def]
    url = store.engine.url.database
    other = FileLock(Path(f"{url}.scheduler.lock"))
    assert other.acquire()  # another `cohort run` holds the file (flock is per open file)
    try:
        scheduler = Scheduler(store, lock=FileLock(Path(f"{url}.scheduler.lock")))
        with caplog.at_level(logging.WARNING):
            await scheduler.start()
        assert not scheduler.is_leader
        assert any("single-process" in r.getMessage() for r in caplog.records)
        await scheduler.stop()
    finally:
        other.release()


def test_times_of_day_are_checked() -> None:
    assert parse_hhmm("07:05") == (7, 5)
    for bad in ("7:05", "24:00", "０７:05", "07:60", 705, None):
        with pytest.raises(ValueError):
            parse_hhmm(bad)


def test_the_app_schedules_nightly_training(app: App) -> None:
    scheduler = build_scheduler(app)
    spec = scheduler.specs["recsys-nightly-training"]
    assert spec.schedule == Daily(at="03:30") and not spec.per_community
