"""Feed an imported (or simulated) event stream through the live message path.

History is not written to tables by a side door: every event goes through the same
``dispatch`` a live platform update goes through (store → projections → handlers), so
imported history looks exactly like history the bot saw happen. The engine cannot
import the bot, so the caller hands in ``dispatch`` (in the bot: ``app.dispatch`` bound
to a messenger that drops whatever handlers try to say).

Idempotence comes from the store: every event has a dedup key, a second delivery is a
``duplicate`` outcome and changes nothing. Importing the same file twice is therefore
a no-op, and two overlapping exports of one chat merge.

Throughput comes from the writer's group commit: up to ``concurrency`` events are in
flight at once, so the single writer finds a batch queued each time it commits.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from engine.events import Event

MAX_FAILURE_DETAILS = 100  # keep the summary small even when every event fails


class _HasDuplicate(Protocol):
    @property
    def duplicate(self) -> bool: ...


Dispatch = Callable[[Event], Awaitable[_HasDuplicate]]
"""Stores and handles one event; returns an outcome with ``duplicate`` (the writer's ``Outcome``)."""


@dataclass(frozen=True, slots=True)
class FailedEvent:
    """An event the dispatch raised on: its dedup key, kind and the error, as text."""

    key: str
    kind: str
    reason: str

    def __str__(self) -> str:
        return f"{self.kind} {self.key}: {self.reason}"


@dataclass(slots=True)
class IngestSummary:
    """What an ingest did. ``new + duplicate + failed`` is every event dispatched."""

    new: int = 0
    duplicate: int = 0
    failed: int = 0
    new_by_kind: Counter[str] = field(default_factory=Counter)
    failures_by_reason: Counter[str] = field(default_factory=Counter)
    failures: list[FailedEvent] = field(default_factory=list)  # the first MAX_FAILURE_DETAILS
    seconds: float = 0.0
    interrupted: bool = False  # stopped early (Ctrl-C, cancellation); counts are what got done

    @property
    def total(self) -> int:
        return self.new + self.duplicate + self.failed

    @property
    def events_per_second(self) -> float:
        return self.total / self.seconds if self.seconds > 0 else 0.0

    def _fail(self, event: Event, exc: BaseException) -> None:
        self.failed += 1
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        # the reason counter groups by exception type only: messages often embed ids
        self.failures_by_reason[type(exc).__name__] += 1
        if len(self.failures) < MAX_FAILURE_DETAILS:
            self.failures.append(FailedEvent(event.dedup_key, event.kind, reason[:300]))

    def summary(self) -> str:
        """A few human-readable lines for a CLI."""
        kinds = ", ".join(f"{k}={n}" for k, n in sorted(self.new_by_kind.items())) or "none"
        lines = [
            f"stored {self.new} new events ({kinds}); {self.duplicate} already stored; "
            f"{self.failed} failed; {self.seconds:.1f} s ({self.events_per_second:,.0f} events/s)"
        ]
        lines += [f"  {n} × {reason}" for reason, n in self.failures_by_reason.most_common(10)]
        if self.interrupted:
            lines.append("interrupted: the counts above are what was stored before stopping")
        return "\n".join(lines)


async def ingest(
    events: Iterable[Event],
    dispatch: Dispatch,
    *,
    concurrency: int = 256,
    on_progress: Callable[[IngestSummary], None] | None = None,
    progress_every: int = 1_000,
    summary: IngestSummary | None = None,
) -> IngestSummary:
    """Dispatch every event of ``events``, at most ``concurrency`` at a time.

    Returns an :class:`IngestSummary`: events stored (``new``, by kind), already stored
    (``duplicate``) and ``failed`` (dispatch raised; the error is kept, the import goes
    on). ``on_progress(summary)`` is called every ``progress_every`` finished events and
    once at the end. Pass ``summary`` to have it filled in place (so a caller
    still has the counts when the ingest is interrupted). Events are handed to ``dispatch`` in stream order; since the store
    dispatch enqueues its write before its first await, the writer applies them in that
    order too (a reply is stored after the message it replies to).

    Exceptions from *iterating* ``events`` (a broken source) propagate after the
    events already in flight have finished; so does cancellation. Raises ValueError
    for ``concurrency < 1``.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    summary = summary if summary is not None else IngestSummary()
    started = time.perf_counter()
    in_flight: set[asyncio.Task[None]] = set()
    last_report = 0

    async def one(event: Event) -> None:
        try:
            outcome = await dispatch(event)
        except Exception as exc:  # one bad event must not stop an import of millions
            summary._fail(event, exc)
            return
        if outcome.duplicate:
            summary.duplicate += 1
        else:
            summary.new += 1
            summary.new_by_kind[event.kind] += 1

    def report() -> None:
        nonlocal last_report
        summary.seconds = time.perf_counter() - started
        if on_progress is not None and summary.total - last_report >= progress_every:
            last_report = summary.total
            on_progress(summary)

    try:
        for event in events:
            if len(in_flight) >= concurrency:
                _, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                report()
            in_flight.add(asyncio.ensure_future(one(event)))
        if in_flight:
            await asyncio.wait(in_flight)
    except BaseException:
        # Whatever stops us (a broken source, Ctrl-C), events already handed to the writer
        # are committed or failed there; wait for them so the counts are true.
        summary.interrupted = True
        if in_flight:
            await asyncio.shield(asyncio.wait(in_flight))
        raise
    finally:
        summary.seconds = time.perf_counter() - started
        if on_progress is not None:
            on_progress(summary)
    return summary
