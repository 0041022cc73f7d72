"""What an import did: counts, members seen, skipped records, progress.

Every importer hands back an :class:`EventStream` — an iterator of events that also
carries the :class:`ImportReport` it fills in while it is being consumed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Self

from engine.events import Event

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(bytes_read, bytes_total)`` while a source is read."""

MAX_SKIP_DETAILS = 1000  # a wholly broken file must not turn the report into a memory leak


class HistoryFormatError(ImportError):
    """The input is not the expected export format at all; raised before any event."""


@dataclass(frozen=True, slots=True)
class SkippedRecord:
    """One record that produced no event, and where it is.

    ``record`` is the record's id when it has one, else ``#<index>`` (0-based
    position in the file's record list); ``field`` is the offending field, or ""
    when the whole record is at fault.
    """

    file: str
    record: str
    field: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file} record {self.record}" + (f" field {self.field!r}" if self.field else "")
        return f"{where}: {self.reason}"


@dataclass(slots=True)
class ImportReport:
    """Running totals of one import; complete once its stream is exhausted."""

    source: str
    events_by_kind: Counter[str] = field(default_factory=Counter)
    members_seen: set[str] = field(default_factory=set)
    skipped: list[SkippedRecord] = field(default_factory=list)
    skipped_total: int = 0
    skipped_by_reason: Counter[str] = field(default_factory=Counter)
    ignored_by_type: Counter[str] = field(default_factory=Counter)  # valid but not community activity
    out_of_order: int = 0  # events emitted earlier in time than one already emitted
    bytes_read: int = 0
    bytes_total: int = 0
    finished: bool = False
    aborted: str = ""  # why reading stopped early (e.g. a truncated file), else ""

    @property
    def events_total(self) -> int:
        return sum(self.events_by_kind.values())

    def skip(self, file: str, record: str, field_name: str, reason: str) -> None:
        """Record a skipped record; details are kept for the first MAX_SKIP_DETAILS."""
        self.skipped_total += 1
        self.skipped_by_reason[reason] += 1
        if len(self.skipped) < MAX_SKIP_DETAILS:
            self.skipped.append(SkippedRecord(file, record, field_name, reason))

    def summary(self) -> str:
        """A few human-readable lines for a CLI."""
        kinds = ", ".join(f"{k}={n}" for k, n in sorted(self.events_by_kind.items())) or "none"
        lines = [
            f"{self.source}: {self.events_total} events ({kinds}), {len(self.members_seen)} members",
            f"skipped {self.skipped_total} records, ignored {sum(self.ignored_by_type.values())}",
        ]
        lines += [f"  {n} × {reason}" for reason, n in self.skipped_by_reason.most_common(10)]
        if self.out_of_order:
            lines.append(f"{self.out_of_order} events out of time order")
        if self.aborted:
            lines.append(f"stopped early: {self.aborted}")
        return "\n".join(lines)


class EventStream(Iterator[Event]):
    """A one-shot iterator of events plus the report it fills in as it runs.

    Iterating counts each event into ``report``; ``report.finished`` turns true when
    the source is exhausted. Use as a context manager (or call ``close``) to release
    the file if you stop early.
    """

    def __init__(self, events: Iterator[Event], report: ImportReport) -> None:
        self.report = report
        self._events = events
        self._last_at: datetime | None = None

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> Event:
        try:
            event = next(self._events)
        except StopIteration:
            self.report.finished = True
            raise
        self.report.events_by_kind[event.kind] += 1
        if event.user_id:
            self.report.members_seen.add(event.user_id)
        if self._last_at is not None and event.at < self._last_at:
            self.report.out_of_order += 1
        else:
            self._last_at = event.at
        return event

    def close(self) -> None:
        """Stop reading and close the underlying file(s)."""
        close = getattr(self._events, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
