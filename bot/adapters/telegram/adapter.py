"""The Telegram adapter: a python-telegram-bot Application run on the process's own loop.

Lifecycle is PTB v22's explicit one (initialize → start → updater.start_polling /
start_webhook, and the reverse on stop), never ``run_polling()``, so Telegram shares the
one event loop with discord.py and the scheduler.

Every update goes through :func:`to_events`; each event is handed to ``dispatch`` in its
own task so that many can wait on the store's group commit at once. Tasks are created in
update order and the router submits an event to the single writer before its first
suspension, so events still reach the store in the order Telegram sent them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from telegram import Update
from telegram.constants import ChatMemberStatus
from telegram.error import Forbidden, InvalidToken, TelegramError
from telegram.ext import AIORateLimiter, Application, ContextTypes, TypeHandler

from bot.adapters.base import Dispatch, Finding, Severity
from bot.adapters.telegram.logs import quiet_handled_flood_waits
from bot.settings import Settings
from engine.events import ButtonClicked, Event

from .messenger import ReachabilityHook, TelegramMessenger
from .updates import ALLOWED_UPDATES, dm_status_change, to_events

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
SECRET_ENV = "TELEGRAM_WEBHOOK_SECRET"
_SECRET_OK = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
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

    ``known_chats`` lists group chat ids for :meth:`doctor` (see
    :func:`bot.adapters.telegram.chats.known_group_chats`); ``on_reachability`` records DM
    reachability (see :func:`engine.members.reachability.reachability_hook`).
    The remaining keywords tune limits and retries (tests make them tiny).
    """

    name = "telegram"

    def __init__(
        self,
        settings: Settings,
        dispatch: Dispatch,
        *,
        known_chats: KnownChats | None = None,
        on_reachability: ReachabilityHook | None = None,
        webhook_secret: str | None = None,
        overall_rate: float = 30,
        group_rate_per_minute: float = 20,
        max_in_flight: int = 64,
        recent_updates: int = 4096,
        poll_timeout: int = 10,
        max_attempts: int = 4,
        retry_delay: float = 0.5,
        request_timeout: float = 10.0,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        if settings.telegram_token is None:
            raise RuntimeError(TOKEN_MISSING)
        self.settings = settings
        self._dispatch = dispatch
        self._known_chats = known_chats
        self._secret = webhook_secret if webhook_secret is not None else os.environ.get(SECRET_ENV, "")
        self._poll_timeout = poll_timeout
        self._recent: OrderedDict[int, None] = OrderedDict()
        self._recent_max = recent_updates
        self._slots = asyncio.Semaphore(max(1, max_in_flight))
        self._tasks: set[asyncio.Task[None]] = set()
        self.bot_username = ""
        self.bot_id = 0
        self.updates_seen = 0
        self.updates_skipped = 0  # redeliveries caught by the update_id LRU
        self._running = False

        quiet_handled_flood_waits()  # the messenger below handles 429s and logs them once
        builder = (
            Application.builder()
            .token(settings.telegram_token.get_secret_value())
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
        self._app.add_handler(TypeHandler(Update, self._on_update))
        self._app.add_error_handler(self._on_error)
        self.messenger = TelegramMessenger(
            self._app.bot,
            role_cache_seconds=settings.telegram.role_cache_seconds,
            on_reachability=on_reachability,
            max_attempts=max_attempts,
            retry_delay=retry_delay,
            sleep=sleep,
        )

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
        await self._app.start()
        assert self._app.updater is not None
        if tg.mode == "webhook":
            await self._app.updater.start_webhook(
                listen=tg.listen, port=tg.port, url_path=urlsplit(tg.webhook_url).path.lstrip("/"),
                webhook_url=tg.webhook_url, secret_token=self._secret,
                allowed_updates=list(ALLOWED_UPDATES), drop_pending_updates=False,
            )
        else:
            await self._app.updater.start_polling(
                poll_interval=0.0, timeout=self._poll_timeout,
                allowed_updates=list(ALLOWED_UPDATES), drop_pending_updates=False,
                error_callback=self._polling_error,
            )
        self._running = True
        log.info("telegram: @%s running (%s)", self.bot_username, tg.mode)

    async def stop(self) -> None:
        """Stop fetching, let queued updates and in-flight dispatches finish, disconnect."""
        updater = self._app.updater
        if updater is not None and updater.running:
            await updater.stop()
        if self._app.running:
            await self._app.stop()  # processes what is already in PTB's update queue
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self._app.shutdown()
        self._running = False

    async def drain(self) -> None:
        """Wait until every dispatch started so far has finished (tests, benchmarks)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- updates ------------------------------------------------------------------------
    def _seen(self, update_id: int) -> bool:
        if self._recent_max <= 0:
            return False
        if update_id in self._recent:
            return True
        self._recent[update_id] = None
        if len(self._recent) > self._recent_max:
            self._recent.popitem(last=False)
        return False

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self.updates_seen += 1
        if self._seen(update.update_id):
            self.updates_skipped += 1
            return
        await self.handle_raw(update.to_dict())

    async def handle_raw(self, raw: dict[str, Any]) -> int:
        """Convert one raw update and start dispatching its events; returns how many.

        Waits only when ``max_in_flight`` dispatches are already running (back-pressure).
        """
        events = to_events(raw, self.bot_username, self.bot_id)
        if (blocked := dm_status_change(raw)) is not None:
            await self.messenger.set_reachable(*blocked)  # blocked / unblocked in private
        for event in events:
            await self._slots.acquire()
            task = asyncio.create_task(self._deliver(event))
            self._tasks.add(task)
            task.add_done_callback(self._finished)
        return len(events)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()

    async def _deliver(self, event: Event) -> None:
        try:
            await self._dispatch(event, self.messenger)
        except Exception:  # one bad event must never stop the others
            log.exception("telegram: dispatching %s failed", event.dedup_key)
        finally:
            if isinstance(event, ButtonClicked) and event.click_id:
                await self.messenger.answer_click(event.click_id)
        if event.is_private and event.user_id:
            await self.messenger.mark_reachable(event.user_id)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram: error while handling an update", exc_info=context.error)

    def _polling_error(self, exc: TelegramError) -> None:
        log.warning("telegram: polling error (PTB retries): %s", exc)

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
            if member.status == ChatMemberStatus.ADMINISTRATOR and not getattr(member, "can_restrict_members", False):
                out.append(Finding(check, Severity.WARNING,
                                   "the bot is an administrator without the 'Ban users' right: /mute and /ban "
                                   "will be refused", BAN_RIGHT_FIX))
            elif member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER):
                out.append(Finding(check, Severity.OK, "the bot is an administrator"))
            elif member.status in (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED):
                out.append(Finding(check, Severity.WARNING, "the bot is no longer in this group",
                                   "add the bot again, as an administrator"))
            else:
                out.append(Finding(check, Severity.WARNING,
                                   "the bot is not an administrator: reactions and join/leave are not seen",
                                   NOT_ADMIN_FIX))
        return out


def _file_url(base_url: str) -> str:
    """``…/bot`` → ``…/file/bot`` (how Bot API servers lay out file downloads)."""
    return base_url[: -len("/bot")] + "/file/bot" if base_url.endswith("/bot") else base_url + "/file/bot"
