"""The composition root: the one place that builds the store, router, handlers and adapters.

Nothing is built at import time; ``build_app`` does it from a Settings object.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from bot.adapters.base import Adapter
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

# Each module exposes ``register(router, app)``; order is the order handlers run in.
HANDLER_MODULES: tuple[str, ...] = (
    "bot.handlers.help",
    "bot.handlers.privacy",
    "bot.handlers.linking",
    "bot.handlers.moderation",
    "bot.handlers.community_settings",
    "bot.handlers.points",
    "bot.handlers.catalog",
    "bot.handlers.recommend",
)

# Each module exposes ``make_projection(app) -> Projection`` for the writer's transaction.
PROJECTION_MODULES: tuple[str, ...] = (
    "engine.points.projection",
    "engine.catalog.projection",
)


# Each module exposes ``jobs(app) -> list[JobSpec]`` for the scheduler.
JOB_MODULES: tuple[str, ...] = (
    "bot.jobs",
)


@dataclass
class App:
    """Everything the process runs, built once."""

    settings: Settings
    store: Store
    router: Router
    adapters: list[Adapter] = field(default_factory=list)
    services: dict[str, Any] = field(default_factory=dict)

    async def dispatch(self, event: Event, messenger: Messenger) -> Outcome:
        return await self.router.dispatch(event, messenger)

    def start(self) -> None:
        self.store.start()

    def stop(self) -> None:
        self.store.stop()


def build_app(settings: Settings, *, engine: Engine | None = None) -> App:
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
    router = Router(store.record, RoleResolver(store, settings.owner_ids))
    app = App(settings, store, router)
    router.provide(store=store, settings=settings, app=app)
    for name in PROJECTION_MODULES:
        store.writer.add_projection(importlib.import_module(name).make_projection(app))
    for name in HANDLER_MODULES:
        importlib.import_module(name).register(router, app)
    router.check()
    return app


def build_adapters(app: App) -> list[Adapter]:
    """The adapters whose tokens are set; the console when there are none."""
    adapters: list[Adapter] = []
    s = app.settings
    if s.telegram_token is not None:
        from bot.adapters.telegram import TelegramAdapter, known_chats_reader, reachability_hook

        secret = s.telegram_webhook_secret
        adapters.append(
            TelegramAdapter(
                s,
                app.dispatch,
                known_chats=known_chats_reader(app.store),
                on_reachability=reachability_hook(app.store),
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
    return adapters


def build_scheduler(app: App) -> Scheduler:
    """The scheduler with every capability's jobs, persisted in the app's database."""
    scheduler = Scheduler(app.store.engine, timezone=app.settings.scheduler.timezone)
    for name in JOB_MODULES:
        for spec in importlib.import_module(name).jobs(app):
            scheduler.add(spec)
    app.services["scheduler"] = scheduler
    return scheduler
