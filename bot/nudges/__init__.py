"""The nudges capability: commands, the click projection, the daily per-community job,
the resume job, the privacy hook, settings and ``cohort nudge``. See :mod:`engine.nudge`
for the policy, the draw and the analysis; :mod:`bot.nudges.service` for delivery."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from bot.modules import CommunityRef, Daily, EventHandler, Every, JobSpec, Module, SettingSpec
from bot.notify import Notifier
from bot.nudges.commands import COMMANDS, confirm_stop
from bot.nudges.service import NudgeService
from bot.nudges.texts import MESSAGES
from bot.ports import Role
from bot.settings import Settings
from engine.churn.scores import latest_risks
from engine.events import ButtonClicked
from engine.nudge import privacy, tables
from engine.nudge.clicks import NudgeClickProjection
from engine.nudge.policy import DEFAULT_LOCAL_HOUR, SETTINGS, NudgePolicy, Setting, format_hour
from engine.nudge.uplift import uplift_ranker
from engine.recsys.recommend import RecommenderService
from engine.store.store import Store


def make_service(store: Store, settings: Settings, notifier: Notifier) -> NudgeService:
    """The service the commands and jobs share (``nudges`` by parameter name)."""
    return NudgeService(store, notifier, risks=latest_risks,
                        recommender=RecommenderService(settings.recsys.artifact_dir),
                        uplift=uplift_ranker(), default_language=settings.language)


async def daily_run(community: CommunityRef, nudges: NudgeService, now: datetime) -> None:
    """The per-community job at the community's local run hour."""
    await nudges.run(community.id, now=now)


async def resume_open(nudges: NudgeService) -> None:
    """Finish campaigns a crash or restart interrupted (the outbox keeps it exactly once)."""
    await nudges.resume()


def _spec(setting: Setting) -> SettingSpec:
    """``/config nudge.<key> VALUE``: the policy's parser validates (a PolicyError is the
    ValueError whose reason the admin reads), the stored form is what the policy reads back."""
    def validate(value: object) -> object:
        return setting.stored(setting.parse(str(value)))

    default = NudgePolicy().as_dict()[setting.key]
    return SettingSpec(f"nudge.{setting.key}", str, default, validate=validate, min_role=Role.ADMIN,
                       help=setting.summary)


MODULE = Module(
    name="nudges",
    tables=tables,
    projection=NudgeClickProjection,
    provides=lambda deps: replace(deps, nudges=make_service(deps.store, deps.settings, deps.notifier)),
    handlers=(EventHandler((ButtonClicked,), confirm_stop),),
    commands=COMMANDS,
    jobs=(
        JobSpec("nudge.daily", Daily(at=format_hour(DEFAULT_LOCAL_HOUR), setting="nudge.local_hour"), daily_run,
                per_community=True, summary="nudge members at churn risk (with a control group)"),
        JobSpec("nudge.resume", Every(300.0), resume_open, summary="finish interrupted nudge campaigns"),
    ),
    privacy=privacy.NudgePrivacy(),
    settings=tuple(_spec(s) for s in SETTINGS),
    messages=MESSAGES,
)
