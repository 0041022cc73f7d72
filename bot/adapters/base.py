"""What every platform adapter offers the composition root."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bot.ports import Messenger
from engine.events import Event
from engine.store.writer import Outcome

Dispatch = Callable[[Event, Messenger], Awaitable[Outcome]]


class Ingest(Protocol):
    """Store, then react, as two steps: an adapter acknowledges a platform update between
    them (once its events are committed), so handlers and replies never delay the ack."""

    async def record(self, event: Event) -> Outcome:
        """Returns once ``event`` is committed; raises if storing it failed."""
        ...

    async def react(self, event: Event, messenger: Messenger, outcome: Outcome) -> None:
        """Handlers and replies for a recorded event; never raises."""
        ...


class Severity(StrEnum):
    OK = "ok"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of a self-check: what was checked, how it went and, if not ok, the fix."""

    check: str
    severity: Severity
    detail: str
    fix: str = ""


class Adapter(Protocol):
    """A running connection to one platform. Shares the process's one event loop."""

    name: str

    @property
    def messenger(self) -> Messenger: ...

    async def start(self) -> None:
        """Connect and begin delivering events to the dispatch function; returns once running."""
        ...

    async def stop(self) -> None:
        """Stop receiving, flush what is in flight, disconnect."""
        ...

    async def doctor(self) -> list[Finding]:
        """Self-check the operator's setup; each problem comes with its fix."""
        ...
