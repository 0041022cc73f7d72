"""Strict parsing of moderation arguments: durations (``10m``, ``2h``, ``1d``, ``1h30m``) and
counts. Everything a user types either parses or gets a reply saying what is accepted."""

from __future__ import annotations

import re
from datetime import timedelta

UNITS = {"w": timedelta(weeks=1), "d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}
MAX_DURATION = timedelta(days=365)
_PART = re.compile(r"([0-9]{1,6})([wdhm])")
_ASCII_DIGITS = frozenset("0123456789")


class ArgError(ValueError):
    """Bad input; the message is a reply for the user (plain text, no markup)."""


def looks_like_duration(token: str) -> bool:
    """Whether ``token`` was meant as a duration (so a bad one is refused, not taken as a reason)."""
    return bool(token) and (token[0].isdigit() or (token[0] in "+-" and len(token) > 1))


def parse_duration(token: str, *, maximum: timedelta = MAX_DURATION) -> timedelta:
    """``10m``, ``2h``, ``1d``, ``2w`` or combinations in that order (``1h30m``) → a timedelta
    of at least a minute and at most ``maximum``. Raises ArgError saying what is wrong."""
    raw = token.strip().lower()
    example = "Durations look like 10m, 2h, 1d, 2w or 1h30m."
    if raw.startswith("-"):
        raise ArgError(f"{token} is negative. {example}")
    if not raw or any(c.isdigit() and c not in _ASCII_DIGITS for c in raw):
        raise ArgError(f"{token} is not a duration (use the digits 0-9). {example}")
    pos, total, seen = 0, timedelta(), ""
    for match in _PART.finditer(raw):
        if match.start() != pos:
            break
        unit = match.group(2)
        if unit in seen or (seen and "wdhm".index(unit) < "wdhm".index(seen[-1])):
            raise ArgError(f"{token}: give each unit once, largest first. {example}")
        seen += unit
        total += int(match.group(1)) * UNITS[unit]
        pos = match.end()
    if pos != len(raw) or not seen:
        rest = raw[pos:]
        unknown = re.match(r"[0-9]+([a-z]+)", rest)
        if unknown:
            raise ArgError(f"{token}: {unknown.group(1)!r} is not a unit (m, h, d or w). {example}")
        if rest and rest[0] in _ASCII_DIGITS and not _PART.match(rest):
            raise ArgError(f"{token}: every number needs a unit (m, h, d or w). {example}")
        raise ArgError(f"{token} is not a duration. {example}")
    if total < timedelta(minutes=1):
        raise ArgError(f"{token} is too short: at least 1 minute.")
    if total > maximum:
        raise ArgError(f"{token} is too long: at most {maximum.days} days.")
    return total


def parse_count(token: str, *, low: int, high: int, what: str) -> int:
    """A whole number from ``low`` to ``high`` in ASCII digits; raises ArgError."""
    text = token.strip()
    if not text or any(c not in _ASCII_DIGITS for c in text) or len(text) > 9 or not low <= int(text) <= high:
        raise ArgError(f"{what} must be a whole number from {low} to {high}.")
    return int(text)
