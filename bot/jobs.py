"""Scheduled work of the bot itself (the composition root lists this in ``JOB_MODULES``)."""

from __future__ import annotations

from typing import Any

from apscheduler.triggers.cron import CronTrigger

from bot.scheduler import JobSpec, run_cli


def jobs(app: Any) -> list[JobSpec]:
    """Nightly retraining of every community's recommender, in a child process (torch
    never loads in the bot); the bot hot-reloads the new artifact within a minute."""
    s = app.settings.scheduler
    hour, minute = (int(x) for x in s.recsys_train_at.split(":"))

    async def retrain() -> None:
        await run_cli("recsys", "train")

    return [
        JobSpec(
            "recsys-nightly-training",
            CronTrigger(hour=hour, minute=minute, timezone=s.timezone),
            retrain,
            "retrain recommenders",
        )
    ]
