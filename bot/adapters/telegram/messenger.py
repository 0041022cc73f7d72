"""The Messenger port over a python-telegram-bot ``Bot``: sends, retries, maps errors.

PTB types stay in here; callers see only :mod:`bot.ports` words.
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from telegram import (
    Bot,
    ChatPermissions,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    ReplyParameters,
)
from telegram.constants import ChatMemberStatus, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.warnings import PTBDeprecationWarning

from bot.markup import to_plain
from bot.ports import (
    Button,
    Capability,
    ChatRef,
    NotReachable,
    PlatformError,
    Purged,
    Role,
    SentMessage,
)
from engine.args import is_ascii_id
from engine.events import Event, Platform

from .text import CAPTION_LIMIT, MESSAGE_LIMIT, cut_markup, fit_message

log = logging.getLogger(__name__)
T = TypeVar("T")

ReachabilityHook = Callable[[str, str, bool], Awaitable[None]]
"""``(platform, user_id, reachable)``: called when a DM works, fails for good, or a member
opens the bot privately. Errors in it are logged, never raised."""

CALLBACK_DATA_LIMIT = 64  # bytes, Telegram's limit on callback_data
# Telegram takes a restriction ending < 30 s or > 366 days from now as "forever"; the
# margins keep request time and clock skew from turning a timed mute into a permanent one.
RESTRICT_MIN = timedelta(seconds=60)
RESTRICT_MAX = timedelta(days=365)
# Flood control concerns what the bot does, not what it reads: reads neither set nor honour
# the shared pause (a command's role check must not wait behind a flood wait).
_READS = frozenset({"getChatMember", "getChat", "getChatAdministrators", "getMe"})
# Methods whose 400 goes back to the caller as _Refused, to retry differently or explain.
_REFUSALS_TO_CALLER = frozenset({"sendMessage", "restrictChatMember", "banChatMember", "unbanChatMember",
                                 "deleteMessages"})
# Bots may delete a group message only while it is younger than 48 hours; a minute's margin.
DELETE_MAX_AGE = timedelta(hours=48) - timedelta(minutes=1)
DELETE_BATCH = 100  # deleteMessages takes 1..100 ids


class TelegramMessenger:
    """Implements :class:`bot.ports.Messenger` for Telegram.

    ``max_attempts`` bounds tries per call for flood waits (429), 5xx and network errors;
    ``retry_delay`` is the first back-off (doubling); a 429 waits the ``retry_after`` it names
    unless that exceeds ``max_retry_after``. A 429 also pauses every other call that acts
    (sends, edits, mutes, ...; not reads) until its ``retry_after`` has passed; a call that
    would have to wait longer than ``max_retry_after`` fails at once instead.
    ``sleep`` and ``clock`` are injectable for tests.
    """

    platform = Platform.TELEGRAM
    capabilities = frozenset({
        Capability.REPLY, Capability.SEND, Capability.DM, Capability.PICTURE,
        Capability.DOCUMENT, Capability.BUTTONS, Capability.EDIT, Capability.MODERATE,
    })

    def __init__(
        self,
        bot: Bot,
        *,
        role_cache_seconds: float = 300,
        on_reachability: ReachabilityHook | None = None,
        max_attempts: int = 4,
        retry_delay: float = 0.5,
        max_retry_after: float = 60.0,
        max_parts: int = 3,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bot = bot
        self.role_cache_seconds = role_cache_seconds
        self.on_reachability = on_reachability
        self.max_attempts = max(1, max_attempts)
        self.retry_delay = retry_delay
        self.max_retry_after = max_retry_after
        self.max_parts = max_parts
        self._sleep = sleep
        self._clock = clock
        self._roles: dict[tuple[str, str], tuple[Role, float]] = {}
        self._moved: dict[str, str] = {}  # group id → its supergroup id, learnt from ChatMigrated
        self._reachable: dict[str, bool] = {}  # last value reported, to skip repeat writes
        self._not_before = float("-inf")  # on ``clock``: no acting call starts before this (429)

    def private_chat_link(self, payload: str) -> str | None:
        """``https://t.me/<bot>?start=<payload>`` (:class:`bot.ports.DeepLinks`): opening it
        starts the private chat that makes DMs possible. None before getMe."""
        try:
            username = self.bot.username
        except RuntimeError:  # not initialised yet
            return None
        return f"https://t.me/{username}?start={payload}" if username else None

    # -- Messenger ------------------------------------------------------------------------
    def _target(self, chat_id: str) -> int | str:
        """Where to send for ``chat_id``: its supergroup if the group has moved."""
        return _chat_id(self._moved.get(chat_id, chat_id))

    async def reply(self, to: Event, text: str, *, buttons: Sequence[Button] = ()) -> SentMessage:
        """Answer ``to`` in its chat and topic, as a reply to its message when it has one.

        Raises PlatformError when Telegram keeps failing (for a private chat that blocked
        the bot: NotReachable).
        """
        chat = ChatRef.of(to)
        reply_to = int(to.message_id) if to.message_id and to.message_id.lstrip("-").isascii() and to.message_id.lstrip("-").isdigit() else None
        dm_user = to.chat_id if to.is_private else None
        return await self._send_text(chat, text, buttons, reply_to=reply_to, dm_user=dm_user)

    async def send(self, chat: ChatRef, text: str, *, buttons: Sequence[Button] = ()) -> SentMessage:
        """Post ``text`` in ``chat`` (its topic when ``thread_id`` is set). Raises PlatformError."""
        return await self._send_text(chat, text, buttons)

    async def dm(self, user_id: str, text: str, *, buttons: Sequence[Button] = ()) -> SentMessage:
        """Message a member privately.

        Raises NotReachable if they never opened the bot, blocked it or were deleted
        (recorded through the reachability hook, not retried); PlatformError otherwise.
        """
        chat = ChatRef(self.platform, "", user_id)
        return await self._send_text(chat, text, buttons, dm_user=user_id)

    async def send_picture(self, chat: ChatRef, png: bytes, caption: str = "") -> SentMessage:
        """Send a PNG with a caption (cut to Telegram's 1024). Raises PlatformError / NotReachable."""
        dm_user = chat.chat_id if not chat.community_id and not chat.chat_id.startswith("-") else None
        msg = await self._call(
            "sendPhoto",
            lambda: self.bot.send_photo(
                chat_id=self._target(chat.chat_id), photo=InputFile(png, filename="chart.png"),
                caption=cut_markup(caption, CAPTION_LIMIT) or None,
                parse_mode=ParseMode.HTML if caption else None,
                message_thread_id=_thread(chat.thread_id),
            ),
            dm_user=dm_user, idempotent=False, chat=chat.chat_id,
        )
        return SentMessage(chat, str(msg.message_id))

    async def dm_picture(self, user_id: str, png: bytes, *, filename: str = "chart.png",
                         caption: str = "") -> SentMessage:
        """DM a PNG shown inline (sendPhoto). Raises NotReachable (recorded) or PlatformError."""
        msg = await self._call(
            "sendPhoto",
            lambda: self.bot.send_photo(
                chat_id=_chat_id(user_id), photo=InputFile(png, filename=filename),
                caption=cut_markup(caption, CAPTION_LIMIT) or None,
                parse_mode=ParseMode.HTML if caption else None,
            ),
            dm_user=user_id, idempotent=False,
        )
        await self._report(user_id, True)
        return SentMessage(ChatRef(self.platform, "", user_id), str(msg.message_id))

    async def send_document(self, user_id: str, filename: str, data: bytes, caption: str = "") -> SentMessage:
        """DM a file. Raises NotReachable (recorded) or PlatformError."""
        msg = await self._call(
            "sendDocument",
            lambda: self.bot.send_document(
                chat_id=_chat_id(user_id), document=InputFile(data, filename=filename),
                caption=cut_markup(caption, CAPTION_LIMIT) or None,
                parse_mode=ParseMode.HTML if caption else None,
            ),
            dm_user=user_id, idempotent=False,
        )
        await self._report(user_id, True)
        return SentMessage(ChatRef(self.platform, "", user_id), str(msg.message_id))

    async def edit(self, message: SentMessage, text: str, *, buttons: Sequence[Button] = ()) -> None:
        """Replace a sent message's text and buttons; "not modified" is not an error.

        Raises PlatformError when Telegram refuses (e.g. the message is gone).
        """
        markup = _keyboard(buttons)
        body = cut_markup(text, MESSAGE_LIMIT)
        try:
            await self._call(
                "editMessageText",
                lambda: self.bot.edit_message_text(
                    chat_id=self._target(message.chat.chat_id), message_id=int(message.message_id),
                    text=body, parse_mode=ParseMode.HTML, reply_markup=markup,
                ),
                idempotent=True, chat=message.chat.chat_id,
            )
        except PlatformError as exc:
            if "message is not modified" in str(exc).lower():
                return
            raise

    async def role_of(self, community_id: str, user_id: str) -> Role:
        """creator → OWNER, administrator → ADMIN, anyone else (or any failure) → MEMBER.

        Cached per (community, user) for ``role_cache_seconds``. Never raises.
        """
        if not community_id or not user_id or not community_id.startswith("-"):
            return Role.MEMBER  # private chat or not a Telegram group id
        key = (community_id, user_id)
        now = self._clock()
        hit = self._roles.get(key)
        if hit is not None and hit[1] > now:
            return hit[0]
        try:
            member = await self._call(
                "getChatMember",
                lambda: self.bot.get_chat_member(chat_id=int(community_id), user_id=int(user_id)),
                idempotent=True,
            )
            roles: dict[str, Role] = {ChatMemberStatus.OWNER: Role.OWNER,
                                      ChatMemberStatus.ADMINISTRATOR: Role.ADMIN}
            role = roles.get(member.status, Role.MEMBER)
        except (PlatformError, NotReachable, ValueError) as exc:
            log.warning("telegram role lookup for %s in %s failed: %s", user_id, community_id, exc)
            role = Role.MEMBER
            now -= self.role_cache_seconds * 0.9  # cache a failure only briefly
        if len(self._roles) > 10_000:  # bounded: drop the oldest half
            for old in list(self._roles)[:5_000]:
                del self._roles[old]
        self._roles[key] = (role, now + self.role_cache_seconds)
        return role

    async def mute(self, community_id: str, user_id: str, *, until: datetime | None, reason: str) -> datetime | None:
        """Take every permission from ``user_id`` in the group until ``until`` (None: until lifted).

        A naive ``until`` is UTC. Telegram would make an end under 30 s or over 366 days
        away permanent, so a sooner end is raised to 1 minute from now and a later one cut to
        365 days. Returns the end actually set (aware UTC; None when indefinite) so the
        handler can say and audit it. ``reason`` is only logged: Telegram keeps none.

        Raises PlatformError with a short, human reason when ``until`` is not in the future,
        Telegram refuses (no rights, an admin or the owner, a basic group) or keeps failing.
        """
        chat, user = _group(community_id, "mute"), _user(user_id, "mute")
        end = _restriction_end(until)
        await self._moderate(
            "restrictChatMember", "mute", community_id,
            lambda: self.bot.restrict_chat_member(
                chat_id=self._target(chat), user_id=user, permissions=ChatPermissions.no_permissions(),
                until_date=end, use_independent_chat_permissions=True,
            ),
        )
        log.info("telegram: muted %s in %s until %s (%s)", user_id, community_id,
                 end.isoformat() if end else "lifted", reason or "no reason given")
        return end

    async def unmute(self, community_id: str, user_id: str) -> None:
        """Give ``user_id`` back every permission (the group's defaults still apply).

        Raises PlatformError with a short, human reason when Telegram refuses."""
        chat, user = _group(community_id, "unmute"), _user(user_id, "unmute")
        await self._moderate(
            "restrictChatMember", "unmute", community_id,
            lambda: self.bot.restrict_chat_member(
                chat_id=self._target(chat), user_id=user, permissions=ChatPermissions.all_permissions(),
                use_independent_chat_permissions=True,
            ),
        )
        log.info("telegram: unmuted %s in %s", user_id, community_id)

    async def ban(self, community_id: str, user_id: str, *, reason: str,
                  until: datetime | None = None) -> datetime | None:
        """Remove ``user_id`` from the group; they cannot rejoin by link until ``until``
        (None: for good). A timed ban is bounded like a mute (1 minute .. 365 days) and
        Telegram lifts it by itself; returns the end set (aware UTC) or None.

        ``reason`` is only logged. Raises PlatformError with a short, human reason when
        Telegram refuses (no rights, an admin or the owner) or keeps failing.
        """
        chat, user = _group(community_id, "ban"), _user(user_id, "ban")
        end = _restriction_end(until)
        await self._moderate(
            "banChatMember", "ban", community_id,
            lambda: self.bot.ban_chat_member(chat_id=self._target(chat), user_id=user, until_date=end),
        )
        self._roles.pop((community_id, user_id), None)
        log.info("telegram: banned %s from %s until %s (%s)", user_id, community_id,
                 end.isoformat() if end else "lifted", reason or "no reason given")
        return end

    async def unban(self, community_id: str, user_id: str) -> None:
        """Let a banned user back in (by link). Someone not banned is left as they are.

        Raises PlatformError with a short, human reason when Telegram refuses."""
        chat, user = _group(community_id, "unban"), _user(user_id, "unban")
        await self._moderate(
            "unbanChatMember", "unban", community_id,
            lambda: self.bot.unban_chat_member(chat_id=self._target(chat), user_id=user, only_if_banned=True),
        )
        self._roles.pop((community_id, user_id), None)
        log.info("telegram: unbanned %s in %s", user_id, community_id)

    async def kick(self, community_id: str, user_id: str, *, reason: str) -> None:
        """Remove ``user_id`` from the group; they may come back by invite link (Telegram's
        kick is a ban lifted at once). Raises PlatformError like :meth:`ban`."""
        chat, user = _group(community_id, "kick"), _user(user_id, "kick")
        await self._moderate(
            "banChatMember", "kick", community_id,
            lambda: self.bot.ban_chat_member(chat_id=self._target(chat), user_id=user),
        )
        await self._moderate(
            "unbanChatMember", "kick", community_id,
            lambda: self.bot.unban_chat_member(chat_id=self._target(chat), user_id=user, only_if_banned=True),
        )
        self._roles.pop((community_id, user_id), None)
        log.info("telegram: kicked %s from %s (%s)", user_id, community_id, reason or "no reason given")

    async def delete_messages(self, chat: ChatRef, messages: Sequence[tuple[str, datetime]]) -> Purged:
        """Delete messages with deleteMessages, 100 per call. Telegram lets bots delete
        only messages younger than 48 hours: older ones are counted in ``too_old`` and not
        sent. Raises PlatformError (e.g. without the "Delete messages" right)."""
        oldest = datetime.now(UTC) - DELETE_MAX_AGE
        ids = [int(mid) for mid, at in messages
               if is_ascii_id(mid.lstrip("-")) and _aware(at) >= oldest]
        too_old = len(messages) - len(ids)
        for start in range(0, len(ids), DELETE_BATCH):
            batch = ids[start:start + DELETE_BATCH]

            def delete(b: list[int] = batch) -> Awaitable[bool]:
                return self.bot.delete_messages(chat_id=self._target(chat.chat_id), message_ids=b)

            await self._moderate("deleteMessages", "delete", chat.chat_id, delete)
        return Purged(len(ids), too_old)

    # -- used by the adapter ---------------------------------------------------------------
    async def answer_click(self, click_id: str, text: str = "") -> None:
        """Stop the client's loading spinner for a button click. Logs failures, never raises."""
        try:
            await self._call(
                "answerCallbackQuery",
                lambda: self.bot.answer_callback_query(click_id, text=text or None),
                idempotent=True, attempts=1,
            )
        except (PlatformError, NotReachable) as exc:
            log.info("telegram: answerCallbackQuery %s failed: %s", click_id, exc)

    async def mark_reachable(self, user_id: str) -> None:
        """Record that ``user_id`` opened the bot privately (so DMs will work)."""
        await self._report(user_id, True)

    async def set_reachable(self, user_id: str, reachable: bool) -> None:
        """Record a known DM reachability change (e.g. the member blocked the bot)."""
        await self._report(user_id, reachable)

    # -- internals -----------------------------------------------------------------------
    async def _send_text(
        self, chat: ChatRef, text: str, buttons: Sequence[Button], *,
        reply_to: int | None = None, dm_user: str | None = None,
    ) -> SentMessage:
        parts = fit_message(text, self.max_parts)
        markup = _keyboard(buttons)
        first: Message | None = None
        thread = _thread(chat.thread_id)
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            msg, thread = await self._send_one(
                chat, part, thread, reply_to if i == 0 else None,
                markup if last else None, dm_user,
            )
            first = first or msg
        assert first is not None
        if dm_user is not None:
            await self._report(dm_user, True)
        return SentMessage(chat, str(first.message_id))

    async def _send_one(
        self, chat: ChatRef, text: str, thread: int | None, reply_to: int | None,
        markup: InlineKeyboardMarkup | None, dm_user: str | None,
    ) -> tuple[Message, int | None]:
        parse_mode: str | None = ParseMode.HTML
        body = text
        for _ in range(3):  # at most: as asked, without the topic, as plain text
            def send(b: str = body, p: str | None = parse_mode, t: int | None = thread) -> Awaitable[Message]:
                return self.bot.send_message(
                    chat_id=self._target(chat.chat_id), text=b, parse_mode=p,
                    message_thread_id=t, reply_markup=markup,
                    reply_parameters=(ReplyParameters(reply_to, allow_sending_without_reply=True)
                                      if reply_to is not None else None),
                )
            try:
                msg = await self._call("sendMessage", send, dm_user=dm_user, idempotent=False, chat=chat.chat_id)
                return msg, thread
            except _Refused as exc:
                reason = exc.reason.lower()
                if thread is not None and "thread not found" in reason:
                    log.warning("telegram topic %s in %s is gone; posting in General", thread, chat.chat_id)
                    thread = None  # the topic was deleted or closed: say it in General
                    continue
                if parse_mode is not None and "can't parse entities" in reason:
                    log.warning("telegram refused our HTML (%s); sending plain text", exc.reason)
                    body, parse_mode = to_plain(body), None
                    continue
                raise PlatformError(f"sendMessage to {chat.chat_id} refused: {exc.reason}") from exc
        raise PlatformError(f"sendMessage to {chat.chat_id} refused repeatedly")

    async def _moderate(self, method: str, verb: str, community_id: str, fn: Callable[[], Awaitable[bool]]) -> None:
        try:
            await self._call(method, fn, idempotent=True, chat=community_id)  # same result if repeated
        except _Refused as exc:
            raise PlatformError(_moderation_refusal(verb, exc.reason)) from exc

    async def _flood_gate(self, method: str, waited_for: float) -> float:
        """Wait out the shared flood pause; returns the deadline now waited for.

        ``waited_for`` is the deadline this call already slept through, so a sleep that does
        not move ``clock`` (tests) cannot loop; a pause extended meanwhile is waited again.
        Raises PlatformError when the pause is longer than ``max_retry_after``.
        """
        while self._not_before > waited_for:
            deadline = self._not_before
            wait = deadline - self._clock()
            if wait <= 0:
                break
            if wait > self.max_retry_after:
                raise PlatformError(f"{method}: flood control, retry after {wait:.0f}s")
            log.info("telegram %s: flood control pause, waiting %.1fs", method, wait)
            waited_for = deadline
            await self._sleep(wait)
        return waited_for

    async def _call(
        self, method: str, fn: Callable[[], Awaitable[T]], *, dm_user: str | None = None,
        idempotent: bool = True, attempts: int | None = None, chat: str | None = None,
    ) -> T:
        """Run one Bot API call with bounded retries and Cohort's error mapping.

        429 → pause every acting call for ``retry_after``, wait it here (bounded) and retry;
        5xx/network → back off and retry; a timeout is retried only for idempotent calls (a
        send may have landed already); 403 on a DM → NotReachable; a 400 → ``_Refused`` for
        sends and moderation (callers adapt or explain) or PlatformError; anything still
        failing after the last attempt → PlatformError.
        """
        tries = attempts or self.max_attempts
        delay = self.retry_delay
        gated = method not in _READS
        waited_for = float("-inf")
        for attempt in range(1, tries + 1):
            try:
                if gated:
                    waited_for = await self._flood_gate(method, waited_for)
                return await fn()
            except RetryAfter as exc:
                wait = _retry_after(exc)
                if gated:
                    until = self._clock() + wait
                    self._not_before = max(self._not_before, until)
                    waited_for = until  # this call sleeps it below; a longer pause is waited next
                if wait > self.max_retry_after or attempt == tries:
                    raise PlatformError(f"{method}: flood control, retry after {wait:.0f}s") from exc
                log.warning("telegram %s: flood control (429), waiting %.1fs (attempt %d)", method, wait, attempt)
                await self._sleep(wait)
            except Forbidden as exc:
                if dm_user is not None:
                    await self._report(dm_user, False)
                    raise NotReachable(dm_user, exc.message) from exc
                raise PlatformError(f"{method}: forbidden: {exc.message}") from exc
            except InvalidToken as exc:
                raise PlatformError(f"{method}: TELEGRAM_TOKEN was rejected") from exc
            except ChatMigrated as exc:
                # The group became a supergroup: remember its new id; ``fn`` reads the
                # target through _target, so the next attempt goes there.
                if chat is None or attempt == tries:
                    raise PlatformError(f"{method}: the group became supergroup {exc.new_chat_id}") from exc
                self._moved[chat] = str(exc.new_chat_id)
                log.info("telegram: group %s became supergroup %s; resending there", chat, exc.new_chat_id)
            except BadRequest as exc:
                if dm_user is not None and "chat not found" in exc.message.lower():
                    await self._report(dm_user, False)
                    raise NotReachable(dm_user, exc.message) from exc
                if method in _REFUSALS_TO_CALLER:
                    raise _Refused(exc.message) from exc
                raise PlatformError(f"{method}: {exc.message}") from exc
            except TimedOut as exc:
                if not idempotent or attempt == tries:
                    raise PlatformError(f"{method}: timed out") from exc
                log.info("telegram %s timed out (attempt %d); retrying", method, attempt)
                await self._sleep(delay)
                delay *= 2
            except NetworkError as exc:  # 5xx, connection resets
                if attempt == tries:
                    raise PlatformError(f"{method} failed after {tries} attempts: {exc.message}") from exc
                log.info("telegram %s failed (%s), attempt %d; retrying", method, exc.message, attempt)
                await self._sleep(delay)
                delay *= 2
            except TelegramError as exc:
                raise PlatformError(f"{method}: {exc.message}") from exc
        raise PlatformError(f"{method}: no attempts made")  # only with attempts=0

    async def _report(self, user_id: str, reachable: bool) -> None:
        if self.on_reachability is None or self._reachable.get(user_id) is reachable:
            return
        self._reachable[user_id] = reachable
        if len(self._reachable) > 50_000:
            self._reachable.clear()
        try:
            await self.on_reachability(str(self.platform), user_id, reachable)
        except Exception:
            self._reachable.pop(user_id, None)  # try again next time
            log.exception("telegram: recording DM reachability of %s failed", user_id)


class _Refused(Exception):
    """A 400 on a send or a moderation call, kept apart so the caller can retry differently
    or explain it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _retry_after(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that the type becomes timedelta later
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value: int | float | timedelta = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _restriction_end(until: datetime | None) -> datetime | None:
    """``until`` (aware UTC) within what Telegram keeps as a timed restriction; None stays
    None (indefinite). Raises PlatformError when it is not in the future."""
    if until is None:
        return None
    if until.tzinfo is None:
        until = until.replace(tzinfo=UTC)
    now = datetime.now(UTC)
    if until <= now:
        raise PlatformError("the mute must end in the future")
    end = min(max(until, now + RESTRICT_MIN), now + RESTRICT_MAX)
    return end.astimezone(UTC).replace(microsecond=0)  # whole seconds, as Telegram keeps it


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _group(community_id: str, verb: str) -> str:
    if not community_id or not community_id.startswith(("-", "@")):
        raise PlatformError(f"on Telegram, send /{verb} in the group itself")
    return community_id


def _user(user_id: str, verb: str) -> int:
    try:
        return int(user_id)
    except ValueError:
        raise PlatformError(f"{user_id!r} is not a Telegram user id, so I can't {verb} them") from None


def _moderation_refusal(verb: str, reason: str) -> str:
    """Telegram's 400 on restrictChatMember/banChatMember, said for a moderator."""
    said = reason.lower()
    done = {"mute": "muted", "ban": "banned", "kick": "kicked", "unmute": "unmuted",
            "unban": "unbanned"}.get(verb, verb)
    if verb == "delete":
        if "rights" in said or "can't be deleted" in said:
            return ("I'm not allowed to delete messages here: a group admin must make me an admin "
                    "with the “Delete messages” right.")
        return f"Telegram said: {reason.removeprefix('Bad Request: ')}"
    if "not enough rights" in said or "have no rights" in said:
        return (f"I'm not allowed to {verb} members here: a group admin must make me an admin "
                "with the “Ban users” right.")
    if "owner" in said:
        return f"the group's owner can't be {done}."
    if "administrator" in said or "can't restrict chat admin" in said:
        return f"they are an admin of this group; remove their admin rights first, then {verb} them."
    if "supergroup" in said:
        return (f"Telegram can {verb} members only in supergroups, and this is a basic group. "
                "Upgrade it (e.g. group settings → Chat history for new members → Visible) and try again.")
    if "user not found" in said or "participant_id_invalid" in said or "member not found" in said:
        return "they are not a member of this group."
    if "can't restrict self" in said or "can't remove self" in said:
        return f"I can't {verb} myself."
    return f"Telegram said: {reason.removeprefix('Bad Request: ')}"


def _chat_id(value: str) -> int | str:
    try:
        return int(value)
    except ValueError:
        return value  # "@channelusername"


def _thread(thread_id: str | None) -> int | None:
    return int(thread_id) if thread_id else None


def _keyboard(buttons: Sequence[Button]) -> InlineKeyboardMarkup | None:
    """One button per row, except up to three short ones side by side."""
    if not buttons:
        return None
    keys: list[InlineKeyboardButton] = []
    for b in buttons:
        if b.url:
            keys.append(InlineKeyboardButton(b.label, url=b.url))
        else:
            if len(b.data.encode()) > CALLBACK_DATA_LIMIT:
                raise PlatformError(f"button data {b.data[:20]!r}… is over Telegram's 64 bytes")
            keys.append(InlineKeyboardButton(b.label, callback_data=b.data or b.label[:32]))
    if len(keys) <= 3 and sum(len(b.label) for b in buttons) <= 30:
        return InlineKeyboardMarkup([keys])
    return InlineKeyboardMarkup([[k] for k in keys])
