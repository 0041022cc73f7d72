"""The capability-module contract: one typed, frozen :class:`Module` per capability.

A capability (points, catalog, recsys, privacy, moderation, churn, nudges, digest, ...) is
one package exposing one ``Module``; the composition root (:data:`bot.bootstrap.MODULES`)
lists them and builds everything from that list. Nothing else names modules by string.

Dependencies reach a capability's callables (handlers, commands, jobs, gates, projection
factories) by parameter name from the fields of one frozen, typed :class:`bot.deps.Deps`
(``store``, ``settings``, ``notifier``, ``clock``, ..., plus the shared services
capabilities ``provide``); :func:`check_injectable` refuses, at start, a parameter that is
not a field or that no running capability built.

Example — a capability with a per-community daily job that DMs members::

    async def remind(community: CommunityRef, store: Store, notifier: Notifier) -> None:
        members = await store.read(lambda s: quiet_members(s, community.id))
        await notifier.notify_all([Notification(f"remind:{community.id}:{community.local_date}:{m}", m,
                                                community.id, Purpose.NUDGE, "We miss you!") for m in members])

    MODULE = Module(
        name="reminders", tables=reminders_tables,
        jobs=(JobSpec("reminders.daily", Daily(at="18:00", setting="reminders.send_at"), remind,
                      per_community=True, summary="remind quiet members"),),
        settings=(SettingSpec("reminders.send_at", str, "18:00", validate=hhmm),),
        messages={"remind": {"en": "We miss you!", "zh": "我们想你了！"}},
    )
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType, ModuleType
from typing import TYPE_CHECKING, Any

from bot.deps import PER_CALL as PER_CALL
from bot.deps import Deps
from bot.deps import call_with as call_with
from bot.deps import check_injectable as check_injectable
from bot.deps import injectable as injectable
from bot.i18n import Catalog as Catalog  # re-exported: capabilities import them from here
from bot.i18n import text as text
from bot.router import CommandGate, CommandSpec
from bot.settings_schema import SettingSpec as SettingSpec
from engine.events import Event

if TYPE_CHECKING:
    import typer

    from engine.members.privacy import PrivacyHook
    from engine.store.writer import Projection

Handler = Callable[..., Awaitable[Any]]



@dataclass(frozen=True, slots=True)
class EventHandler:
    """Run ``handler`` for every stored (non-duplicate) event of these types."""

    types: tuple[type[Event], ...]
    handler: Handler


@dataclass(frozen=True, slots=True)
class Daily:
    """Every day at ``at`` (HH:MM). For a per-community job the time is the community's
    local time (its ``timezone`` setting), and ``setting`` names a community setting
    that moves it (e.g. ``digest.send_at``)."""

    at: str = "00:00"
    setting: str | None = None
    days_of_week: str = "*"  # APScheduler's day_of_week, e.g. "mon" for a weekly job


@dataclass(frozen=True, slots=True)
class Every:
    """Every ``seconds`` (global jobs: sweeps, checks)."""

    seconds: float


Schedule = Daily | Every


@dataclass(frozen=True, slots=True)
class CommunityRef:
    """What a per-community job is told about the community it runs for."""

    id: int
    platform: str
    external_id: str
    timezone: str
    local_date: date  # the community's local date at the firing


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A scheduled job. ``name`` is its stable id (``capability.job``): the persisted job
    stores only that name (and the community id), and the running scheduler resolves it
    to ``work``. ``work``'s parameters are injected by name; a per-community job also gets
    ``community`` (:class:`CommunityRef`) and every job may take ``now`` (aware UTC)."""

    name: str
    schedule: Schedule
    work: Handler
    per_community: bool = False
    summary: str = ""


@dataclass(frozen=True, slots=True)
class Module:
    """Everything one capability brings. Every field but ``name`` is optional.

    * ``tables``: the module declaring its tables (imported so ``Base.metadata`` has them);
    * ``projection``: a factory (parameters by name) of the writer-transaction projection;
    * ``provides``: builds the shared services this capability owns into the typed
      :class:`~bot.deps.Deps` (``lambda deps: replace(deps, recommender=...)``);
    * ``handlers`` / ``commands``: event handlers and commands (``CommandSpec.min_role`` is
      checked once, in the router);
    * ``notices``: sinks for the notices projections produce (badges, clicks), called
      after the commit with ``notice``, ``event``, ``messenger`` and services by name;
    * ``jobs``: scheduled work, global or per community;
    * ``privacy``: the ``/mydata`` export and ``/forget`` hook;
    * ``cli`` / ``cli_name``: a typer sub-app mounted as ``cohort <cli_name>``;
    * ``settings``: the per-community settings schema;
    * ``messages``: the message catalog (EN/中文);
    * ``gates``: factories (parameters by name) of command gates that may drop a command
      before it runs (moderation's command budget);
    * ``after_commands``: run after every command, once what it wrote is committed
      (parameters by name: ``event``, ``messenger``, Deps fields), e.g. crediting a /done.
    """

    name: str
    tables: ModuleType | None = None
    projection: Callable[..., Projection] | None = None
    provides: Callable[[Deps], Deps] | None = None
    handlers: tuple[EventHandler, ...] = ()
    commands: tuple[CommandSpec, ...] = ()
    notices: tuple[Handler, ...] = ()
    jobs: tuple[JobSpec, ...] = ()
    privacy: PrivacyHook | None = None
    cli: typer.Typer | None = None
    cli_name: str = ""
    settings: tuple[SettingSpec, ...] = ()
    messages: Catalog = field(default_factory=lambda: MappingProxyType({}))
    gates: tuple[Callable[..., CommandGate], ...] = ()
    after_commands: tuple[Handler, ...] = ()


def validate_modules(modules: Iterable[Module]) -> None:
    """Refuse duplicate module names, job ids, setting keys and CLI names at start."""
    seen: dict[str, set[str]] = {"module": set(), "job": set(), "setting": set(), "cli": set()}

    def once(kind: str, value: str) -> None:
        if value in seen[kind]:
            raise ValueError(f"{kind} {value!r} is declared twice")
        seen[kind].add(value)

    for m in modules:
        once("module", m.name)
        for job in m.jobs:
            once("job", job.name)
        for s in m.settings:
            once("setting", s.key)
        if m.cli is not None:
            once("cli", m.cli_name or m.name)
