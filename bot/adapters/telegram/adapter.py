"""The Telegram adapter: Cohort's own ingest loop over python-telegram-bot's Bot.

Acknowledged means committed. In polling mode Cohort calls ``getUpdates`` itself (through
PTB's Bot, taking the raw JSON so a malformed update cannot break PTB's parsing) and asks
for the next offset only once every update of the previous batch is committed. In webhook
mode Cohort's own endpoint (secret checked in constant time, body bounded) answers 200
only after the update is committed and 5xx when storing failed, so Telegram redelivers;
dedup keys make redelivery harmless. An update that cannot be converted or stored is
quarantined as a dead letter instead of stopping ingest (see :mod:`.inbox`).

PTB's Application is used for its Bot (rate limiter, timeouts, initialize/shutdown) only:
no Updater and no update queue, and never ``run_polling()``, so Telegram shares the one
event loop with discord.py and the scheduler.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import re
import warnings
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from telegram.constants import ChatMemberStatus
from telegram.error import Forbidden, InvalidToken, RetryAfter, TelegramError
from telegram.ext import AIORateLimiter, Application
from telegram.warnings import PTBUserWarning

from bot.adapters.base import Finding, Ingest, Severity
from bot.adapters.telegram.logs import quiet_handled_flood_waits
from bot.settings import Settings
from engine.ingest.dead_letters import short

from .inbox import Inbox, QuarantineHook, update_id_of
from .messenger import ReachabilityHook, TelegramMessenger
from .updates import ALLOWED_UPDATES

log = logging.getLogger(__name__)

KnownChats = Callable[[], Awaitable[list[str]]]

TOKEN_INVALID = "TELEGRAM_TOKEN is invalid: get a new one from @BotFather with /token"
TOKEN_MISSING = "TELEGRAM_TOKEN is not set: create a bot with @BotFather (/newbot) and export its token"
PRIVACY_ON = (
    "privacy mode is on: in groups the bot only sees commands and replies to itself, so "
    "activity, points and reactions are not recorded"
)
PRIVACY_FIX = (
    "@BotFather → /mybots → your bot → Bot Settings → Group Privacy → Turn off; then remove "
    "the bot from each group and add it again (Telegram applies the change on re-join)"
)
NOT_ADMIN_FIX = (
    "make the bot an administrator of the group: Telegram sends reactions and join/leave "
    "updates only to admin bots (give it 'Ban users' too if moderators should /mute and /ban)"
)
BAN_RIGHT_FIX = "group settings → Administrators → the bot → turn on 'Ban users' (only needed for /mute and /ban)"
# The administrator rights moderation needs, as getChatMember names them, with what needs them.
MODERATION_RIGHTS: dict[str, tuple[str, str]] = {
    "can_restrict_members": ("Ban users", "/mute, /ban, /kick, antiflood and filter mutes"),
    "can_delete_messages": ("Delete messages", "/purge, filters, antiflood deletes and the welcome's delete-after"),
}
SECRET_ENV = "TELEGRAM_WEBHOOK_SECRET"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_SECRET_OK = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
# Real updates are a few kilobytes; Telegram's own text limit is 4096 characters.
MAX_BODY = 1024 * 1024
BATCH = 100
# Telegram's flood limits concern sending; reads (getChatMember, ...) are not throttled here.
_SEND_ENDPOINTS = frozenset({
    "sendMessage", "sendPhoto", "sendDocument", "editMessageText", "sendMediaGroup",
    "sendAnimation", "sendVideo", "sendAudio", "sendVoice", "sendSticker", "copyMessage",
    "forwardMessage", "sendPoll", "editMessageCaption", "editMessageReplyMarkup",
})


class _SendRateLimiter(AIORateLimiter):
    """PTB's limiter (≈30 msg/s overall, 20/min per group), applied to sending methods only."""

    async def process_request(  # type: ignore[override]
        self, callback: Any, args: Any, kwargs: dict[str, Any], endpoint: str,
        data: dict[str, Any], rate_limit_args: int | None,
    ) -> Any:
        if endpoint not in _SEND_ENDPOINTS:
            return await callback(*args, **kwargs)
        return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)


class TelegramAdapter:
    """Connects Cohort to Telegram.

    ``ingest`` stores and then reacts (the router); ``known_chats`` lists group chat ids for
    :meth:`doctor` (see :func:`bot.adapters.telegram.chats.known_group_chats`);
    ``on_reachability`` records DM reachability (see
    :func:`engine.members.reachability.reachability_hook`); ``on_quarantine`` stores dead
    letters (see :func:`engine.ingest.dead_letters.dead_letter_hook`).
    The remaining keywords tune limits and retries (tests make them tiny).
    """

    name = "telegram"

    def __init__(
        self,
        settings: Settings,
        ingest: Ingest,
        *,
        known_chats: KnownChats | None = None,
        on_reachability: ReachabilityHook | None = None,
        on_quarantine: QuarantineHook | None = None,
        webhook_secret: str | None = None,
        overall_rate: float = 30,
        group_rate_per_minute: float = 20,
        max_in_flight: int = 64,
        recent_updates: int = 4096,
        poll_timeout: int = 10,
        max_attempts: int = 4,
        retry_delay: float = 0.5,
        request_timeout: float = 10.0,
        max_body: int = MAX_BODY,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        if settings.telegram_token is None:
            raise RuntimeError(TOKEN_MISSING)
        self.settings = settings
        self._known_chats = known_chats
        self._secret = webhook_secret if webhook_secret is not None else os.environ.get(SECRET_ENV, "")
        self._poll_timeout = poll_timeout
        self._retry_delay = retry_delay
        self._max_body = max_body
        self.bot_username = ""
        self.bot_id = 0
        self._running = False
        self._stopping = asyncio.Event()
        self._poller: asyncio.Task[None] | None = None
        self._offset: int | None = None
        self._web: web.AppRunner | None = None
        # Cohort asks getUpdates itself, through PTB's Bot, for the raw JSON (see above).
        warnings.filterwarnings("ignore", message=r"Please use 'Bot\.getUpdates'", category=PTBUserWarning)

        quiet_handled_flood_waits()  # the messenger below handles 429s and logs them once
        builder = (
            Application.builder()
            .token(settings.telegram_token.get_secret_value())
            .updater(None)  # Cohort owns the ingest loop
            .job_queue(None)  # the process has its own scheduler
            .rate_limiter(_SendRateLimiter(
                overall_max_rate=overall_rate, overall_time_period=1 if overall_rate else 0,
                group_max_rate=group_rate_per_minute,
                group_time_period=60 if group_rate_per_minute else 0, max_retries=0,
            ))
            .get_updates_read_timeout(poll_timeout + 5)
            .read_timeout(request_timeout)
            .write_timeout(request_timeout)
            .media_write_timeout(max(request_timeout, 30.0))
            .connect_timeout(min(request_timeout, 10.0))
            .pool_timeout(request_timeout)
        )
        base_url = settings.telegram.base_url.rstrip("/")
        if base_url:
            builder = builder.base_url(base_url).base_file_url(_file_url(base_url))
        self._app = builder.build()
        self.messenger = TelegramMessenger(
            self._app.bot,
            role_cache_seconds=settings.telegram.role_cache_seconds,
            on_reachability=on_reachability,
            max_attempts=max_attempts,
            retry_delay=retry_delay,
            sleep=sleep,
        )
        self.inbox = Inbox(
            ingest, self.messenger, lambda: (self.bot_username, self.bot_id),
            on_quarantine=on_quarantine, max_in_flight=max_in_flight, recent_updates=recent_updates,
            retry_delay=retry_delay, sleep=sleep,
        )

    @property
    def updates_seen(self) -> int:
        return self.inbox.updates_seen

    @property
    def updates_skipped(self) -> int:
        return self.inbox.updates_skipped

    @property
    def updates_quarantined(self) -> int:
        return self.inbox.updates_quarantined

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        """Log in (getMe), then poll or open the webhook; returns once updates flow.

        Raises RuntimeError with the fix when the token is invalid or webhook mode lacks a
        URL or secret.
        """
        tg = self.settings.telegram
        if tg.mode == "webhook":
            problem = self._webhook_problem()
            if problem:
                raise RuntimeError(problem)
        try:
            await self._app.initialize()
        except InvalidToken as exc:
            await self._app.bot.shutdown()
            raise RuntimeError(TOKEN_INVALID) from exc
        me = self._app.bot.bot
        self.bot_username, self.bot_id = me.username or "", me.id
        if not me.can_read_all_group_messages:
            log.warning("telegram: %s. Fix: %s", PRIVACY_ON, PRIVACY_FIX)
        self._stopping.clear()
        if tg.mode == "webhook":
            await self._start_webhook()
        else:
            # A webhook left set makes getUpdates fail; its pending updates stay queued.
            await self._app.bot.delete_webhook(drop_pending_updates=False)
            self._poller = asyncio.create_task(self._poll(), name="telegram-poll")
        self._running = True
        log.info("telegram: @%s running (%s)", self.bot_username, tg.mode)

    async def stop(self) -> None:
        """Stop fetching, finish committing what was fetched, let handlers finish, disconnect."""
        self._stopping.set()
        if self._poller is not None:
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None
        if self._web is not None:
            await self._web.cleanup()  # waits for requests being handled
            self._web = None
        await self.inbox.drain()
        if self._offset is not None and self._running:
            # Confirm the last committed batch now, so a restart does not fetch it again.
            with contextlib.suppress(Exception):
                await self._get_updates(self._offset, timeout=0, limit=1)
        if self._running:
            await self._app.shutdown()
        self._running = False

    async def drain(self) -> None:
        """Wait until every handler started so far has finished (tests, benchmarks)."""
        await self.inbox.drain()

    async def handle_raw(self, raw: Any) -> bool:
        """Commit one raw update and start its handlers; True once it may be acknowledged."""
        return await self.inbox.take(raw)

    # -- polling ------------------------------------------------------------------------
    async def _get_updates(self, offset: int | None, *, timeout: int, limit: int = BATCH) -> Any:
        return await self._app.bot.do_api_request(
            "getUpdates",
            api_kwargs={"offset": offset, "timeout": timeout, "limit": limit,
                        "allowed_updates": list(ALLOWED_UPDATES)},
            read_timeout=timeout + 5,
        )

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _poll(self) -> None:
        """Fetch, commit, then confirm by asking for the next offset; until :meth:`stop`."""
        failures = 0
        while not self._stopping.is_set():
            fetch = asyncio.ensure_future(self._get_updates(self._offset, timeout=self._poll_timeout))
            stopping = asyncio.ensure_future(self._stopping.wait())
            await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not fetch.done():  # stopping while the long poll waits: nothing fetched is lost
                fetch.cancel()
                await asyncio.gather(fetch, return_exceptions=True)
                return
            stopping.cancel()
            try:
                batch = fetch.result()
            except RetryAfter as exc:
                log.warning("telegram: getUpdates flood wait %ss", exc.retry_after)
                await self._pause(_seconds(exc.retry_after))
                continue
            except Exception as exc:  # network, 5xx, 409 Conflict, an unreadable answer
                failures += 1
                delay = min(30.0, self._retry_delay * 2 ** min(failures, 6))
                log.warning("telegram: getUpdates failed (%s); retrying in %.1fs",
                            short(f"{type(exc).__name__}: {exc}", 200), delay)
                await self._pause(delay)
                continue
            failures = 0
            if not isinstance(batch, list):
                log.warning("telegram: getUpdates answered %s, not a list", type(batch).__name__)
                await self._pause(self._retry_delay)
                continue
            # Started in order, so events reach the single writer in Telegram's order.
            done = await asyncio.gather(*(self.inbox.take(raw) for raw in batch))
            ids = [uid for raw in batch if (uid := update_id_of(raw)) is not None]
            if all(done) and ids:
                self._offset = max(ids) + 1  # confirms the whole batch on the next call
            elif not all(done):
                log.warning("telegram: %d of %d updates not stored; fetching them again",
                            done.count(False), len(batch))
                await self._pause(self._retry_delay)
            elif batch:  # nothing with an id to confirm: do not spin on it
                await self._pause(self._retry_delay)

    # -- webhook ------------------------------------------------------------------------
    async def _start_webhook(self) -> None:
        tg = self.settings.telegram
        path = "/" + urlsplit(tg.webhook_url).path.lstrip("/")
        app = web.Application(client_max_size=self._max_body)
        app.router.add_post(path, self._on_webhook)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=30)
        await runner.setup()
        await web.TCPSite(runner, tg.listen, tg.port).start()
        self._web = runner
        await self._app.bot.set_webhook(
            url=tg.webhook_url, secret_token=self._secret, allowed_updates=list(ALLOWED_UPDATES),
            drop_pending_updates=False,
        )

    async def _on_webhook(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "replace")
        if not hmac.compare_digest(given, self._secret.encode()):
            return web.Response(status=403)
        if self._stopping.is_set():
            return web.Response(status=503)  # Telegram retries later
        # Shielded: a dropped connection must not cancel a commit half-way through its handlers.
        ok = await asyncio.shield(self._take_body(request))
        return web.Response(status=200 if ok else 500)

    async def _take_body(self, request: web.Request) -> bool:
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return await self.inbox.quarantine(
                {"content_length": request.content_length}, None,
                f"webhook body larger than {self._max_body} bytes")
        try:
            raw = json.loads(body)
        except RecursionError:
            return await self.inbox.quarantine(body[:500].decode("utf-8", "replace"), None, "nested too deeply")
        except ValueError as exc:
            return await self.inbox.quarantine(body[:500].decode("utf-8", "replace"), None,
                                               f"not JSON: {short(str(exc), 120)}")
        return await self.inbox.take(raw)

    # -- self-check -----------------------------------------------------------------------
    def _webhook_problem(self) -> str:
        tg = self.settings.telegram
        if not tg.webhook_url:
            return "telegram.mode is webhook but telegram.webhook_url is empty: set the public https URL"
        if not self._secret:
            return (f"telegram.mode is webhook but {SECRET_ENV} is not set: export a random "
                    "string of letters, digits, _ and - (e.g. `openssl rand -hex 32`)")
        if not _SECRET_OK.match(self._secret):
            return f"{SECRET_ENV} may only hold A-Z, a-z, 0-9, _ and - (1-256 characters)"
        return ""

    async def doctor(self) -> list[Finding]:
        """Check token, privacy mode, webhook settings and admin rights in known groups.

        Each problem comes with its fix. Never raises (a failure is itself a finding).
        """
        findings: list[Finding] = []
        bot = self._app.bot
        started_here = not self._running
        try:
            await bot.initialize()  # getMe; a no-op when already running
            me = bot.bot
        except InvalidToken:
            await bot.shutdown()
            return [Finding("telegram token", Severity.ERROR, "Telegram rejected the token", TOKEN_INVALID)]
        except TelegramError as exc:
            await bot.shutdown()
            return [Finding("telegram reachable", Severity.ERROR, f"cannot reach the Bot API: {exc}",
                            "check the network / telegram.base_url")]
        try:
            findings.append(Finding("telegram token", Severity.OK, f"logged in as @{me.username}"))
            if me.can_read_all_group_messages:
                findings.append(Finding("telegram privacy mode", Severity.OK, "off: the bot sees group messages"))
            else:
                findings.append(Finding("telegram privacy mode", Severity.ERROR, PRIVACY_ON, PRIVACY_FIX))
            if self.settings.telegram.mode == "webhook":
                findings.extend(await self._doctor_webhook())
            if self._known_chats is not None:
                findings.extend(await self._doctor_chats(me.id))
        finally:
            if started_here:
                await bot.shutdown()
        return findings

    async def _doctor_webhook(self) -> list[Finding]:
        out: list[Finding] = []
        problem = self._webhook_problem()
        if problem:
            out.append(Finding("telegram webhook", Severity.ERROR, problem, problem.split(": ", 1)[-1]))
        url = self.settings.telegram.webhook_url
        if url and not url.startswith("https://"):
            out.append(Finding("telegram webhook url", Severity.ERROR, f"{url} is not https",
                               "Telegram only posts to https URLs on ports 443, 80, 88 or 8443"))
        try:
            info = await self._app.bot.get_webhook_info()
        except TelegramError as exc:
            out.append(Finding("telegram webhook", Severity.WARNING, f"getWebhookInfo failed: {exc}"))
            return out
        if info.last_error_message:
            out.append(Finding("telegram webhook", Severity.WARNING,
                               f"Telegram's last delivery failed: {info.last_error_message}",
                               "check the reverse proxy forwards to telegram.listen:telegram.port"))
        elif not problem:
            out.append(Finding("telegram webhook", Severity.OK, f"{info.url or url} ({info.pending_update_count} pending)"))
        return out

    async def _doctor_chats(self, bot_id: int) -> list[Finding]:
        assert self._known_chats is not None
        out: list[Finding] = []
        try:
            chats = await self._known_chats()
        except Exception as exc:
            return [Finding("telegram groups", Severity.WARNING, f"could not list known groups: {exc}")]
        for chat_id in chats:
            check = f"telegram group {chat_id}"
            try:
                member = await self._app.bot.get_chat_member(chat_id=int(chat_id), user_id=bot_id)
            except (Forbidden, TelegramError, ValueError) as exc:
                out.append(Finding(check, Severity.WARNING, f"cannot check the bot there: {exc}",
                                   "the bot was probably removed; add it again or ignore this group"))
                continue
            lacking = [(label, why) for right, (label, why) in MODERATION_RIGHTS.items()
                       if not getattr(member, right, False)]
            if member.status == ChatMemberStatus.ADMINISTRATOR and lacking:
                out.append(Finding(
                    check, Severity.WARNING,
                    "the bot is an administrator without " + " and ".join(
                        f"the '{label}' right ({why} will be refused)" for label, why in lacking),
                    "group settings → Administrators → the bot → turn on "
                    + " and ".join(f"'{label}'" for label, _ in lacking)))
            elif member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER):
                out.append(Finding(check, Severity.OK, "the bot is an administrator with the rights moderation "
                                                        "needs (Ban users, Delete messages)"))
            elif member.status in (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED):
                out.append(Finding(check, Severity.WARNING, "the bot is no longer in this group",
                                   "add the bot again, as an administrator"))
            else:
                out.append(Finding(check, Severity.WARNING,
                                   "the bot is not an administrator: reactions and join/leave are not seen",
                                   NOT_ADMIN_FIX))
        return out


def _seconds(value: Any) -> float:
    try:
        return max(0.0, float(value.total_seconds() if hasattr(value, "total_seconds") else value))
    except (TypeError, ValueError):
        return 1.0


def _file_url(base_url: str) -> str:
    """``…/bot`` → ``…/file/bot`` (how Bot API servers lay out file downloads)."""
    return base_url[: -len("/bot")] + "/file/bot" if base_url.endswith("/bot") else base_url + "/file/bot"
