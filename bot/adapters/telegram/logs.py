"""Keeping python-telegram-bot's logs to what an operator needs."""

from __future__ import annotations

import logging

from telegram.error import RetryAfter

RATE_LIMITER_LOGGER = "telegram.ext.AIORateLimiter"


class HandledFloodWait(logging.Filter):
    """Drops PTB's ERROR-with-traceback for a 429 that Cohort handles.

    Cohort's limiter runs with ``max_retries=0``, so PTB re-raises every flood wait at
    once, logging it as "Rate limit hit after maximum of 0 retries" with a traceback; the
    messenger then waits ``retry_after`` and retries, logging one WARNING line itself.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, RetryAfter)


def quiet_handled_flood_waits() -> None:
    """Install :class:`HandledFloodWait` on PTB's limiter logger (once)."""
    logger = logging.getLogger(RATE_LIMITER_LOGGER)
    if not any(isinstance(f, HandledFloodWait) for f in logger.filters):
        logger.addFilter(HandledFloodWait())
