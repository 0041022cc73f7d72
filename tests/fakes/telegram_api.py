"""A loopback fake of the Telegram Bot API, good enough for python-telegram-bot's real client.

Serves ``/bot<token>/<method>`` on 127.0.0.1, records every call, serves injected updates
through ``getUpdates`` (honouring ``offset`` and a short long-poll) and can be told to fail:
403 with Telegram's real descriptions, 429 with ``retry_after``, 400 with a description
(e.g. ``NO_RIGHTS`` on ``restrictChatMember``), 500, or just be slow.

``restrictChatMember``/``banChatMember`` answer as Telegram does for a basic group
(restricting needs a supergroup: a group id not starting with -100), the chat's owner and
its admins (see :meth:`FakeTelegram.set_status`); a ban leaves the member "kicked".

    async with FakeTelegram() as tg:
        settings.telegram.base_url = tg.base_url
        tg.push_update({...})
        await tg.wait_for("sendMessage")
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "424242:AAH-fake-token-for-tests_0123456789ab"
BOT_ID = 424242
BOT_USERNAME = "CohortTestBot"

# Descriptions exactly as Telegram sends them.
CANT_INITIATE = "Forbidden: bot can't initiate conversation with a user"
BLOCKED = "Forbidden: bot was blocked by the user"
KICKED = "Forbidden: bot was kicked from the supergroup chat"
NO_RIGHTS = "Bad Request: not enough rights to restrict/unrestrict chat member"
SUPERGROUPS_ONLY = "Bad Request: method is available only for supergroups"
IS_ADMIN = "Bad Request: user is an administrator of the chat"
IS_OWNER = "Bad Request: can't remove chat owner"

_JSON_FIELDS = {"reply_markup", "reply_parameters", "allowed_updates", "link_preview_options",
                "entities", "caption_entities", "commands", "scope", "permissions", "message_ids"}
_INT_FIELDS = {"chat_id", "message_id", "message_thread_id", "user_id", "offset", "limit",
               "timeout", "max_connections", "until_date"}


@dataclass
class Call:
    """One request the fake received."""

    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


@dataclass
class SendLimits:
    """Telegram's flood limits, enforced when given to :class:`FakeTelegram`: at most
    ``per_second`` sends in any sliding second overall and one per chat per
    ``per_chat_interval`` seconds; beyond, 429 with ``retry_after`` (whole seconds, as
    Telegram sends it). Only accepted sends count toward the window."""

    per_second: int = 30
    per_chat_interval: float = 1.0
    methods: frozenset[str] = frozenset({"sendMessage", "sendPhoto", "sendDocument"})


@dataclass
class Fault:
    """An injected failure: matches ``method`` (and ``chat_id`` if set) ``times`` times."""

    method: str
    status: int = 500
    description: str = "Internal Server Error"
    retry_after: int | None = None
    migrate_to_chat_id: int | None = None  # a group that became a supergroup
    chat_id: int | None = None
    times: int = 1
    delay: float = 0.0  # seconds to wait before answering (a slow server)


def _admin(user: dict[str, Any], status: str, granted: dict[str, bool] | None = None) -> dict[str, Any]:
    if status == "creator":
        return {"status": "creator", "user": user, "is_anonymous": False}
    rights = dict.fromkeys(
        ("can_be_edited", "is_anonymous", "can_manage_chat", "can_delete_messages",
         "can_manage_video_chats", "can_restrict_members", "can_promote_members", "can_change_info",
         "can_invite_users", "can_post_stories", "can_edit_stories", "can_delete_stories"), False)
    return {"status": "administrator", "user": user, **rights, "can_manage_chat": True, **(granted or {})}


class FakeTelegram:
    """The fake server. ``privacy_off``/``admins``/``faults`` shape its answers."""

    def __init__(self, *, token: str = TOKEN, privacy_off: bool = True, max_poll_wait: float = 0.2,
                 limits: SendLimits | None = None) -> None:
        self.token = token
        self.limits = limits
        self.too_many: list[Call] = []  # sends refused with 429 by ``limits``
        self.accepted_sends: list[Call] = []  # sends ``limits`` let through (time-stamped)
        self.blocked: set[int] = set()  # private chats answering 403 "bot was blocked by the user"
        self._window: collections.deque[float] = collections.deque()
        self._chat_last: dict[Any, float] = {}
        self.privacy_off = privacy_off
        self.max_poll_wait = max_poll_wait
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        self.statuses: dict[tuple[int, int], str] = {}  # (chat, user) → status; default member
        self.rights: dict[tuple[int, int], dict[str, bool]] = {}  # an administrator's granted rights
        self.webhook: dict[str, Any] = {}
        self.deleted: dict[int, list[int]] = {}  # chat → message ids deleted by deleteMessages
        self.served: dict[int, float] = {}  # update_id → monotonic time first served
        self.delivered: list[dict[str, Any]] = []  # every message the fake accepted (sent, not refused)
        self.confirmed_below = 0  # the highest getUpdates offset seen: every id below it is acknowledged
        self._pending: list[dict[str, Any]] = []
        self._forced: list[dict[str, Any]] = []
        self._arrived = asyncio.Event()
        self._called = asyncio.Event()
        self._message_ids = itertools.count(10_000)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self) -> FakeTelegram:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        self._arrived.set()  # release a pending long poll
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeTelegram:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    # -- driving it ---------------------------------------------------------------------
    def push_update(self, update: dict[str, Any]) -> None:
        """Queue an update for getUpdates (served once its id is at or past the offset)."""
        self._pending.append(update)
        self._arrived.set()

    def push_updates(self, updates: Iterable[dict[str, Any]], *, force: bool = False) -> None:
        """Queue many. ``force`` serves them even below the offset: a redelivery, as after a
        crash before Telegram saw the confirmation."""
        if force:
            self._forced.extend(updates)
        else:
            self._pending.extend(updates)
        self._arrived.set()

    def fail(self, method: str, **kw: Any) -> Fault:
        """Make the next call(s) to ``method`` fail; see :class:`Fault` for options."""
        fault = Fault(method, **kw)
        self.faults.append(fault)
        return fault

    def set_status(self, chat_id: int | str, user_id: int | str, status: str, **rights: bool) -> None:
        """Set a member's status; for an administrator, ``rights`` grants e.g. can_restrict_members."""
        self.statuses[(int(chat_id), int(user_id))] = status
        self.rights[(int(chat_id), int(user_id))] = rights

    def delivered_to(self, chat_id: int | str) -> list[dict[str, Any]]:
        """Messages accepted for ``chat_id`` (a refused or unanswered call is not one)."""
        return [m for m in self.delivered if str(m["chat"]["id"]) == str(chat_id)]

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    @property
    def pending(self) -> int:
        return len(self._pending) + len(self._forced)

    async def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        """Wait until ``method`` was called ``count`` times; returns those calls."""
        async def until() -> list[Call]:
            while len(found := self.calls_to(method)) < count:
                self._called.clear()
                await self._called.wait()
            return found
        return await asyncio.wait_for(until(), timeout)

    async def wait_drained(self, timeout: float = 10.0) -> None:
        """Wait until every queued update has been served."""
        async def until() -> None:
            while self.pending:
                self._called.clear()
                await self._called.wait()
        await asyncio.wait_for(until(), timeout)

    # -- the server ---------------------------------------------------------------------
    async def _params(self, request: web.Request) -> dict[str, Any]:
        raw: dict[str, Any] = {}
        if request.content_type == "application/json":
            raw = await request.json()
        elif request.can_read_body:
            form = await request.post()
            for key, part in form.items():
                if isinstance(part, web.FileField):
                    raw[key] = {"filename": part.filename, "bytes": part.file.read()}
                else:
                    raw[key] = part
        raw.update(request.query)
        params: dict[str, Any] = {}
        for key, value in raw.items():
            if isinstance(value, str) and key in _JSON_FIELDS:
                value = json.loads(value)
            elif isinstance(value, str) and key in _INT_FIELDS:
                value = int(value) if value.lstrip("-").isdigit() else value
            params[key] = value
        # PTB sends an attached file as attach://name pointing at a multipart part.
        for key, value in list(params.items()):
            if isinstance(value, str) and value.startswith("attach://"):
                params[key] = params.get(value[len("attach://"):], value)
        return params

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        params = await self._params(request)
        self.calls.append(Call(method, params))
        self._called.set()
        fault = self._fault(method, params)
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status:
                extra = {"retry_after": fault.retry_after} if fault.retry_after is not None else None
                if fault.migrate_to_chat_id is not None:
                    extra = {"migrate_to_chat_id": fault.migrate_to_chat_id}
                return _error(fault.status, fault.description, extra)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        if method.startswith("send") and params.get("chat_id") in self.blocked:
            return _error(403, BLOCKED)
        if self.limits is not None and method in self.limits.methods:
            refused = self._over_limit(params.get("chat_id"))
            if refused is not None:
                self.too_many.append(self.calls[-1])
                return _error(429, f"Too Many Requests: retry after {refused}", {"retry_after": refused})
            self.accepted_sends.append(self.calls[-1])
        result = await handler(params)
        if isinstance(result, web.Response):
            return result
        return web.json_response({"ok": True, "result": result})

    def _over_limit(self, chat_id: Any) -> int | None:
        """None when a send may go now (and count it), else the retry_after to answer."""
        assert self.limits is not None
        now = time.monotonic()
        while self._window and self._window[0] <= now - 1.0:
            self._window.popleft()
        last = self._chat_last.get(chat_id)
        if last is not None and now - last < self.limits.per_chat_interval:
            return max(1, math.ceil(self.limits.per_chat_interval - (now - last)))
        if len(self._window) >= self.limits.per_second:
            return max(1, math.ceil(self._window[0] + 1.0 - now))
        self._window.append(now)
        self._chat_last[chat_id] = now
        return None

    def _fault(self, method: str, params: dict[str, Any]) -> Fault | None:
        for fault in self.faults:
            if fault.method != method or fault.times <= 0:
                continue
            if fault.chat_id is not None and params.get("chat_id") != fault.chat_id:
                continue
            fault.times -= 1
            return fault
        return None

    # -- methods ------------------------------------------------------------------------
    def _me(self) -> dict[str, Any]:
        return {"id": BOT_ID, "is_bot": True, "first_name": "Cohort", "username": BOT_USERNAME,
                "can_join_groups": True, "can_read_all_group_messages": self.privacy_off,
                "supports_inline_queries": False, "can_connect_to_business": False,
                "has_main_web_app": False}

    async def _m_getMe(self, p: dict[str, Any]) -> Any:
        return self._me()

    async def _m_getUpdates(self, p: dict[str, Any]) -> Any:
        offset = int(p.get("offset") or 0)
        limit = int(p.get("limit") or 100)
        self.confirmed_below = max(self.confirmed_below, offset)
        wait = min(float(p.get("timeout") or 0), self.max_poll_wait)
        deadline = time.monotonic() + wait
        while True:
            if offset:
                self._pending = [u for u in self._pending if u["update_id"] >= offset]
            if self._pending or self._forced:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                return []
        if self._forced:
            batch, self._forced = self._forced[:limit], self._forced[limit:]
        else:
            batch = self._pending[:limit]
            # Served updates stay pending until a later offset confirms them, as on Telegram.
        now = time.monotonic()
        for u in batch:
            self.served.setdefault(u["update_id"], now)
        self._called.set()
        return batch

    async def _m_deleteWebhook(self, p: dict[str, Any]) -> Any:
        self.webhook = {}
        return True

    async def _m_setWebhook(self, p: dict[str, Any]) -> Any:
        self.webhook = dict(p)
        return True

    async def _m_getWebhookInfo(self, p: dict[str, Any]) -> Any:
        return {"url": self.webhook.get("url", ""), "has_custom_certificate": False,
                "pending_update_count": len(self._pending)}

    def _message(self, p: dict[str, Any], **extra: Any) -> dict[str, Any]:
        chat_id = p["chat_id"]
        chat = ({"id": chat_id, "type": "private", "first_name": "Member"} if isinstance(chat_id, int) and chat_id > 0
                else {"id": chat_id, "type": "supergroup", "title": "Group"})
        msg: dict[str, Any] = {"message_id": next(self._message_ids), "date": int(time.time()),
                               "chat": chat, "from": {"id": BOT_ID, "is_bot": True, "first_name": "Cohort",
                                                      "username": BOT_USERNAME}, **extra}
        if p.get("message_thread_id"):
            msg["message_thread_id"] = p["message_thread_id"]
            msg["is_topic_message"] = True
        if p.get("reply_markup"):
            msg["reply_markup"] = p["reply_markup"]
        self.delivered.append(msg)
        return msg

    async def _m_sendMessage(self, p: dict[str, Any]) -> Any:
        return self._message(p, text=p.get("text", ""))

    async def _m_sendPhoto(self, p: dict[str, Any]) -> Any:
        photo = [{"file_id": "AgAD", "file_unique_id": "p", "width": 10, "height": 10}]
        return self._message(p, photo=photo, **({"caption": p["caption"]} if p.get("caption") else {}))

    async def _m_sendDocument(self, p: dict[str, Any]) -> Any:
        doc = p.get("document")
        name = doc.get("filename") if isinstance(doc, dict) else "file"
        return self._message(p, document={"file_id": "BQAD", "file_unique_id": "d", "file_name": name})

    async def _m_editMessageText(self, p: dict[str, Any]) -> Any:
        msg = self._message(p, text=p.get("text", ""))
        msg["message_id"] = p["message_id"]
        return msg

    async def _m_answerCallbackQuery(self, p: dict[str, Any]) -> Any:
        return True

    def _member(self, chat_id: int, user_id: int) -> dict[str, Any]:
        user = ({"id": BOT_ID, "is_bot": True, "first_name": "Cohort", "username": BOT_USERNAME}
                if user_id == BOT_ID else {"id": user_id, "is_bot": False, "first_name": f"U{user_id}"})
        status = self.statuses.get((chat_id, user_id), "member")
        if status in ("creator", "administrator"):
            return _admin(user, status, self.rights.get((chat_id, user_id)))
        if status == "kicked":
            return {"status": "kicked", "user": user, "until_date": 0}
        return {"status": status, "user": user}

    async def _m_getChatMember(self, p: dict[str, Any]) -> Any:
        return self._member(int(p["chat_id"]), int(p["user_id"]))

    async def _m_getChatAdministrators(self, p: dict[str, Any]) -> Any:
        chat = int(p["chat_id"])
        return [self._member(c, u) for (c, u), s in self.statuses.items()
                if c == chat and s in ("creator", "administrator")]

    async def _m_getChat(self, p: dict[str, Any]) -> Any:
        chat = p["chat_id"]
        return {"id": chat, "type": "supergroup", "title": "Group", "accent_color_id": 0,
                "max_reaction_count": 11, "accepted_gift_types": {"unlimited_gifts": False,
                "limited_gifts": False, "unique_gifts": False, "premium_subscription": False}}

    def _refuse_moderation(self, chat_id: int, user_id: int, *, supergroup_only: bool) -> web.Response | None:
        if supergroup_only and not str(chat_id).startswith("-100"):
            return _error(400, SUPERGROUPS_ONLY)
        status = self.statuses.get((chat_id, user_id))
        if status == "creator":
            return _error(400, IS_OWNER)
        if status == "administrator":
            return _error(400, IS_ADMIN)
        return None

    async def _m_restrictChatMember(self, p: dict[str, Any]) -> Any:
        chat, user = int(p["chat_id"]), int(p["user_id"])
        return self._refuse_moderation(chat, user, supergroup_only=True) or True

    async def _m_banChatMember(self, p: dict[str, Any]) -> Any:
        chat, user = int(p["chat_id"]), int(p["user_id"])
        refused = self._refuse_moderation(chat, user, supergroup_only=False)
        if refused is not None:
            return refused
        self.statuses[(chat, user)] = "kicked"
        return True

    async def _m_unbanChatMember(self, p: dict[str, Any]) -> Any:
        chat, user = int(p["chat_id"]), int(p["user_id"])
        only_if_banned = str(p.get("only_if_banned", "")).lower() in ("true", "1")
        if self.statuses.get((chat, user)) == "kicked":
            self.statuses[(chat, user)] = "left"
        elif not only_if_banned:
            self.statuses[(chat, user)] = "left"  # Telegram removes a member when not told otherwise
        return True

    async def _m_deleteMessages(self, p: dict[str, Any]) -> Any:
        ids = p.get("message_ids")
        ids = json.loads(ids) if isinstance(ids, str) else ids
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            return _error(400, "Bad Request: message_ids must contain 1-100 identifiers")
        self.deleted.setdefault(int(p["chat_id"]), []).extend(int(i) for i in ids)
        return True

    async def _m_setMyCommands(self, p: dict[str, Any]) -> Any:
        return True

    async def _m_close(self, p: dict[str, Any]) -> Any:
        return True

    async def _m_logOut(self, p: dict[str, Any]) -> Any:
        return True


def _error(status: int, description: str, parameters: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=status)
