"""Command arguments through :mod:`engine.args`, refusals as the user's :class:`UsageError`.

Every command that takes a number or a duration parses it here, so ``/recommend ²``,
``/audit １２`` or ``/mute @x 999y`` get a clear reply, never a traceback.
"""

from __future__ import annotations

from datetime import timedelta

from bot.i18n import text
from bot.markup import esc
from bot.router import UsageError
from engine.args import ArgError, excerpt, parse_duration, parse_int

__all__ = ["duration_arg", "int_arg"]


MESSAGES = {
    "arg.int": {"en": "{what} must be a whole number from {lo} to {hi}.",
                "zh": "{what}必须是 {lo} 到 {hi} 之间的整数（用数字 0-9 书写），而不是“{raw}”。"},
}


def int_arg(raw: str, *, lo: int, hi: int, what: str = "the number", language: str = "en",
            what_zh: str = "数字") -> int:
    """:func:`engine.args.parse_int`; raises :class:`UsageError` (escaped markup) instead,
    in Chinese when ``language`` is ``zh`` (``what_zh`` names the value)."""
    try:
        return parse_int(raw, lo=lo, hi=hi, what=what)
    except ArgError as exc:
        if language == "zh":
            raise UsageError(esc(text(MESSAGES, "arg.int", "zh", what=what_zh, lo=lo, hi=hi,
                                      raw=excerpt(raw)))) from None
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
