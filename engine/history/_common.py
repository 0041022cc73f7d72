"""Helpers shared by the importers: byte counting, time ordering, text cleanup."""

from __future__ import annotations

import heapq
import itertools
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import IO, Generic, TypeVar

from engine.events import Event
from engine.history.report import ImportReport, ProgressCallback

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")


class CountingReader:
    """A binary file wrapper that counts bytes read into a report and reports progress."""

    def __init__(self, raw: IO[bytes], report: ImportReport, progress: ProgressCallback | None) -> None:
        self._raw = raw
        self._report = report
        self._progress = progress

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._report.bytes_read += len(data)
        if self._progress is not None:
            self._progress(self._report.bytes_read, self._report.bytes_total)
        return data

    def close(self) -> None:
        self._raw.close()


class ReorderBuffer:
    """Holds events that happen later than the record that produced them.

    An export lists a message once, with reactions that happened hours later; to
    keep the stream in time order those wait here until the source's clock passes
    them. Size is bounded by how far ahead such events reach, not by file size.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[datetime, int, Event]] = []
        self._seq = itertools.count()  # keeps equal times in insertion order

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, event: Event) -> None:
        heapq.heappush(self._heap, (event.at, next(self._seq), event))

    def release(self, until: datetime) -> Iterator[Event]:
        """Pop, in time order, every held event at or before ``until``."""
        while self._heap and self._heap[0][0] <= until:
            yield heapq.heappop(self._heap)[2]

    def drain(self) -> Iterator[Event]:
        while self._heap:
            yield heapq.heappop(self._heap)[2]


def ordered(batches: Iterable[list[Event]], buffer: ReorderBuffer) -> Iterator[Event]:
    """Events of per-record batches, in time order.

    Each batch is what one source record produced; its earliest event is the
    record's own time and advances the source clock. Events up to that clock are
    released; later ones (reactions) wait in ``buffer``.
    """
    clock: datetime | None = None
    for batch in batches:
        if not batch:
            continue
        for event in batch:
            buffer.push(event)
        earliest = min(event.at for event in batch)
        clock = earliest if clock is None else max(clock, earliest)
        yield from buffer.release(clock)
    yield from buffer.drain()


def windowed_sort(items: Iterable[T], key: Callable[[T], datetime], window: int) -> Iterator[T]:
    """Sort a nearly-sorted stream with at most ``window`` items held.

    Items displaced by more than ``window`` positions come out late (still in the
    stream, just not in order); the consumer can count those.
    """
    heap: list[tuple[datetime, int, T]] = []
    seq = itertools.count()
    for item in items:
        heapq.heappush(heap, (key(item), next(seq), item))
        if len(heap) > window:
            yield heapq.heappop(heap)[2]
    while heap:
        yield heapq.heappop(heap)[2]


class BoundedLookup(Generic[K, V]):
    """A dict that forgets its oldest entries past ``capacity`` (for reply lookups)."""

    def __init__(self, capacity: int) -> None:
        self._data: OrderedDict[K, V] = OrderedDict()
        self._capacity = capacity

    def __setitem__(self, key: K, value: V) -> None:
        self._data[key] = value
        if len(self._data) > self._capacity:
            self._data.popitem(last=False)

    def get(self, key: K) -> V | None:
        return self._data.get(key)

    def __len__(self) -> int:
        return len(self._data)


def utc_from_unix(value: str | int | float) -> datetime:
    """A Unix timestamp (string or number) as an aware UTC datetime; ValueError if not one."""
    return datetime.fromtimestamp(int(value), UTC)


def utc_from_iso(value: str) -> datetime:
    """An ISO-8601 timestamp as aware UTC; naive values are taken as UTC. ValueError if bad."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


_MENTION = re.compile(r"(?<![\w@])@(\w{2,})")


def find_handles(text: str) -> tuple[str, ...]:
    """``@handle`` mentions in text, with the @, no repeats."""
    return tuple(dict.fromkeys("@" + m for m in _MENTION.findall(text)))


class _HtmlText(HTMLParser):
    _BLOCK = frozenset({"p", "br", "li", "pre", "blockquote", "h1", "h2", "h3", "h4", "tr", "div", "hr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BLOCK:
            self.parts.append("\n")
        if tag == "a":
            href = dict(attrs).get("href")
            if href and href.startswith(("http://", "https://")):
                self.links.append(href)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


_BLANK_LINES = re.compile(r"\n\s*\n+")


def html_to_text(html: str) -> tuple[str, tuple[str, ...]]:
    """Plain text of an HTML fragment and the http(s) links it points to (in order, unique)."""
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    text = _BLANK_LINES.sub("\n\n", "".join(parser.parts)).strip()
    return text, tuple(dict.fromkeys(parser.links))
