"""``/jobs`` in the console: the scheduler's jobs, run on demand at the console's time.

A course owner trying Cohort in the terminal has no week to wait for a digest or a nudge
campaign: ``/time +1d`` moves the console's clock and ``/jobs run nudge.daily`` fires that
job now, for the console's community, through the same :meth:`Scheduler.run` the real
scheduler uses (so it runs once per local day, as in production, and its DMs go through
the Notifier to the console). The scheduler is not started here: this process does not
take the database's leadership, and a `cohort run` on the same database is not disturbed.
"""

from __future__ import annotations

from bot.adapters.console import ConsoleState
from bot.bootstrap import App, build_scheduler
from bot.modules import Daily, Every, JobSpec
from engine.members.lookup import community_id_of


def _when(spec: JobSpec) -> str:
    schedule = spec.schedule
    if isinstance(schedule, Every):
        return f"every {schedule.seconds:g} s"
    assert isinstance(schedule, Daily)
    days = "" if schedule.days_of_week == "*" else f" on {schedule.days_of_week}"
    where = "community time" if spec.per_community else "scheduler time"
    moved = f", moved by /config {schedule.setting}" if schedule.setting else ""
    return f"daily at {schedule.at}{days} ({where}{moved})"


class SchedulerJobs:
    """Implements :class:`bot.adapters.console.ConsoleJobs` over the app's scheduler."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.scheduler = build_scheduler(app)

    def listing(self) -> list[str]:
        return [f"{spec.name} — {spec.summary or 'no summary'} · {_when(spec)}"
                + (" · per community" if spec.per_community else "")
                for spec in sorted(self.scheduler.specs.values(), key=lambda j: j.name)]

    async def run(self, name: str, state: ConsoleState) -> str:
        spec = self.scheduler.specs.get(name)
        if spec is None:
            return f"there is no job {name[:60]!r}; /jobs lists them"
        community_id = None
        if spec.per_community:
            community_id = await self.app.store.read(
                lambda s: community_id_of(s, state.platform.value, state.community))
            if community_id is None:
                return f"{state.community} is not stored yet: say something in it first"
        now = state.clock()
        if not await self.scheduler.run(name, community_id, now):
            return (f"{name} did not run: it already ran for this {'local ' if spec.per_community else ''}day "
                    f"({now:%Y-%m-%d}); /time +1d moves the console to the next one")
        return f"{name} ran at {now:%Y-%m-%d %H:%M} UTC (console time)"
