"""The router: every event is stored first, then fanned out to event handlers; commands go
to their command handler after one role check against the command's declared minimum.

Handlers are plain async functions. Their parameters are filled by name from the
dependencies the composition root registered (``store``, ``settings``, ...) plus the
per-call ``event``, ``messenger`` and, for commands, ``ctx``.

For a command the router resolves, once, what every handler needs to know about its
invocation (:class:`Place`: the community — a private chat acts on the member's home
community —, the calling member, the reply language and the typed community settings)
and offers one way to name another member (:meth:`CommandContext.target`). Replies are
worded with :meth:`CommandContext.t` from the capabilities' message catalogs.
"""

from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.deps import Deps, available
from bot.i18n import Catalog, text
from bot.markup import esc
from bot.ports import Button, Messenger, PlatformError, Role, SentMessage
from bot.settings_schema import EMPTY_SCHEMA, CommunitySettings
from engine.args import is_ascii_number
from engine.events import CommandInvoked, Event
from engine.members.lookup import MemberBrief
from engine.refusal import Refusal
from engine.store.writer import Outcome

log = logging.getLogger(__name__)

Handler = Callable[..., Awaitable[Any]]
RoleLookup = Callable[[Event, Messenger], Awaitable[Role]]
NoticeSink = Callable[..., Awaitable[None]]  # parameters by name: notice, event, messenger, services
# Sees every command before it runs; False drops it unanswered (e.g. a flood of commands).
CommandGate = Callable[[CommandInvoked, Messenger], Awaitable[bool]]
CommandFollower = Callable[..., Awaitable[None]]  # parameters by name: event, messenger, Deps fields


class UsageError(Refusal):
    """A user-caused problem; its message is replied in the chat as is (markup allowed)."""


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    handler: Handler
    min_role: Role = Role.MEMBER
    summary: str = ""
    usage: str = ""
    aliases: tuple[str, ...] = ()
    hidden: bool = False


@dataclass(frozen=True, slots=True)
class Place:
    """Where a command acts and who sent it (None: Cohort has not seen it yet)."""

    community_id: int | None
    member_id: int | None
    language: str
    settings: CommunitySettings


NOWHERE = Place(None, None, "en", EMPTY_SCHEMA.view({}))
Locate = Callable[[Event], Awaitable[Place]]
# (community id, platform, reference) → the member, or None when nobody matches.
FindMember = Callable[[int, str, str], Awaitable[MemberBrief | None]]

# The router's own replies (every capability's catalog is merged with these).
MESSAGES: Catalog = {
    "router.unknown_command": {"en": "I don't know /{name}. Send /help to see what I can do.",
                               "zh": "我不认识 /{name}。发送 /help 查看我能做什么。"},
    "router.min_role": {"en": "/{name} is for {role}s and above.{why}", "zh": "/{name} 仅限{role}及以上使用。{why}"},
    "router.anonymous": {"en": " You are posting as a chat (anonymously or as a channel), so I can't tell who you"
                               " are; turn off “Remain anonymous” to use it.",
                         "zh": "你正以群组或频道身份（匿名）发言，我无法识别你是谁；请关闭“匿名发言”后再试。"},
    "router.bot": {"en": " Bots can't use it.", "zh": "机器人不能使用。"},
    "router.platform_error": {"en": "Sorry, the platform refused or timed out; try again later.",
                              "zh": "抱歉，平台拒绝了请求或超时，请稍后再试。"},
    "router.failed": {"en": "Sorry, something went wrong on my side (ref {ref}). It has been logged.",
                      "zh": "抱歉，我这边出了点问题（编号 {ref}），已记录。"},
    "ctx.no_community": {"en": "I don't know which community you mean; use this command in the group "
                               "(or post there first).",
                         "zh": "不确定你指的是哪个社区，请在群组中使用此命令（或先在群里发言）。"},
    "ctx.no_member": {"en": "I don't have any data about you.", "zh": "我没有关于你的任何数据。"},
    "ctx.who": {"en": "Tell me who: @username, their user id, or reply to one of their messages.",
                "zh": "请指明成员：@用户名、用户 ID，或回复他们的消息。"},
    "ctx.unknown_member": {"en": "I don't know {who} in this community.", "zh": "本社区中找不到 {who}。"},
    "role.member": {"en": "member", "zh": "成员"}, "role.moderator": {"en": "moderator", "zh": "版主"},
    "role.admin": {"en": "admin", "zh": "管理员"}, "role.owner": {"en": "owner", "zh": "所有者"},
}


def split_target(event: Event, args: Sequence[str]) -> tuple[str | None, list[str]]:
    """Take the member reference off the front of ``args`` — ``@name``, a mention, an id
    (an explicit one wins over the replied-to user when an amount follows), a name before
    a number — else the user the command replies to. Returns (reference or None, rest)."""
    rest = list(args)
    reply_user = getattr(event, "reply_to_user_id", None)
    if rest and rest[0].startswith(("@", "<@")):
        return rest[0], rest[1:]
    if len(rest) > 1 and not is_ascii_number(rest[0]) and is_ascii_number(rest[1]):
        return rest[0], rest[1:]  # "/points give u5 10 ..." — an id or name before the amount
    if rest and rest[0].isascii() and rest[0].isdigit() and (not reply_user or (
            len(rest) > 1 and is_ascii_number(rest[1]))):
        return rest[0], rest[1:]
    if reply_user:
        return reply_user, rest
    return None, rest


@dataclass
class CommandContext:
    """What a command handler gets about its invocation: the event, the caller's role
    (already checked against the command's ``min_role``), where it acts and who sent it
    (:attr:`place`), and the ways to word a reply and to name another member."""

    event: CommandInvoked
    messenger: Messenger
    role: Role
    outcome: Outcome
    replies: list[SentMessage] = field(default_factory=list)
    place: Place = NOWHERE
    messages: Catalog = field(default_factory=lambda: MESSAGES)
    find_member: FindMember | None = None

    @property
    def args(self) -> tuple[str, ...]:
        return self.event.args

    @property
    def language(self) -> str:
        return self.place.language

    @property
    def settings(self) -> CommunitySettings:
        return self.place.settings

    @property
    def community_id(self) -> int:
        """The community the command acts on; UsageError when Cohort does not know it."""
        if self.place.community_id is None:
            raise UsageError(self.t("ctx.no_community"))
        return self.place.community_id

    @property
    def member_id(self) -> int:
        """The caller's member id; UsageError when the account is unknown (just forgotten)."""
        if self.place.member_id is None:
            raise UsageError(self.t("ctx.no_member"))
        return self.place.member_id

    def t(self, key: str, /, **values: Any) -> str:
        """The message ``key`` in the community's language (see :func:`bot.i18n.text`)."""
        return text(self.messages, key, self.language, **values)

    async def target(self, args: Sequence[str] | None = None) -> tuple[MemberBrief, list[str]]:
        """The member the arguments name (``@username``, a user id, a mention, a display
        name, or the replied-to user) in this community, and the remaining arguments.

        Raises UsageError when nobody is named or nobody matches (in the reply language)."""
        ref, rest = split_target(self.event, self.args if args is None else args)
        if ref is None:
            raise UsageError(self.t("ctx.who"))
        found = None
        if self.find_member is not None:
            found = await self.find_member(self.community_id, str(self.event.platform), ref)
        if found is None:
            raise UsageError(self.t("ctx.unknown_member", who=esc(ref)))
        return found, rest

    async def reply(self, text: str, *, buttons: Sequence[Button] = ()) -> SentMessage:
        sent = await self.messenger.reply(self.event, text, buttons=buttons)
        self.replies.append(sent)
        return sent


@dataclass(frozen=True, slots=True)
class _Subscription:
    types: tuple[type[Event], ...]
    handler: Handler
    params: tuple[str, ...]


def _param_names(handler: Handler) -> tuple[str, ...]:
    return tuple(inspect.signature(handler).parameters)


class Router:
    """Dispatches events. Build it in the composition root, register, then ``dispatch``."""

    def __init__(self, record: Callable[[Event], Awaitable[Outcome]], role_lookup: RoleLookup, *,
                 locate: Locate | None = None,
                 find_member: FindMember | None = None, messages: Catalog = MESSAGES) -> None:
        self._record = record
        self._role_lookup = role_lookup
        self._locate = locate
        self._find_member = find_member
        self.messages = messages
        self._deps: Deps | None = None  # the composition root hands them over (:meth:`use`)
        self._subs: list[_Subscription] = []
        self._commands: dict[str, CommandSpec] = {}
        self._command_params: dict[str, tuple[str, ...]] = {}
        self._notice_sinks: list[NoticeSink] = []
        self._gates: list[CommandGate] = []
        self._followers: list[CommandFollower] = []

    # -- registration ------------------------------------------------------------------
    def use(self, deps: Deps) -> None:
        """Fill handlers' parameters from ``deps`` (by field name) from now on."""
        self._deps = deps

    def on(self, *types: type[Event], handler: Handler) -> None:
        """Run ``handler`` for every stored (non-duplicate) event of these types."""
        self._subs.append(_Subscription(types, handler, _param_names(handler)))

    def command(
        self,
        name: str,
        handler: Handler,
        *,
        min_role: Role = Role.MEMBER,
        summary: str = "",
        usage: str = "",
        aliases: Sequence[str] = (),
        hidden: bool = False,
    ) -> None:
        spec = CommandSpec(name, handler, min_role, summary, usage or f"/{name}", tuple(aliases), hidden)
        for key in (name, *aliases):
            if key in self._commands:
                raise ValueError(f"command /{key} registered twice")
            self._commands[key] = spec
        self._command_params[name] = _param_names(handler)

    def add(self, spec: CommandSpec) -> None:
        """Register a command a capability module declared."""
        self.command(spec.name, spec.handler, min_role=spec.min_role, summary=spec.summary, usage=spec.usage,
                     aliases=spec.aliases, hidden=spec.hidden)

    def on_notice(self, sink: NoticeSink) -> None:
        """Receive notices (badges, level-ups) that projections produced for an event; the
        sink's parameters are filled by name (``notice``, ``event``, ``messenger``, services)."""
        self._notice_sinks.append(sink)

    def gate_commands(self, gate: CommandGate) -> None:
        """Let ``gate`` drop commands before they run (a gate that raises lets them through)."""
        self._gates.append(gate)

    def after_commands(self, follower: CommandFollower) -> None:
        """Let ``follower`` see every command after it ran (what it wrote is committed), e.g.
        to credit what the command did; a follower that raises is logged."""
        self._followers.append(follower)

    @property
    def commands(self) -> list[CommandSpec]:
        """Distinct command specs, in registration order."""
        seen: dict[str, CommandSpec] = {}
        for spec in self._commands.values():
            seen.setdefault(spec.name, spec)
        return list(seen.values())

    def spec(self, name: str) -> CommandSpec | None:
        return self._commands.get(name)

    async def delegate(self, name: str, ctx: CommandContext) -> bool:
        """Run command ``name``'s handler for ``ctx`` (a command handing a sub-key to the
        capability owning it, e.g. ``/config points.X``); False when no such command runs."""
        spec = self._commands.get(name)
        if spec is None:
            return False
        per_call = {"event": ctx.event, "messenger": ctx.messenger, "outcome": ctx.outcome, "router": self,
                    "ctx": ctx}
        await spec.handler(**self._kwargs(self._command_params[spec.name], per_call))
        return True

    def check(self) -> None:
        """Fail at start, not on the first message, if a handler wants a missing dependency."""
        per_call = {"event", "messenger", "ctx", "outcome", "router", "notice"}
        known = available(self._deps)
        for name, params in [(s.handler.__qualname__, s.params) for s in self._subs] + [
            (n, p) for n, p in self._command_params.items()
        ] + [(sink.__qualname__, _param_names(sink)) for sink in [*self._notice_sinks, *self._followers]]:
            missing = [p for p in params if p not in known and p not in per_call]
            if missing:
                raise RuntimeError(f"handler {name} needs {missing}, which nobody provides")

    # -- dispatch ----------------------------------------------------------------------
    def _kwargs(self, params: Sequence[str], per_call: dict[str, Any]) -> dict[str, Any]:
        deps = self._deps
        return {p: per_call[p] if p in per_call else deps if p == "deps" else getattr(deps, p) for p in params}

    async def dispatch(self, event: Event, messenger: Messenger) -> Outcome:
        """Store the event, then run handlers. Returns the store's outcome.

        A duplicate delivery stops here. A handler that raises is logged with the event's
        key and the remaining handlers still run. Raises only if storing failed.
        """
        outcome = await self.record(event)
        await self.react(event, messenger, outcome)
        return outcome

    async def record(self, event: Event) -> Outcome:
        """Store the event; returns once its transaction has committed (raises if it failed).

        Adapters that acknowledge a platform only after the commit call this, then
        :meth:`react`, instead of :meth:`dispatch`.
        """
        return await self._record(event)

    async def react(self, event: Event, messenger: Messenger, outcome: Outcome) -> None:
        """Run handlers, notice sinks and the command for a recorded event (nothing for a
        duplicate). Never raises: each failure is logged with the event's key."""
        if outcome.duplicate:
            return
        per_call = {"event": event, "messenger": messenger, "outcome": outcome, "router": self}
        for sub in self._subs:
            if isinstance(event, sub.types):
                try:
                    await sub.handler(**self._kwargs(sub.params, per_call))
                except Exception:
                    log.exception("handler %s failed on %s", sub.handler.__qualname__, event.dedup_key)
        for notice in outcome.notices:
            for sink in self._notice_sinks:
                try:
                    await sink(**self._kwargs(_param_names(sink), {**per_call, "notice": notice}))
                except Exception:
                    log.exception("notice sink failed on %s", event.dedup_key)
        if isinstance(event, CommandInvoked):
            await self._run_command(event, messenger, outcome, per_call)
            for follower in self._followers:
                try:
                    await follower(**self._kwargs(_param_names(follower), per_call))
                except Exception:
                    log.exception("command follower failed on %s", event.dedup_key)

    async def _place(self, event: Event) -> Place:
        if self._locate is None:
            return NOWHERE
        try:
            return await self._locate(event)
        except Exception:
            log.exception("could not resolve the community of %s", event.dedup_key)
            return NOWHERE

    async def _run_command(
        self, event: CommandInvoked, messenger: Messenger, outcome: Outcome, per_call: dict[str, Any]
    ) -> None:
        for gate in self._gates:
            try:
                if not await gate(event, messenger):
                    return
            except Exception:
                log.exception("command gate failed on %s", event.dedup_key)
        spec = self._commands.get(event.name)
        place = await self._place(event)

        def say(key: str, **values: Any) -> str:
            return text(self.messages, key, place.language, **values)

        if spec is None:
            await self._safe_reply(messenger, event, say("router.unknown_command", name=esc(event.name)))
            return
        try:
            role = await self._role_lookup(event, messenger)
        except Exception:
            log.exception("role lookup failed on %s", event.dedup_key)
            role = Role.MEMBER
        if role < spec.min_role:
            why = ""
            if not event.user_id:  # Telegram: an anonymous admin or a channel posting as itself
                why = say("router.anonymous")
            elif event.is_bot:
                why = say("router.bot")
            await self._safe_reply(messenger, event, say(
                "router.min_role", name=esc(spec.name), role=say(f"role.{spec.min_role.name.lower()}"), why=why))
            return
        ctx = CommandContext(event, messenger, role, outcome, place=place, messages=self.messages,
                             find_member=self._find_member)
        try:
            await spec.handler(**self._kwargs(self._command_params[spec.name], {**per_call, "ctx": ctx}))
        except UsageError as exc:  # the user's to fix: a reply, not a log entry
            log.debug("command /%s refused on %s: %s", spec.name, event.dedup_key, exc)
            await self._safe_reply(messenger, event, str(exc))
        except PlatformError as exc:  # 403/429/timeout already mapped by the adapter: one line
            log.warning("command /%s could not finish on %s: %s", spec.name, event.dedup_key, exc)
            await self._safe_reply(messenger, event, say("router.platform_error"))
        except Exception:
            ref = uuid.uuid4().hex[:8]
            log.exception("command /%s failed (ref %s) on %s", spec.name, ref, event.dedup_key)
            await self._safe_reply(messenger, event, say("router.failed", ref=ref))

    async def _safe_reply(self, messenger: Messenger, event: Event, text: str) -> None:
        try:
            await messenger.reply(event, text)
        except PlatformError as exc:
            log.warning("could not reply on %s: %s", event.dedup_key, exc)
        except Exception:
            log.exception("could not reply on %s", event.dedup_key)
