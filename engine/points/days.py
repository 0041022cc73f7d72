"""Local days: a community's timezone and the calendar periods points count in.

Timestamps are stored in UTC. A community's ``settings["timezone"]`` (an IANA name such
as ``Asia/Shanghai``; default ``UTC``) says where its days and weeks begin, so a streak
or a daily cap turns over at local midnight. Pure: no database, no clock.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from engine.refusal import Refusal

DEFAULT_ZONE = "UTC"
EXAMPLE_ZONES = "Asia/Shanghai, Europe/Berlin, America/New_York"
_OFFSET = re.compile(r"^\s*(utc|gmt)?\s*[+-]\s*\d", re.IGNORECASE)


class ZoneError(Refusal, ValueError):
    """A timezone name that is not an IANA zone; the message says what is accepted."""


@lru_cache(maxsize=1)
def _known_zones() -> dict[str, str]:
    # Reads the zone directories once (tens of milliseconds); only /config needs it.
    return {name.lower(): name for name in available_timezones()}


def parse_zone(raw: str) -> str:
    """The canonical IANA name for ``raw`` (case-insensitive: ``asia/shanghai`` gives
    ``Asia/Shanghai``; ``utc`` gives ``UTC``).

    Raises :class:`ZoneError` for anything else, including offsets such as ``UTC+8``:
    a fixed offset ignores daylight saving time, a zone name does not.
    """
    name = raw.strip()
    if name.upper() == DEFAULT_ZONE:
        return DEFAULT_ZONE
    if _OFFSET.match(name):
        raise ZoneError(f"{raw!r} is an offset, not a timezone name: use an IANA name such as "
                        f"{EXAMPLE_ZONES}, or UTC")
    canonical = _known_zones().get(name.lower())
    if canonical is None:
        raise ZoneError(f"unknown timezone {raw!r}: use an IANA name such as {EXAMPLE_ZONES}, or UTC")
    try:
        ZoneInfo(canonical)  # a broken zone file is refused here rather than ignored on every event
    except (KeyError, ValueError, OSError):
        raise ZoneError(f"timezone {canonical!r} cannot be loaded on this machine") from None
    return canonical


@lru_cache(maxsize=512)
def load_zone(name: str | None) -> tzinfo:
    """The tzinfo for a stored zone name; UTC for ``None``, ``""``, ``"UTC"`` or a name
    this machine cannot load (a hand-edited row must never stop event processing).
    Never raises; cached."""
    if not name or name == DEFAULT_ZONE:
        return UTC
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError):  # not found is a KeyError; a malformed key a ValueError
        return UTC


def zone_of(settings: dict[str, Any] | None) -> tzinfo:
    """The timezone a community's ``settings`` dict declares (UTC by default). Never raises."""
    name = settings.get("timezone") if isinstance(settings, dict) else None
    return load_zone(name if isinstance(name, str) else None)


def zone_name(tz: tzinfo) -> str:
    """The IANA name of ``tz`` (``UTC`` for :data:`datetime.UTC`)."""
    key = getattr(tz, "key", None)
    return key if isinstance(key, str) else DEFAULT_ZONE


def local_date(at: datetime, tz: tzinfo = UTC) -> date:
    """The calendar date ``at`` falls on in ``tz`` (a naive ``at`` is taken as UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(tz).date()


def day_of(at: datetime, tz: tzinfo = UTC) -> str:
    """The local day (ISO date) an event at ``at`` counts for."""
    return local_date(at, tz).isoformat()


def midnight(day: date, tz: tzinfo = UTC) -> datetime:
    """The UTC instant ``day`` begins in ``tz`` (where a DST jump skips midnight, the
    day's first existing instant)."""
    return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)


def _monday(at: datetime, tz: tzinfo) -> date:
    d = local_date(at, tz)
    return d - timedelta(days=d.weekday())


def _label(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_key(at: datetime, tz: tzinfo = UTC) -> str:
    """ISO week label of ``at``'s local date, e.g. ``2025-W03`` (weeks start on Monday)."""
    return _label(local_date(at, tz))


def week_start(at: datetime, tz: tzinfo = UTC) -> datetime:
    """Local Monday 00:00 of ``at``'s week, as a UTC instant."""
    return midnight(_monday(at, tz), tz)


def previous_week(at: datetime, tz: tzinfo = UTC) -> tuple[datetime, datetime, str]:
    """(start, end, label) of the local week before ``at``'s: UTC instants, end exclusive.
    Computed on dates, so a week with a DST change is still Monday to Monday."""
    monday = _monday(at, tz)
    before = monday - timedelta(days=7)
    return midnight(before, tz), midnight(monday, tz), _label(before)


def month_start(at: datetime, tz: tzinfo = UTC) -> datetime:
    """The first of ``at``'s local month, 00:00 local, as a UTC instant."""
    return midnight(local_date(at, tz).replace(day=1), tz)


def month_key(at: datetime, tz: tzinfo = UTC) -> str:
    """``YYYY-MM`` of ``at``'s local date."""
    return local_date(at, tz).strftime("%Y-%m")
