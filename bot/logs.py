"""Logging set-up: secrets never reach a log line, and no line is unbounded.

:func:`configure_logging` is called where the process configures logging (``bot.cli``).
It puts :class:`RedactSecrets` on every root handler, so every logger that propagates
(Cohort's, httpx, telegram, discord, apscheduler, sqlalchemy) is covered at every level.
The filter replaces the configured secrets (Telegram token, Discord token, webhook secret)
and anything shaped like a Telegram bot token (``https://api.telegram.org/bot<token>/...``)
or a password in a database URL with ``***``, then cuts the message and its traceback to
a bounded length, so a library that logs a whole payload (PTB's "malformed body" at
CRITICAL) writes an excerpt, not megabytes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from bot.settings import SECRET_KEYS, Settings

MASK = "***"
MAX_MESSAGE = 2_000  # characters of one formatted message
MAX_TRACEBACK = 8_000  # characters of one formatted traceback
# A Telegram bot token: <bot id>:<35 url-safe characters>, bare or in /bot<token>/ URLs.
_TELEGRAM_TOKEN = re.compile(r"(?<![0-9])[0-9]{5,}:[A-Za-z0-9_-]{30,}")
# A Discord bot token: three dot-separated base64url parts (id . timestamp . hmac).
_DISCORD_TOKEN = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,}")
# user:password@ in a URL (a PostgreSQL DSN in an error message).
_URL_PASSWORD = re.compile(r"(?<![a-z0-9+.-])(?P<scheme>[a-z][a-z0-9+.-]{0,20}://[^:/@\s]{1,256}):[^@\s]{1,256}@",
                           re.IGNORECASE)
# Libraries chatty at INFO: one line per HTTP request, with its URL (the token is in Telegram's).
QUIET_LOGGERS = ("httpx", "httpcore")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with each of ``secrets`` and every token- or password-shaped string masked."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    text = _TELEGRAM_TOKEN.sub(MASK, text)
    text = _DISCORD_TOKEN.sub(MASK, text)
    return _URL_PASSWORD.sub(rf"\g<scheme>:{MASK}@", text)


class RedactSecrets(logging.Filter):
    """Rewrites each record (message, arguments, traceback) with secrets masked and bounded.

    Attach it to handlers, not loggers: a handler filter sees records from every logger
    that reaches the handler. Never drops a record.
    """

    def __init__(self, secrets: Iterable[str] = (), *, max_message: int = MAX_MESSAGE,
                 max_traceback: int = MAX_TRACEBACK) -> None:
        super().__init__()
        # Longest first, so a secret containing another is masked whole.
        self.secrets = tuple(sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True))
        self.max_message = max_message
        self.max_traceback = max_traceback
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string from a library: keep what there is
            message = f"{record.msg!r} % {record.args!r}"
        record.msg = self._clean(message, self.max_message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._clean(record.exc_text, self.max_traceback)
        if record.stack_info:
            record.stack_info = self._clean(record.stack_info, self.max_traceback)
        return True

    def _clean(self, text: str, limit: int) -> str:
        # Literal secrets first (linear on any size), then cut, then the patterns on what is
        # left: a token cut in half at the limit is still masked by the second pass.
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        if len(text) <= limit:
            return redact(text)
        return f"{redact(text[: limit + 200])[:limit]}… [{len(text) - limit:,} more characters cut]"


def secrets_of(settings: Settings) -> list[str]:
    """The secret values configured in ``settings`` (those that are set)."""
    values = []
    for key in SECRET_KEYS:
        secret = getattr(settings, key)
        if secret is not None:
            values.append(secret.get_secret_value())
    return values


def install_redaction(secrets: Iterable[str], logger: logging.Logger | None = None) -> RedactSecrets:
    """Put one :class:`RedactSecrets` on every handler of ``logger`` (the root by default),
    replacing an earlier one; returns it."""
    target = logger or logging.getLogger()
    redactor = RedactSecrets(secrets)
    for handler in target.handlers:
        for old in [f for f in handler.filters if isinstance(f, RedactSecrets)]:
            handler.removeFilter(old)
        handler.addFilter(redactor)
    return redactor


def configure_logging(settings: Settings) -> None:
    """Configure the process's logging: level and format from ``settings``, quiet
    per-request loggers, and secret redaction on every root handler."""
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per migration step is noise
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    install_redaction(secrets_of(settings))
