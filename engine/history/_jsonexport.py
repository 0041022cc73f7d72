"""Shared plumbing for the two JSON export importers (Telegram, DiscordChatExporter)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from engine.events import Event
from engine.history._common import CountingReader, ReorderBuffer, ordered
from engine.history._jsonstream import JsonObjectReader, JsonSyntaxError
from engine.history.report import HistoryFormatError, ImportReport, ProgressCallback

MESSAGES = "messages"

# Which tool wrote a file, told apart by a top-level key only that tool writes.
_FOREIGN_MARKERS = {
    "guild": "a DiscordChatExporter export",
    "chats": "a full Telegram account export (export one group instead)",
    "about": "a full Telegram account export (export one group instead)",
}


def read_header(path: Path, required: tuple[str, ...], expected: str) -> dict[str, Any]:
    """The top-level members other than ``messages``, read without loading messages.

    Stops at the ``messages`` array when every ``required`` key came before it
    (the usual layout); otherwise skips the array to find them. Raises
    HistoryFormatError when the file is not a JSON object with ``messages`` and
    ``required``, naming what the file looks like when it is a known other format.
    """
    header: dict[str, Any] = {}
    seen_messages = False
    try:
        with path.open("rb") as raw:
            for key, value in JsonObjectReader(raw).members(MESSAGES):
                if key == MESSAGES:
                    seen_messages = True
                    if not isinstance(value, Iterator):
                        raise HistoryFormatError(f"{path.name}: 'messages' is not a list")
                    if all(k in header for k in required):
                        break
                else:
                    header[key] = value
    except JsonSyntaxError as err:
        raise HistoryFormatError(f"{path.name}: not {expected} (invalid JSON: {err})") from err
    except OSError as err:
        raise HistoryFormatError(f"{path}: cannot read ({err})") from err
    for marker, what in _FOREIGN_MARKERS.items():
        if marker in header and marker not in required:
            raise HistoryFormatError(f"{path.name}: this is {what}, not {expected}")
    missing = [k for k in required if k not in header]
    if not seen_messages or missing:
        missing = ([MESSAGES] if not seen_messages else []) + missing
        raise HistoryFormatError(f"{path.name}: not {expected} (missing {', '.join(missing)})")
    return header


def stream_messages(
    path: Path,
    report: ImportReport,
    progress: ProgressCallback | None,
    map_message: Callable[[int, Any], Iterator[Event]],
) -> Iterator[Event]:
    """Events from every item of the file's ``messages`` array, in time order.

    ``map_message(index, item)`` turns one item into events (and records skips);
    later-timed ones (reactions) are held back until the messages catch up. A file
    that turns out to be invalid JSON part-way stops there with ``report.aborted``.
    """
    buffer = ReorderBuffer()
    report.bytes_total = path.stat().st_size
    with path.open("rb") as raw:
        reader = JsonObjectReader(CountingReader(raw, report, progress))

        def mapped() -> Iterator[list[Event]]:
            index = -1
            try:
                for key, value in reader.members(MESSAGES):
                    if key != MESSAGES or not isinstance(value, Iterator):
                        continue
                    for index, item in enumerate(value):
                        yield list(map_message(index, item))
            except JsonSyntaxError as err:
                report.aborted = f"invalid JSON after record #{index}: {err}"
                report.skip(path.name, f"#{index + 1}", "", f"invalid JSON, rest of file not read ({err})")

        yield from ordered(mapped(), buffer)
