"""Scheduled work of the bot itself: nightly retraining of the recommenders."""

from __future__ import annotations

from bot.modules import Daily, JobSpec, Module
from bot.recsys_cli import CHILD_MODULE
from bot.scheduler import run_cli
from bot.settings import Settings


async def retrain() -> None:
    """Retrain every community's recommender in a child process (torch never loads in the
    bot) that runs ``cohort recsys train`` from its own lean entry point (not the whole CLI);
    the bot hot-reloads the new artifact within a minute."""
    await run_cli("train", module=CHILD_MODULE)


def recsys_training(settings: Settings) -> Module:
    """The training job, at ``scheduler.recsys_train_at`` in the scheduler's timezone."""
    return Module(
        name="recsys_training",
        jobs=(JobSpec("recsys-nightly-training", Daily(at=settings.scheduler.recsys_train_at), retrain,
                      summary="retrain recommenders"),),
    )
