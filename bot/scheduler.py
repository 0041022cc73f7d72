"""The scheduler: APScheduler 3 on the bot's event loop, jobs persisted in Cohort's own
database (``scheduler_jobs``), one leader per database (:mod:`bot.leader`).

A :class:`bot.modules.JobSpec` is global or per community. A per-community daily job
becomes one stored job per group community (id ``<name>@<community id>``), firing at
the community's local time (its ``timezone`` setting, and the time in the spec's
``setting`` when the community set one); :meth:`Scheduler.sync` keeps the stored jobs in
line with the communities and their settings (the leader re-syncs every minute).

The job store keeps only a textual entry point and ``(name, community_id)``; this
scheduler's own executor resolves the name to the spec's work — no module-global
registry. Each firing claims a run key (``scheduler_runs``: the local date for a daily
job, the fire time otherwise) before it runs, so a firing runs once even across a
leader take-over or the repeated hour when clocks go back.

Heavy work (training) runs in a child process so the bot never imports torch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from apscheduler.executors.base import BaseExecutor
from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.deps import Deps, call_with, check_injectable
from bot.leader import FileLock, LeaderLock, ProcessLock, holder_id
from bot.modules import CommunityRef, Daily, Every, JobSpec
from engine.events import utcnow
from engine.jobs.runs import claim_run, finish_run
from engine.points.days import load_zone, parse_zone, zone_name
from engine.store.community_settings import CommunityRow, group_communities, lookup
from engine.store.store import Store

log = logging.getLogger(__name__)

JOB_TABLE = "scheduler_jobs"
ENTRY = "bot.scheduler:persisted_entry"
HHMM = "%H:%M"


def persisted_entry(name: str, community_id: int | None = None) -> None:
    """The callable the job store references. Cohort's executor runs the named spec
    instead, so this is never called by a running :class:`Scheduler`."""
    raise RuntimeError(f"job {name!r} must run through bot.scheduler.Scheduler")


run_job = persisted_entry  # the entry point jobs stored by earlier versions name


def parse_hhmm(value: object) -> tuple[int, int]:
    """``"HH:MM"`` → (hour, minute). Raises ValueError with a readable reason."""
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":" or not value.replace(":", "").isascii():
        raise ValueError(f"{value!r} is not a time of day like 08:30")
    try:
        at = datetime.strptime(value, HHMM)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a time of day like 08:30") from exc
    return at.hour, at.minute


@dataclass(frozen=True, slots=True)
class Planned:
    """One job as it should be stored."""

    job_id: str
    spec: JobSpec
    community_id: int | None
    trigger: BaseTrigger
    zone: tzinfo


class _JobStore(SQLAlchemyJobStore):  # type: ignore[misc]
    """The job store on the app's engine, which it must not dispose when it shuts down."""

    def shutdown(self) -> None:
        return None


class _Executor(BaseExecutor):  # type: ignore[misc]
    """Runs a due job by resolving its name through the owning scheduler."""

    def __init__(self, run: Callable[[str, tuple[Any, ...], datetime], Coroutine[Any, Any, None]]) -> None:
        super().__init__()
        self._run = run
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, scheduler: Any, alias: str) -> None:
        super().start(scheduler, alias)
        self._loop: asyncio.AbstractEventLoop = scheduler._eventloop

    def shutdown(self, wait: bool = True) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        task = self._loop.create_task(self._run(job.id, tuple(job.args), run_times[-1]))
        self._tasks.add(task)

        def done(t: asyncio.Task[None]) -> None:
            self._tasks.discard(t)
            self._run_job_success(job.id, [])

        task.add_done_callback(done)


class Scheduler:
    """Owns the jobs of every capability; runs them only while this process leads."""

    def __init__(
        self,
        store: Store,
        *,
        deps: Deps | None = None,
        timezone: str = "UTC",
        lock: LeaderLock | None = None,
        leader_poll: float = 15.0,
        sync_every: float = 60.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.deps = deps  # None: jobs take only what the scheduler gives per call
        self.timezone = load_zone(timezone)
        self.lock: LeaderLock = lock or ProcessLock()
        self.leader_poll = leader_poll
        self.sync_every = sync_every
        self.clock = clock
        self.holder = holder_id()
        self.specs: dict[str, JobSpec] = {}
        self._aps: AsyncIOScheduler | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._bad_zones: set[tuple[int, str]] = set()
        self.leading = asyncio.Event()

    # -- declaring --------------------------------------------------------------------
    def add(self, spec: JobSpec) -> None:
        """Declare a job; its work's parameters must be injectable."""
        if spec.name in self.specs:
            raise ValueError(f"job {spec.name!r} declared twice")
        if "@" in spec.name:
            raise ValueError(f"job name {spec.name!r} may not contain '@'")
        check_injectable(f"job {spec.name}", spec.work, self.deps)
        self.specs[spec.name] = spec

    def add_all(self, specs: Iterable[JobSpec]) -> None:
        for spec in specs:
            self.add(spec)

    @property
    def is_leader(self) -> bool:
        return self._aps is not None

    # -- lifecycle --------------------------------------------------------------------
    async def start(self) -> None:
        """Try to lead now (logging leader or standby), then keep trying / checking every
        ``leader_poll`` seconds. Returns at once; needs the running event loop."""
        await self._poll_leadership(first=True)
        self._loop_task = asyncio.create_task(self._leadership_loop(), name="cohort-scheduler-leader")

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        self._step_down()
        await asyncio.to_thread(self.lock.release)

    def shutdown(self) -> None:
        """Synchronous stop of the jobs (the lock is released with the process)."""
        self._step_down()

    async def _leadership_loop(self) -> None:
        since_sync = 0.0
        while True:
            await asyncio.sleep(self.leader_poll)
            try:
                await self._poll_leadership()
                since_sync += self.leader_poll
                if self.is_leader and since_sync >= self.sync_every:
                    since_sync = 0.0
                    await self.sync()
            except Exception:
                log.exception("scheduler: leadership check failed; retrying in %ss", self.leader_poll)

    async def _poll_leadership(self, *, first: bool = False) -> None:
        if self.is_leader:
            if not await asyncio.to_thread(self.lock.held):
                log.warning("scheduler: lost the %s; scheduled jobs stop here (standby)", self.lock.description)
                self._step_down()
            return
        if await asyncio.to_thread(self.lock.acquire):
            await self._lead()
        elif first:
            hint = await asyncio.to_thread(self.lock.holder_hint)
            if isinstance(self.lock, FileLock):
                log.warning(
                    "scheduler: SQLite is single-process: %s already runs the scheduler for this database "
                    "file, so this process runs no scheduled jobs. Run one `cohort run` per SQLite file, "
                    "or use PostgreSQL for several processes.", hint)
            else:
                log.info("scheduler: standby — %s runs the scheduled jobs (%s); this process takes "
                         "over within %ss if it stops", hint, self.lock.description, self.leader_poll)

    async def _lead(self) -> None:
        aps = AsyncIOScheduler(
            jobstores={"default": _JobStore(engine=self.store.engine, tablename=JOB_TABLE)},
            executors={"default": _Executor(self._run)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
            timezone=self.timezone,
        )
        aps.start()
        self._aps = aps
        await self.sync()
        self.leading.set()
        log.info("scheduler: leading (%s); %d job(s) stored", self.lock.description, len(aps.get_jobs()))

    def _step_down(self) -> None:
        aps, self._aps = self._aps, None
        self.leading.clear()
        if aps is not None and aps.running:
            aps.shutdown(wait=False)

    # -- what should be stored --------------------------------------------------------
    def _zone(self, community: CommunityRow) -> tzinfo:
        raw = lookup(community.settings, "timezone", None)
        if raw is None:
            return UTC
        try:
            return load_zone(parse_zone(str(raw)))
        except ValueError:
            if (community.id, str(raw)) not in self._bad_zones:
                self._bad_zones.add((community.id, str(raw)))
                log.warning("scheduler: community %s has an unusable timezone %r; its jobs run in UTC",
                            community.id, raw)
            return UTC

    def _daily(self, spec: JobSpec, schedule: Daily, zone: tzinfo, community: CommunityRow | None) -> CronTrigger:
        at = schedule.at
        if community is not None and schedule.setting is not None:
            chosen = lookup(community.settings, schedule.setting, None)
            if chosen is not None:
                try:
                    parse_hhmm(chosen)
                    at = str(chosen)
                except ValueError:
                    log.warning("scheduler: community %s: %s=%r is not HH:MM; %s runs at %s",
                                community.id, schedule.setting, chosen, spec.name, at)
        hour, minute = parse_hhmm(at)
        return CronTrigger(hour=hour, minute=minute, day_of_week=schedule.days_of_week, timezone=zone)

    def plan(self, communities: list[CommunityRow]) -> dict[str, Planned]:
        """The stored jobs there should be, by id."""
        planned: dict[str, Planned] = {}
        for spec in self.specs.values():
            schedule = spec.schedule
            if isinstance(schedule, Every):
                trigger: BaseTrigger = IntervalTrigger(seconds=schedule.seconds, timezone=self.timezone)
                planned[spec.name] = Planned(spec.name, spec, None, trigger, self.timezone)
            elif not spec.per_community:
                trigger = self._daily(spec, schedule, self.timezone, None)
                planned[spec.name] = Planned(spec.name, spec, None, trigger, self.timezone)
            else:
                for community in communities:
                    zone = self._zone(community)
                    job_id = f"{spec.name}@{community.id}"
                    planned[job_id] = Planned(job_id, spec, community.id, self._daily(spec, schedule, zone, community),
                                              zone)
        return planned

    async def sync(self) -> None:
        """Make the stored jobs match the specs × communities (leader only)."""
        aps = self._aps
        if aps is None:
            return
        communities = await self.store.read(group_communities)
        planned = self.plan(communities)
        for job in aps.get_jobs():
            if job.id not in planned:
                log.info("scheduler: removing stored job %s (no longer defined)", job.id)
                job.remove()
        for p in planned.values():
            existing = aps.get_job(p.job_id)
            if existing is not None and _same(existing.trigger, p.trigger) and existing.func_ref == ENTRY:
                continue
            aps.add_job(ENTRY, p.trigger, args=(p.spec.name, p.community_id), id=p.job_id,
                        name=p.spec.summary or p.spec.name, replace_existing=True)

    def run_soon(self, job_id: str) -> bool:
        """Make the stored job ``job_id`` fire now (through the job store and executor, as a
        due firing would); False when this process does not lead or has no such job."""
        aps = self._aps
        if aps is None or aps.get_job(job_id) is None:
            return False
        aps.modify_job(job_id, next_run_time=datetime.now(UTC))
        return True

    def next_runs(self) -> dict[str, Any]:
        return {job.id: job.next_run_time for job in self._aps.get_jobs()} if self._aps else {}

    # -- running ----------------------------------------------------------------------
    async def _run(self, job_id: str, args: tuple[Any, ...], fire_time: datetime) -> None:
        name = str(args[0]) if args else job_id
        community_id = args[1] if len(args) > 1 else None
        await self.run(name, community_id, fire_time)

    async def run(self, name: str, community_id: int | None, fire_time: datetime) -> bool:
        """Run one firing of job ``name`` (for ``community_id``) unless it already ran;
        returns whether it ran here. The work's failure is logged, never raised."""
        spec = self.specs.get(name)
        if spec is None:
            log.warning("scheduler: stored job %r has no work in this process; skipped", name)
            return False
        per_call: dict[str, object] = {"now": fire_time.astimezone(UTC)}
        job_id = name
        if spec.per_community:
            if community_id is None:
                log.warning("scheduler: per-community job %s fired without a community; skipped", name)
                return False
            rows = [c for c in await self.store.read(group_communities) if c.id == community_id]
            if not rows:
                log.info("scheduler: community %s is gone; %s skipped", community_id, name)
                return False
            zone = self._zone(rows[0])
            local = fire_time.astimezone(zone)
            per_call["community"] = CommunityRef(rows[0].id, rows[0].platform, rows[0].external_id,
                                                 zone_name(zone), local.date())
            job_id = f"{name}@{community_id}"
            run_key = local.date().isoformat()
        elif isinstance(spec.schedule, Daily):
            run_key = fire_time.astimezone(self.timezone).date().isoformat()
        else:
            run_key = fire_time.astimezone(UTC).isoformat(timespec="seconds")
        now = self.clock()
        if not await self.store.write(lambda s: claim_run(s, job_id, run_key, self.holder, now)):
            log.info("scheduler: %s for %s already ran; skipped", job_id, run_key)
            return False
        ok = False
        try:
            await call_with(spec.work, self.deps, **per_call)
            ok = True
        except Exception:
            log.exception("scheduled job %s (%s) failed", job_id, run_key)
        done = self.clock()
        await self.store.write(lambda s: finish_run(s, job_id, run_key, ok, done))
        return True


def _same(a: BaseTrigger, b: BaseTrigger) -> bool:
    return (type(a), str(a), str(getattr(a, "timezone", ""))) == (type(b), str(b), str(getattr(b, "timezone", "")))


async def run_cli(*args: str, timeout: float = 3600, module: str = "bot.cli") -> int:
    """Run ``cohort ARGS`` in a child process (same interpreter and environment); ``module``
    is the entry point it runs (``python -m module ARGS``: a capability may ship a leaner one)."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", module, *args)
    try:
        return await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        proc.kill()
        log.error("cohort %s took longer than %ss and was stopped", " ".join(args), timeout)
        return -1
