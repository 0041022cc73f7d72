"""The scheduler: APScheduler 3 on the bot's event loop, with jobs persisted in Cohort's
own database (so a restart neither loses nor duplicates them).

Jobs are named entries in :data:`JOBS`; the persisted job only stores that name, and the
running process looks the work up in its registry. Heavy work (training) runs in a child
process so the bot never imports torch.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

log = logging.getLogger(__name__)

JOB_TABLE = "scheduler_jobs"

JobFn = Callable[[], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class JobSpec:
    name: str
    trigger: CronTrigger
    work: JobFn
    summary: str = ""


# The process's registry of runnable work, filled by Scheduler.add; the job store keeps names.
_registry: dict[str, JobFn] = {}


async def run_job(name: str) -> None:
    """Entry point the job store persists (``bot.scheduler:run_job``, args ``(name,)``)."""
    work = _registry.get(name)
    if work is None:
        log.warning("scheduled job %r has no work registered in this process; skipped", name)
        return
    try:
        await work()
    except Exception:
        log.exception("scheduled job %r failed", name)


class Scheduler:
    """Owns an AsyncIOScheduler whose jobs live in the ``scheduler_jobs`` table."""

    def __init__(self, engine: Any, *, timezone: str = "UTC") -> None:
        self._scheduler = AsyncIOScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOB_TABLE)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
            timezone=timezone,
        )
        self.specs: dict[str, JobSpec] = {}

    def add(self, spec: JobSpec) -> None:
        """Register work and (re)store its schedule; an existing job keeps its next run."""
        self.specs[spec.name] = spec
        _registry[spec.name] = spec.work

    def start(self) -> None:
        """Start on the running event loop; stored jobs whose work is gone are removed."""
        self._scheduler.start()
        for job in self._scheduler.get_jobs():
            if job.id not in self.specs:
                log.info("removing stored job %s: no longer defined", job.id)
                job.remove()
        for spec in self.specs.values():
            existing = self._scheduler.get_job(spec.name)
            if existing is None or str(existing.trigger) != str(spec.trigger):
                self._scheduler.add_job(run_job, spec.trigger, args=(spec.name,), id=spec.name,
                                        name=spec.summary or spec.name, replace_existing=True)

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def next_runs(self) -> dict[str, Any]:
        return {job.id: job.next_run_time for job in self._scheduler.get_jobs()}


async def run_cli(*args: str, timeout: float = 3600) -> int:
    """Run ``cohort ARGS`` in a child process (same interpreter and environment)."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot.cli", *args)
    try:
        return await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        proc.kill()
        log.error("cohort %s took longer than %ss and was stopped", " ".join(args), timeout)
        return -1
