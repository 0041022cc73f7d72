"""The one parser for numbers and durations that people type (commands, settings, console).

Only ASCII digits count: ``"²".isdigit()`` and ``"１２".isdigit()`` are true, ``int("²")``
raises and ``int("１２")`` is 12, so neither test nor ``int()`` alone is safe. Lengths are
bounded before anything is converted (a 5,000-digit argument is refused, not computed), and
every value is checked against an explicit range. Refusals are :class:`ArgError` whose
message is plain text (not markup) meant for the person who typed the value.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import timedelta

from engine.refusal import Refusal

MAX_DIGITS = 9
EXCERPT = 24  # how much of a refused value is quoted back
# Minutes per unit; durations are computed in minutes so a huge count never overflows timedelta.
UNITS = {"m": 1, "h": 60, "d": 24 * 60, "w": 7 * 24 * 60}
UNIT_NAMES = {"m": "minute", "h": "hour", "d": "day", "w": "week"}
DURATION_EXAMPLES = "10m, 2h, 1d or 1w"
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)
_DURATION = re.compile(r"([+-]?)([0-9]+)([a-z]*)", re.ASCII)


class ArgError(Refusal, ValueError):
    """A typed value was refused; ``str(exc)`` says why and what is accepted (plain text)."""


def excerpt(raw: str) -> str:
    """``raw`` cut to a short, quotable excerpt."""
    return raw if len(raw) <= EXCERPT else raw[: EXCERPT - 1] + "…"


def is_ascii_id(raw: str, *, max_digits: int = 20) -> bool:
    """Whether ``raw`` is a platform id: ASCII digits only (``²`` and ``٣`` are not), at most
    ``max_digits`` of them (Discord snowflakes have ~19)."""
    return 0 < len(raw) <= max_digits and raw.isascii() and raw.isdigit()


def is_ascii_number(raw: str) -> bool:
    """True for 1..MAX_DIGITS ASCII digits and nothing else (no sign, space or other digits)."""
    return 0 < len(raw) <= MAX_DIGITS and raw.isascii() and raw.isdigit()


def _has_foreign_digits(raw: str) -> bool:
    return any(not ch.isascii() and (ch.isdigit() or unicodedata.category(ch) == "Nd") for ch in raw)


def parse_int(raw: str, *, lo: int, hi: int, what: str = "the number") -> int:
    """The whole number ``raw`` names, in ``lo..hi``.

    Accepts an optional sign and ASCII digits, surrounding spaces ignored. Raises
    :class:`ArgError` for anything else: other digit characters, more than
    :data:`MAX_DIGITS` digits, decimals, or a value outside the range.
    """
    text = raw.strip()
    span = f"a whole number from {lo} to {hi}"
    if not text:
        raise ArgError(f"{what} is missing: it must be {span}.")
    negative = text[0] == "-"
    body = text[1:] if text[0] in "+-" else text
    if _has_foreign_digits(body):
        raise ArgError(f"{what} must be written with the digits 0-9, not “{excerpt(text)}”.")
    if not body or not body.isascii() or not body.isdigit():
        raise ArgError(f"{what} must be {span}, not “{excerpt(text)}”.")
    if len(body.lstrip("0")) > MAX_DIGITS:
        raise ArgError(f"{what} must be {span}; “{excerpt(text)}” is far too long.")
    value = -int(body) if negative else int(body)
    if not lo <= value <= hi:
        raise ArgError(f"{what} must be {span}, not {value}.")
    return value


def parse_decimal(raw: str, *, lo: float, hi: float, what: str = "the number") -> float:
    """A plain decimal such as ``1.5`` (ASCII digits, optional sign, no exponent, nan or inf)
    in ``lo..hi``. Raises :class:`ArgError` otherwise."""
    text = raw.strip()
    span = f"a number from {lo:g} to {hi:g}"
    if _has_foreign_digits(text):
        raise ArgError(f"{what} must be written with the digits 0-9, not “{excerpt(text)}”.")
    if len(text) > 2 * MAX_DIGITS + 2 or not _DECIMAL.fullmatch(text):
        raise ArgError(f"{what} must be {span} such as 1.5, not “{excerpt(text)}”.")
    value = float(text)
    if not lo <= value <= hi:
        raise ArgError(f"{what} must be {span}, not {text}.")
    return value


def format_duration(value: timedelta) -> str:
    """The duration in its largest whole unit: ``90m``, ``2h``, ``3d``, ``1w``."""
    minutes = int(value.total_seconds() // 60)
    for unit in ("w", "d", "h"):
        if minutes and minutes % UNITS[unit] == 0:
            return f"{minutes // UNITS[unit]}{unit}"
    return f"{minutes}m"


def looks_like_duration(raw: str) -> bool:
    """True when ``raw`` starts like a count (a digit of any script, maybe signed), so a
    command that takes an optional duration should parse it rather than read it as text."""
    body = raw[1:] if raw[:1] in ("+", "-") else raw
    return bool(body) and (body[0].isdigit() or unicodedata.category(body[0]) == "Nd")


def parse_duration(raw: str, *, lo: timedelta = timedelta(minutes=1), hi: timedelta = timedelta(days=366),
                   what: str = "the duration") -> timedelta:
    """A duration written as one count and one unit: ``10m``, ``2h``, ``1d``, ``1w``.

    Returns it as a :class:`timedelta` within ``lo..hi``. Raises :class:`ArgError` for a
    sign, other digit characters, an unknown or missing unit, a compound form such as
    ``1h30``, more than :data:`MAX_DIGITS` digits, or a value out of range.
    """
    text = raw.strip().lower()
    span = f"from {format_duration(lo)} to {format_duration(hi)}"
    if _has_foreign_digits(text):
        raise ArgError(f"{what} must be written with the digits 0-9, e.g. {DURATION_EXAMPLES}; "
                       f"not “{excerpt(raw.strip())}”.")
    match = _DURATION.fullmatch(text) if text.isascii() else None
    if match is None:
        raise ArgError(f"{what} is one number and one unit, e.g. {DURATION_EXAMPLES} "
                       f"(m minutes, h hours, d days, w weeks); not “{excerpt(raw.strip())}”.")
    sign, digits, unit = match.groups()
    if sign == "-":
        raise ArgError(f"{what} can't be negative: use {span}, e.g. {DURATION_EXAMPLES}.")
    if unit not in UNITS:
        said = f"unit “{excerpt(unit)}” is unknown" if unit else "the unit is missing"
        raise ArgError(f"{what}: {said}; use m (minutes), h (hours), d (days) or w (weeks), "
                       f"e.g. {DURATION_EXAMPLES}.")
    if len(digits.lstrip("0")) > MAX_DIGITS:
        raise ArgError(f"{what} must be {span}; “{excerpt(raw.strip())}” is far too long.")
    minutes = int(digits) * UNITS[unit]
    if not lo.total_seconds() <= minutes * 60 <= hi.total_seconds():
        raise ArgError(f"{what} must be {span}, not {int(digits)}{unit}.")
    return timedelta(minutes=minutes)
