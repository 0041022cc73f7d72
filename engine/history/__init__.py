"""Importers of community history exports: a file in, a time-ordered event stream out.

Each ``read_*`` function validates its input eagerly (HistoryFormatError before any
event) and returns an :class:`EventStream`: iterate it for events, read its
``report`` for counts and skipped records. Parsing streams: memory is bounded by
the largest record, not by the file.
"""

from __future__ import annotations

from pathlib import Path

from engine.history.discord_export import read_discord_export
from engine.history.report import (
    EventStream,
    HistoryFormatError,
    ImportReport,
    ProgressCallback,
    SkippedRecord,
)
from engine.history.stackexchange import read_stackexchange_dump
from engine.history.telegram_export import read_telegram_export, telegram_chat_id

__all__ = [
    "EventStream",
    "HistoryFormatError",
    "ImportReport",
    "ProgressCallback",
    "SkippedRecord",
    "detect_format",
    "read_discord_export",
    "read_history",
    "read_stackexchange_dump",
    "read_telegram_export",
    "telegram_chat_id",
]


def detect_format(path: str | Path) -> str:
    """ "stackexchange", "discord" or "telegram" for an export path.

    A directory is a Stack Exchange dump; a JSON file is told apart by its first
    top-level key (``guild`` → DiscordChatExporter). Raises HistoryFormatError
    when it is neither.
    """
    path = Path(path)
    if path.is_dir():
        return "stackexchange"
    try:
        with path.open("rb") as raw:
            head = raw.read(4096).decode("utf-8-sig", errors="replace")
    except OSError as err:
        raise HistoryFormatError(f"{path}: cannot read ({err})") from err
    if not head.lstrip().startswith("{"):
        raise HistoryFormatError(f"{path.name}: not a JSON export or a dump directory")
    return "discord" if '"guild"' in head else "telegram"


def read_history(path: str | Path, *, progress: ProgressCallback | None = None) -> EventStream:
    """Open any supported export (see :func:`detect_format`) as an EventStream.

    Raises HistoryFormatError when the input is not a supported format.
    """
    kind = detect_format(path)
    if kind == "stackexchange":
        return read_stackexchange_dump(path, progress=progress)
    if kind == "discord":
        return read_discord_export(path, progress=progress)
    return read_telegram_export(path, progress=progress)
