"""Replaying history through the live path, silently: the messenger that says nothing and
:func:`import_events`. ``cohort import`` (:mod:`bot.history_cli`), the demo, Discord's
backfill and the benchmarks all import through here.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

from bot.bootstrap import App
from bot.ports import Button, Capability, ChatRef, Role, SentMessage
from engine.events import Event, Platform
from engine.history import EventStream, ImportReport
from engine.history.ingest import IngestSummary, ingest
from engine.store.writer import Outcome

# -- the messenger that says nothing ----------------------------------------------------------


@dataclass
class ImportMessenger:
    """A Messenger for replaying history: every send is dropped and counted.

    Handlers run as they would live (so imported history earns points and badges),
    but nothing reaches a chat: ``reply``/``send``/``dm``/``send_picture``/
    ``send_document``/``edit`` return a fake :class:`SentMessage` and add one to
    ``dropped[kind]``. It has no capabilities, so handlers that check (moderation
    actions, Discord level roles) skip their platform calls, and ``role_of`` says
    MEMBER for everyone: the platform's admin list of today says nothing about who was
    an admin when the history happened.
    """

    platform: Platform = Platform.CONSOLE
    capabilities: frozenset[Capability] = frozenset()
    dropped: Counter[str] = field(default_factory=Counter)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())

    def _drop(self, kind: str, chat: ChatRef) -> SentMessage:
        self.dropped[kind] += 1
        return SentMessage(chat, f"import-dropped-{next(self._ids)}")

    async def reply(self, to: Event, text: str, *, buttons: Sequence[Button] = ()) -> SentMessage:
        return self._drop("reply", ChatRef.of(to))

    async def send(self, chat: ChatRef, text: str, *, buttons: Sequence[Button] = ()) -> SentMessage:
        return self._drop("send", chat)

    async def dm(self, user_id: str, text: str, *, buttons: Sequence[Button] = ()) -> SentMessage:
        return self._drop("dm", ChatRef(self.platform, "", f"dm:{user_id}"))

    async def send_picture(self, chat: ChatRef, png: bytes, caption: str = "") -> SentMessage:
        return self._drop("picture", chat)

    async def send_document(self, user_id: str, filename: str, data: bytes, caption: str = "") -> SentMessage:
        return self._drop("document", ChatRef(self.platform, "", f"dm:{user_id}"))

    async def edit(self, message: SentMessage, text: str, *, buttons: Sequence[Button] = ()) -> None:
        self.dropped["edit"] += 1

    async def role_of(self, community_id: str, user_id: str) -> Role:
        return Role.MEMBER


def import_dispatch(application: App, messenger: ImportMessenger) -> Callable[[Event], Awaitable[Outcome]]:
    """``event -> app.dispatch(event, messenger)``: the live path, with the silent messenger."""

    def dispatch(event: Event) -> Awaitable[Outcome]:
        # Returned un-awaited on purpose: the router enqueues the write before its first
        # await, so events reach the writer in stream order (see engine.history.ingest).
        return application.dispatch(event, messenger)

    return dispatch


@dataclass
class ImportResult:
    """One finished (or interrupted) import: the source's report, the store's counts and
    what the silent messenger swallowed."""

    report: ImportReport
    summary: IngestSummary
    messenger: ImportMessenger

    @property
    def ok(self) -> bool:
        return not self.summary.failed and not self.report.aborted and not self.summary.interrupted


async def import_events(
    application: App,
    stream: EventStream,
    *,
    platform: Platform = Platform.CONSOLE,
    concurrency: int = 256,
    on_progress: Callable[[IngestSummary], None] | None = None,
) -> ImportResult:
    """Dispatch every event of ``stream`` into a started ``application``, silently.

    Returns an :class:`ImportResult`; failures of single events are counted there, not
    raised. Cancellation propagates after in-flight events have settled.
    """
    messenger = ImportMessenger(platform=platform)
    summary = await ingest(
        stream, import_dispatch(application, messenger), concurrency=concurrency, on_progress=on_progress
    )
    return ImportResult(stream.report, summary, messenger)


def stream_of(events: Iterable[Event], source: str) -> EventStream:
    """Wrap any event iterable (a simulation) as an EventStream with a fresh report."""
    return EventStream(iter(events), ImportReport(source=source))
