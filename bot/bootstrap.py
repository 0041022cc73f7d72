"""The composition root: the one place that builds the store, router, handlers and adapters.

Nothing is built at import time; ``build_app`` does it from a Settings object.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from bot.adapters.base import Adapter
from bot.leader import lock_for
from bot.modules import Module, call_with, check_injectable, legacy, validate_modules
from bot.notifier import OutboxNotifier, options_from
from bot.ports import Messenger
from bot.roles import RoleResolver
from bot.router import Router
from bot.scheduler import Scheduler
from bot.settings import Settings
from engine.events import Event
from engine.store.db import make_engine
from engine.store.recorder import RecorderOptions
from engine.store.store import Store
from engine.store.writer import Outcome

log = logging.getLogger(__name__)

def capabilities(settings: Settings) -> list[Module]:
    """Every capability the bot runs, in the order its handlers and projections run.

    Adding a capability: write its package with a ``Module`` and add one line here.
    """
    from bot import jobs, notifier, nudges
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
    from engine.catalog import projection as catalog_projection
    from engine.points import projection as points_projection

    return [
        legacy("help", register=help.register),
        legacy("privacy", register=privacy.register),
        legacy("linking", register=linking.register),
        moderation.module(),
        legacy("community_settings", register=community_settings.register, messages=community_settings.MESSAGES),
        legacy("points", register=points.register, make_projection=points_projection.make_projection),
        legacy("catalog", register=catalog.register, make_projection=catalog_projection.make_projection,
               messages=catalog.MESSAGES),
        legacy("recommend", register=recommend.register),
        churn.module(settings),
        jobs.recsys_training(settings),
        notifier.MODULE,
        digest.module(settings),
        nudges.MODULE,
    ]


@dataclass
class App:
    """Everything the process runs, built once."""

    settings: Settings
    store: Store
    router: Router
    notifier: OutboxNotifier
    modules: tuple[Module, ...] = ()
    deps: dict[str, object] = field(default_factory=dict)  # what callables get by parameter name
    adapters: list[Adapter] = field(default_factory=list)
    services: dict[str, Any] = field(default_factory=dict)

    async def dispatch(self, event: Event, messenger: Messenger) -> Outcome:
        return await self.router.dispatch(event, messenger)

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
    roles = RoleResolver(store, settings.owner_ids)
    router = Router(store.record, roles)
    notifier = OutboxNotifier(store, options_from(settings.notifier))
    mods = tuple(capabilities(settings) if modules is None else modules)
    validate_modules(mods)
    app = App(settings, store, router, notifier, mods)
    services = app.deps
    services.update(store=store, settings=settings, notifier=notifier)
    router.provide(**services, app=app, roles=roles)
    for module in mods:
        for name, factory in module.provides.items():
            check_injectable(f"{module.name}: {name}", factory, services)
            services[name] = call_with(factory, services)
            router.provide(**{name: services[name]})
    for module in mods:
        if module.projection is not None:
            store.writer.add_projection(call_with(module.projection, {**services, "app": app}))
        if module.register is not None:
            module.register(router, app)
        for sub in module.handlers:
            router.on(*sub.types, handler=sub.handler)
        for spec in module.commands:
            router.add(spec)
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
    scheduler = Scheduler(app.store, services=app.deps, timezone=s.timezone, lock=lock_for(app.store.engine),
                          leader_poll=s.leader_poll, sync_every=s.sync_every)
    for module in app.modules:
        scheduler.add_all(module.jobs)
    return scheduler
