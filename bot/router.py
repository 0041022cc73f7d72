"""The router: every event is stored first, then fanned out to event handlers; commands go
to their command handler after one role check against the command's declared minimum.

Handlers are plain async functions. Their parameters are filled by name from the
dependencies the composition root registered (``store``, ``settings``, ...) plus the
per-call ``event``, ``messenger`` and, for commands, ``ctx``.
"""

from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.markup import esc
from bot.ports import Button, Messenger, PlatformError, Role, SentMessage
from engine.events import CommandInvoked, Event
from engine.refusal import Refusal
from engine.store.writer import Notice, Outcome

log = logging.getLogger(__name__)

Handler = Callable[..., Awaitable[Any]]
RoleLookup = Callable[[Event, Messenger], Awaitable[Role]]
NoticeSink = Callable[[Notice, Event, Messenger], Awaitable[None]]
# Sees every command before it runs; False drops it unanswered (e.g. a flood of commands).
CommandGate = Callable[[CommandInvoked, Messenger], Awaitable[bool]]


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


@dataclass
class CommandContext:
    """What a command handler gets about its invocation."""

    event: CommandInvoked
    messenger: Messenger
    role: Role
    outcome: Outcome
    replies: list[SentMessage] = field(default_factory=list)

    @property
    def args(self) -> tuple[str, ...]:
        return self.event.args

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

    def __init__(self, record: Callable[[Event], Awaitable[Outcome]], role_lookup: RoleLookup) -> None:
        self._record = record
        self._role_lookup = role_lookup
        self._deps: dict[str, Any] = {}
        self._subs: list[_Subscription] = []
        self._commands: dict[str, CommandSpec] = {}
        self._command_params: dict[str, tuple[str, ...]] = {}
        self._notice_sinks: list[NoticeSink] = []
        self._gates: list[CommandGate] = []

    # -- registration ------------------------------------------------------------------
    def provide(self, **deps: Any) -> None:
        """Make dependencies available to handlers by parameter name."""
        self._deps.update(deps)

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
        """Receive notices (badges, level-ups) that projections produced for an event."""
        self._notice_sinks.append(sink)

    def gate_commands(self, gate: CommandGate) -> None:
        """Let ``gate`` drop commands before they run (a gate that raises lets them through)."""
        self._gates.append(gate)

    @property
    def commands(self) -> list[CommandSpec]:
        """Distinct command specs, in registration order."""
        seen: dict[str, CommandSpec] = {}
        for spec in self._commands.values():
            seen.setdefault(spec.name, spec)
        return list(seen.values())

    def spec(self, name: str) -> CommandSpec | None:
        return self._commands.get(name)

    def check(self) -> None:
        """Fail at start, not on the first message, if a handler wants a missing dependency."""
        per_call = {"event", "messenger", "ctx", "outcome", "router"}
        for name, params in [(s.handler.__qualname__, s.params) for s in self._subs] + [
            (n, p) for n, p in self._command_params.items()
        ]:
            missing = [p for p in params if p not in self._deps and p not in per_call]
            if missing:
                raise RuntimeError(f"handler {name} needs {missing}, which nobody provides")

    # -- dispatch ----------------------------------------------------------------------
    def _kwargs(self, params: Sequence[str], per_call: dict[str, Any]) -> dict[str, Any]:
        return {p: per_call[p] if p in per_call else self._deps[p] for p in params}

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
                    await sink(notice, event, messenger)
                except Exception:
                    log.exception("notice sink failed on %s", event.dedup_key)
        if isinstance(event, CommandInvoked):
            await self._run_command(event, messenger, outcome, per_call)

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
        if spec is None:
            await self._safe_reply(
                messenger, event, f"I don't know /{esc(event.name)}. Send /help to see what I can do."
            )
            return
        try:
            role = await self._role_lookup(event, messenger)
        except Exception:
            log.exception("role lookup failed on %s", event.dedup_key)
            role = Role.MEMBER
        if role < spec.min_role:
            why = ""
            if not event.user_id:  # Telegram: an anonymous admin or a channel posting as itself
                why = (" You are posting as a chat (anonymously or as a channel), so I can't tell who you"
                       " are; turn off “Remain anonymous” to use it.")
            elif event.is_bot:
                why = " Bots can't use it."
            await self._safe_reply(
                messenger, event,
                f"/{esc(spec.name)} is for {spec.min_role.name.lower()}s and above.{why}",
            )
            return
        ctx = CommandContext(event, messenger, role, outcome)
        try:
            await spec.handler(**self._kwargs(self._command_params[spec.name], {**per_call, "ctx": ctx}))
        except UsageError as exc:  # the user's to fix: a reply, not a log entry
            log.debug("command /%s refused on %s: %s", spec.name, event.dedup_key, exc)
            await self._safe_reply(messenger, event, str(exc))
        except PlatformError as exc:  # 403/429/timeout already mapped by the adapter: one line
            log.warning("command /%s could not finish on %s: %s", spec.name, event.dedup_key, exc)
            await self._safe_reply(messenger, event, "Sorry, the platform refused or timed out; try again later.")
        except Exception:
            ref = uuid.uuid4().hex[:8]
            log.exception("command /%s failed (ref %s) on %s", spec.name, ref, event.dedup_key)
            await self._safe_reply(
                messenger, event, f"Sorry, something went wrong on my side (ref {ref}). It has been logged."
            )

    async def _safe_reply(self, messenger: Messenger, event: Event, text: str) -> None:
        try:
            await messenger.reply(event, text)
        except PlatformError as exc:
            log.warning("could not reply on %s: %s", event.dedup_key, exc)
        except Exception:
            log.exception("could not reply on %s", event.dedup_key)
