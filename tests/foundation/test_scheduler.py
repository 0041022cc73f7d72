"""Scheduled jobs persist in Cohort's database and run on the bot's event loop."""

from __future__ import annotations

import asyncio

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import inspect

from bot.scheduler import JOB_TABLE, JobSpec, Scheduler, run_job
from engine.store import migrate
from engine.store.db import make_engine


async def test_jobs_are_stored_and_survive_a_restart(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    migrate.upgrade(engine)
    ran: list[str] = []

    async def work() -> None:
        ran.append("nightly")

    first = Scheduler(engine)
    first.add(JobSpec("nightly", CronTrigger(hour=3), work, "nightly work"))
    first.start()
    stored_next = first.next_runs()["nightly"]
    first.shutdown()
    assert JOB_TABLE in inspect(engine).get_table_names()

    second = Scheduler(engine)
    second.add(JobSpec("nightly", CronTrigger(hour=3), work))
    second.start()
    assert second.next_runs() == {"nightly": stored_next}
    second.shutdown()

    await run_job("nightly")
    await run_job("unknown-job")  # logged and skipped, never raises
    assert ran == ["nightly"]
    # the job store's table does not upset the models-vs-migrations check
    assert migrate.is_current(engine)


async def test_a_stale_stored_job_is_removed(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")

    async def work() -> None: ...

    old = Scheduler(engine)
    old.add(JobSpec("retired", CronTrigger(hour=1), work))
    old.start()
    old.shutdown()
    new = Scheduler(engine)
    new.start()
    await asyncio.sleep(0)
    assert new.next_runs() == {}
    new.shutdown()


async def test_a_failing_job_is_logged_not_raised(caplog) -> None:
    from bot import scheduler

    async def broken() -> None:
        raise RuntimeError("nope")

    scheduler._registry["broken"] = broken
    await run_job("broken")
    assert any("broken" in r.getMessage() for r in caplog.records)


def test_the_app_schedules_nightly_training(app) -> None:
    from bot.bootstrap import build_scheduler

    scheduler = build_scheduler(app)
    assert "recsys-nightly-training" in scheduler.specs
    trigger = scheduler.specs["recsys-nightly-training"].trigger
    assert "hour='3'" in str(trigger) and "minute='30'" in str(trigger)
