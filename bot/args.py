"""Command arguments through :mod:`engine.args`, refusals as the user's :class:`UsageError`.

Every command that takes a number or a duration parses it here, so ``/recommend ²``,
``/audit １２`` or ``/mute @x 999y`` get a clear reply, never a traceback.
"""

from __future__ import annotations

from datetime import timedelta

from bot.markup import esc
from bot.router import UsageError
from engine.args import ArgError, parse_duration, parse_int

__all__ = ["duration_arg", "int_arg"]


def int_arg(raw: str, *, lo: int, hi: int, what: str = "the number") -> int:
    """:func:`engine.args.parse_int`; raises :class:`UsageError` (escaped markup) instead."""
    try:
        return parse_int(raw, lo=lo, hi=hi, what=what)
    except ArgError as exc:
        raise UsageError(esc(_capital(str(exc)))) from None


def duration_arg(raw: str, *, lo: timedelta = timedelta(minutes=1), hi: timedelta = timedelta(days=366),
                 what: str = "the duration") -> timedelta:
    """:func:`engine.args.parse_duration`; raises :class:`UsageError` (escaped markup) instead."""
    try:
        return parse_duration(raw, lo=lo, hi=hi, what=what)
    except ArgError as exc:
        raise UsageError(esc(_capital(str(exc)))) from None


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
