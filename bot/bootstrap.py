"""The composition root: the one place that builds the store, router, handlers and adapters.

Nothing is built at import time; ``build_app`` does it from a Settings object.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import Engine

from bot.adapters.base import Adapter
from bot.deps import Deps, call_with, check_injectable
from bot.i18n import merge
from bot.leader import lock_for
from bot.modules import Module, validate_modules
from bot.notifier import OutboxNotifier, options_from
from bot.place import Locator, MemberFinder
from bot.ports import Clock, Messenger
from bot.roles import RoleResolver
from bot.router import MESSAGES as ROUTER_MESSAGES
from bot.router import Router
from bot.scheduler import Scheduler
from bot.settings import Settings
from bot.settings_schema import SettingsSchema
from engine.events import Event, utcnow
from engine.members.privacy import PrivacyHook
from engine.store.db import make_engine
from engine.store.recorder import RecorderOptions
from engine.store.store import Store
from engine.store.writer import Outcome

log = logging.getLogger(__name__)

def capabilities(settings: Settings) -> list[Module]:
    """Every capability the bot runs, in the order its handlers, projections and privacy
    hooks run.

    Adding a capability: write its package with a ``Module`` and add one line here.
    """
    from bot import audit_cli, churn_cli, history_cli, jobs, notifier, nudges
    from bot.adapters.discord import cli as discord_cli
    from bot.handlers import (
        catalog,
        churn,
        community_settings,
        digest,
        help,
        linking,
        moderation,
        points,
        privacy,
        recommend,
    )
    from bot.nudges import cli as nudge_cli

    return [
        help.MODULE,
        privacy.MODULE,
        linking.MODULE,
        replace(moderation.module(), cli=audit_cli.cli, cli_name=audit_cli.CLI_NAME),
        community_settings.module(settings),
        points.MODULE,
        catalog.MODULE,
        recommend.MODULE,
        replace(churn.module(settings), cli=churn_cli.cli, cli_name=churn_cli.CLI_NAME),
        jobs.recsys_training(settings),
        notifier.MODULE,
        digest.module(settings),
        replace(nudges.MODULE, cli=nudge_cli.cli, cli_name=nudge_cli.CLI_NAME),
        history_cli.MODULE,
        discord_cli.MODULE,
    ]


@dataclass
class App:
    """Everything the process runs, built once."""

    settings: Settings
    store: Store
    router: Router
    notifier: OutboxNotifier
    modules: tuple[Module, ...] = ()
    adapters: list[Adapter] = field(default_factory=list)
    clock: Clock = utcnow  # what ``clock`` gives every handler and job (tests set their own)
    privacy_hooks: tuple[PrivacyHook, ...] = ()  # the capabilities' /forget and /mydata hooks, in order
    deps: Deps = field(init=False)  # what callables get by parameter name (set by ``use``)

    def use(self, deps: Deps) -> None:
        """Hand ``deps`` to the router (and the scheduler built after); tests swap a service
        with ``app.use(replace(app.deps, recommender=...))``."""
        self.deps = deps
        self.router.use(deps)

    async def dispatch(self, event: Event, messenger: Messenger) -> Outcome:
        return await self.router.dispatch(event, messenger)

    def now(self) -> datetime:
        return self.clock()

    def start(self) -> None:
        self.store.start()

    def stop(self) -> None:
        self.store.stop()


def build_app(settings: Settings, *, engine: Engine | None = None,
              modules: Sequence[Module] | None = None) -> App:
    """Build the app for ``settings`` (the database engine may be given, e.g. by tests).

    The schema is not touched: run ``cohort db upgrade`` (or ``Store.create_schema`` in
    tests) first. Raises RuntimeError if a handler needs a dependency nobody provides.
    """
    engine = engine or make_engine(
        settings.storage.url, sqlite_synchronous=settings.storage.sqlite_synchronous
    )
    store = Store(
        engine,
        options=RecorderOptions(
            keep_message_text=settings.storage.keep_message_text,
            max_text_length=settings.storage.max_text_length,
        ),
    )
    store.writer.max_batch = settings.storage.max_batch
    mods = tuple(capabilities(settings) if modules is None else modules)
    validate_modules(mods)
    schema = SettingsSchema(spec for m in mods for spec in m.settings)
    roles = RoleResolver(store, settings.owner_ids)
    router = Router(store.record, roles, locate=Locator(store, schema, settings.language),
                    find_member=MemberFinder(store),
                    messages=merge([ROUTER_MESSAGES, *(m.messages for m in mods)]))
    notifier = OutboxNotifier(store, options_from(settings.notifier))
    hooks = tuple(m.privacy for m in mods if m.privacy is not None)
    app = App(settings, store, router, notifier, mods, privacy_hooks=hooks)
    deps = Deps(store=store, settings=settings, notifier=notifier, roles=roles, router=router,
                clock=app.now, settings_schema=schema, privacy_hooks=hooks)
    for module in mods:
        if module.provides is not None:
            deps = module.provides(deps)
    app.use(deps)
    for module in mods:
        if module.projection is not None:
            check_injectable(f"{module.name}: projection", module.projection, deps)
            store.writer.add_projection(call_with(module.projection, deps))
        for gate in module.gates:
            check_injectable(f"{module.name}: gate", gate, deps)
            router.gate_commands(call_with(gate, deps))
        for sub in module.handlers:
            router.on(*sub.types, handler=sub.handler)
        for spec in module.commands:
            router.add(spec)
        for sink in module.notices:
            router.on_notice(sink)
        for follower in module.after_commands:
            router.after_commands(follower)
    router.check()
    return app


def build_adapters(app: App) -> list[Adapter]:
    """The adapters whose tokens are set; the console when there are none."""
    adapters: list[Adapter] = []
    s = app.settings
    if s.telegram_token is not None:
        from bot.adapters.telegram import TelegramAdapter, known_chats_reader, reachability_hook
        from engine.ingest.dead_letters import dead_letter_hook

        secret = s.telegram_webhook_secret
        adapters.append(
            TelegramAdapter(
                s,
                app.router,  # stores, then reacts: acknowledged only after the commit
                known_chats=known_chats_reader(app.store),
                on_reachability=reachability_hook(app.store),
                on_quarantine=dead_letter_hook(app.store),
                webhook_secret=secret.get_secret_value() if secret is not None else None,
                max_in_flight=s.telegram.max_in_flight,
                request_timeout=s.telegram.request_timeout,
            )
        )
    if s.discord_token is not None:
        from bot.adapters.discord import DiscordAdapter, reachability_hook
        from bot.adapters.discord.backfill import resume_points_reader

        adapters.append(
            DiscordAdapter(
                s,
                app.dispatch,
                commands=app.router.commands,
                on_reachability=reachability_hook(app.store),
                dm_interval=s.discord.dm_interval,
                resume_points=resume_points_reader(app.store),
            )
        )
    app.adapters = adapters
    for adapter in adapters:
        app.notifier.attach(adapter.messenger)
    return adapters


def build_scheduler(app: App) -> Scheduler:
    """The scheduler with every capability's jobs, persisted in the app's database, led by
    one process per database (:mod:`bot.leader`). Start it after the adapters."""
    s = app.settings.scheduler
    scheduler = Scheduler(app.store, deps=app.deps, timezone=s.timezone, lock=lock_for(app.store.engine),
                          leader_poll=s.leader_poll, sync_every=s.sync_every)
    for module in app.modules:
        scheduler.add_all(module.jobs)
    return scheduler
