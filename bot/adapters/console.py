"""The console adapter: chat with Cohort in a terminal, through the same router, handlers
and store as the real platforms.

You type as a member. Lines starting with ``/`` are bot commands, except the console's
own: ``/as NAME [member|moderator|admin|owner]`` switches who you are, ``/in #chat`` or
``/in dm`` switches chat, ``/topic NAME`` enters a forum topic (``/topic`` leaves it),
``/reply N text`` replies to message N, ``/react N emoji`` reacts to it, ``/click N``
presses button N, ``/join`` and ``/leave``, ``/quit``.
"""

from __future__ import annotations

import asyncio
import itertools
import shlex
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from bot.adapters.base import Dispatch, Finding, Severity
from bot.markup import to_plain
from bot.ports import Button, Capability, ChatRef, Purged, Role, SentMessage
from engine.args import ArgError, is_ascii_id, is_ascii_number, parse_duration
from engine.events import (
    ButtonClicked,
    CommandInvoked,
    Event,
    MemberJoined,
    MemberLeft,
    MessagePosted,
    Platform,
    ReactionAdded,
    ThreadOpened,
)
from engine.store.recent import RecentMessage
from engine.text import find_links

CONSOLE_COMMANDS = ("as", "in", "topic", "reply", "react", "click", "join", "leave", "time", "jobs", "quit")
ROLE_NAMES = {r.name.lower(): r for r in Role}


class ConsoleClock:
    """The console's time: the real clock, moved forward by ``/time`` so scheduled work can
    be tried in minutes (a nudge campaign, its outcomes a week later, next Monday's digest).
    Time keeps running from where it was moved to."""

    def __init__(self, real: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._real = real
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return self._real() + self.offset

    def move_to(self, when: datetime) -> None:
        self.offset = when - self._real()


class ConsoleJobs(Protocol):
    """The scheduled jobs, run on demand at the console's time (``/jobs``)."""

    def listing(self) -> list[str]: ...

    async def run(self, name: str, state: ConsoleState) -> str: ...


@dataclass(frozen=True, slots=True)
class ConsoleNote:
    """A line for the person at the terminal that is not a chat event."""

    text: str
    quit: bool = False
    show_history: bool = False  # the chat changed: show what was said there lately
    show_role: bool = False  # who you are changed: add the role Cohort gives you here


@dataclass
class ConsoleState:
    community: str = "demo"
    # The console speaks as this platform: "console" for its own communities, or the platform
    # of an imported one being looked at (``cohort console --community stackexchange:site``).
    platform: Platform = Platform.CONSOLE
    user: str = "you"
    chat: str = "general"
    thread: str | None = None
    roles: dict[str, Role] = field(default_factory=dict)
    # message number → (chat, thread, message id, author)
    messages: dict[int, tuple[str, str | None, str, str]] = field(default_factory=dict)
    buttons: list[tuple[str, Button, str]] = field(default_factory=list)  # (chat, button, message id)
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    clock: Callable[[], datetime] = field(default_factory=ConsoleClock)
    last: int = 0  # the number given to the latest message
    # This session's token, part of every message id it types: numbers start at 1 each
    # session, and a reused id would be taken for a redelivery of an older session's
    # message (same dedup key) and dropped unanswered.
    session: str = ""
    # user → (mute|ban, until or None): what moderators did here; the console enforces it
    restricted: dict[str, tuple[str, datetime | None]] = field(default_factory=dict)

    def restriction(self, user: str) -> tuple[str, datetime | None] | None:
        """The user's standing mute or ban, dropping one whose time has run out."""
        found = self.restricted.get(user)
        if found is not None and found[1] is not None and found[1] <= self.clock():
            del self.restricted[user]
            return None
        return found

    @property
    def private(self) -> bool:
        return self.chat == f"dm:{self.user}"

    def remember(self, chat: str, thread: str | None, author: str) -> str:
        """Number a new message; returns its message id (the number, prefixed outside the
        console's own platform so it never collides with an imported message's id)."""
        number = self.last = next(self.counter)
        local = f"{self.session}.{number}" if self.session else str(number)
        message_id = local if self.platform == Platform.CONSOLE else f"console-{local}"
        self.messages[number] = (chat, thread, message_id, author)
        return message_id


def console_session_token(now: Callable[[], float] = time.time) -> str:
    """A short token unique to one console session (milliseconds since 1970, in hex)."""
    return format(int(now() * 1000), "x")


def is_emoji(text: str) -> bool:
    """Whether ``text`` is one short emoji (with its modifiers): letters, digits and words are not."""
    if not text or len(text) > 10:
        return False
    for ch in text:
        code = ord(ch)
        if ch.isalnum() or ch.isspace() or code < 0x2000:
            if code in (0x23, 0x2A) or 0x30 <= code <= 0x39:  # keycaps: #️⃣ 1️⃣ need the combining mark
                if "\u20e3" not in text:
                    return False
                continue
            return False
    return True


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:  # an unbalanced quote is still a command
        return text.split()


def parse_line(line: str, state: ConsoleState) -> list[Event] | ConsoleNote:
    """Turn one typed line into events (or a note for the terminal). Updates ``state``."""
    line = line.rstrip("\n")
    if not line.strip():
        return []
    common: dict[str, Any] = {
        "platform": state.platform,
        "community_id": "" if state.private else state.community,
        "chat_id": state.chat,
        "thread_id": state.thread,
        "user_id": state.user,
        # No name: a new console user is named by their id, a stored member (the demo's, an
        # imported community's) keeps the name they have — typing must not rename them.
        "user_name": "",
        "username": "",
        "is_private": state.private,
        "at": state.clock(),
    }
    if line.startswith("/"):
        head, _, rest = line[1:].partition(" ")
        name = head.lower()
        if name in CONSOLE_COMMANDS:
            return _console_command(name, rest.strip(), state, common)
        number = state.remember(state.chat, state.thread, state.user)
        return [CommandInvoked(**common, message_id=number, name=name, args=tuple(_split(rest)), raw_text=line)]
    number = state.remember(state.chat, state.thread, state.user)
    return [MessagePosted(**common, message_id=number, text=line, links=find_links(line))]


def _console_command(name: str, rest: str, state: ConsoleState, common: dict[str, Any]) -> list[Event] | ConsoleNote:
    if name == "quit":
        return ConsoleNote("bye", quit=True)
    if name == "as":
        parts = rest.split()
        if not parts:
            return ConsoleNote(f"you are {state.user}", show_role=True)
        state.user = parts[0].lstrip("@")
        if len(parts) > 1:
            role = ROLE_NAMES.get(parts[1].lower())
            if role is None:
                return ConsoleNote(f"unknown role {parts[1]!r}; use one of {', '.join(ROLE_NAMES)}")
            state.roles[state.user] = role
        if state.chat.startswith("dm:"):
            state.chat = f"dm:{state.user}"
        return ConsoleNote(f"you are now {state.user}", show_role=True)
    if name == "in":
        target = rest.strip().lstrip("#")
        if not target:
            return ConsoleNote(f"you are in #{state.chat}")
        state.chat = f"dm:{state.user}" if target == "dm" else target
        state.thread = None
        return ConsoleNote("you are in a private chat with the bot" if target == "dm" else f"you are in #{state.chat}",
                           show_history=True)
    if name == "time":
        return _move_time(rest, state)
    if name == "topic":
        if not rest:
            state.thread = None
            return ConsoleNote(f"back in #{state.chat}", show_history=True)
        state.thread = rest
        common = {**common, "thread_id": rest}
        return [ThreadOpened(**common, title=rest)]
    if name in ("reply", "react"):
        parts = rest.split(maxsplit=1)
        if len(parts) < 2 or not is_ascii_number(parts[0]) or int(parts[0]) not in state.messages:
            return ConsoleNote(f"usage: /{name} N {'text' if name == 'reply' else 'emoji'} (N is a message number shown in [brackets])")
        chat, thread, message_id, author = state.messages[int(parts[0])]
        common = {**common, "chat_id": chat, "thread_id": thread}
        if name == "react":
            emoji = parts[1].strip()
            if not is_emoji(emoji):
                return ConsoleNote(f"{emoji[:20]!r} is not an emoji; try /react {parts[0]} 👍")
            return [ReactionAdded(**common, message_id=message_id, emoji=emoji, target_user_id=author)]
        number = state.remember(chat, thread, state.user)
        text = parts[1]
        if text.startswith("/") and len(text) > 1:  # a command in reply, e.g. /reply 12 /solved
            head, _, args = text[1:].partition(" ")
            return [CommandInvoked(**common, message_id=number, name=head.lower(), args=tuple(_split(args)),
                                   raw_text=text, reply_to_message_id=message_id, reply_to_user_id=author)]
        return [MessagePosted(**common, message_id=number, text=text, links=find_links(text),
                              reply_to_message_id=message_id, reply_to_user_id=author)]
    if name == "click":
        if not is_ascii_number(rest):
            return ConsoleNote("usage: /click N (N is a button number shown as ⟨N⟩)")
        if not 1 <= int(rest) <= len(state.buttons):
            shown = f"buttons shown so far: ⟨1⟩–⟨{len(state.buttons)}⟩" if state.buttons else "no buttons shown yet"
            return ConsoleNote(f"there is no button ⟨{int(rest)}⟩ ({shown})")
        chat, button, message_id = state.buttons[int(rest) - 1]
        if button.url:
            return ConsoleNote(f"(opens {button.url})")
        return [ButtonClicked(**{**common, "chat_id": chat}, message_id=message_id, data=button.data,
                              click_id=f"{message_id}:{state.user}:{next(state.counter)}")]
    if name == "join":
        return [MemberJoined(**common)]
    if name == "leave":
        return [MemberLeft(**common)]
    return ConsoleNote(f"unknown console command /{name}")


# (community, chat, thread) → the chat's latest messages, oldest first
History = Callable[[str, str, str | None], Awaitable[Sequence[RecentMessage]]]
# What the router asks for a command: the Cohort role of the event's user (bot.router.RoleLookup)
RoleLookup = Callable[[Event, "ConsoleMessenger"], Awaitable[Role]]


TIME_USAGE = "usage: /time (show it) · /time +3d | +6h | +30m · /time 2026-03-09 or 2026-03-09T10:00 (UTC)"


def _move_time(rest: str, state: ConsoleState) -> ConsoleNote:
    clock = state.clock
    now = clock()
    if not rest:
        return ConsoleNote(f"console time: {now:%Y-%m-%d %H:%M} UTC" + (
            "" if not isinstance(clock, ConsoleClock) or not clock.offset else " (moved; /time +1d moves it on)"))
    if not isinstance(clock, ConsoleClock):
        return ConsoleNote("this console's time cannot be moved")
    if rest.startswith("+"):
        try:
            step = parse_duration(rest[1:], what="the step")
        except ArgError as exc:
            return ConsoleNote(f"{exc} {TIME_USAGE}")
        target = now + step
    else:
        try:
            typed = datetime.fromisoformat(rest) if rest.isascii() and len(rest) <= 32 else None
        except ValueError:
            typed = None
        if typed is None:
            return ConsoleNote(f"{rest[:32]!r} is not a time; {TIME_USAGE}")
        target = typed if typed.tzinfo else typed.replace(tzinfo=UTC)
        if target <= now:
            return ConsoleNote(f"time only moves forward here (it is {now:%Y-%m-%d %H:%M} UTC): what was said is "
                               "stored with its time, and nothing may come before it")
    clock.move_to(target)
    return ConsoleNote(f"console time is now {target.astimezone(UTC):%Y-%m-%d %H:%M} UTC; "
                       "/jobs lists what the scheduler would run, /jobs run NAME runs it now")


class ConsoleMessenger:
    """Prints what the bot says. Everything a handler can ask for works here."""

    capabilities = frozenset(
        {Capability.REPLY, Capability.SEND, Capability.DM, Capability.PICTURE, Capability.DOCUMENT,
         Capability.BUTTONS, Capability.EDIT, Capability.MODERATE}
    )

    def __init__(self, state: ConsoleState, write: Callable[[str], None], files_dir: Path) -> None:
        self.platform = state.platform
        self.state = state
        self.write = write
        self.files_dir = files_dir

    def _show(self, where: str, text: str, buttons: Sequence[Button], chat: str) -> SentMessage:
        message_id = self.state.remember(chat, None, "cohort")
        lines = [f"[{self.state.last}] cohort{where}: {to_plain(text)}"]
        for button in buttons:
            self.state.buttons.append((chat, button, message_id))
            lines.append(f"    ⟨{len(self.state.buttons)}⟩ {button.label}" + (f" → {button.url}" if button.url else ""))
        self.write("\n".join(lines))
        return SentMessage(ChatRef(self.state.platform, self.state.community, chat), message_id)

    async def reply(self, to: Event, text: str, *, buttons: Sequence[Button] = ()) -> SentMessage:
        where = f" (to {to.user_id})" if not to.is_private else " (DM)"
        return self._show(where, text, buttons, to.chat_id)

    async def send(self, chat: ChatRef, text: str, *, buttons: Sequence[Button] = ()) -> SentMessage:
        return self._show(f" in #{chat.chat_id}", text, buttons, chat.chat_id)

    async def dm(self, user_id: str, text: str, *, buttons: Sequence[Button] = ()) -> SentMessage:
        return self._show(f" (DM to {user_id})", text, buttons, f"dm:{user_id}")

    def _save(self, name: str, data: bytes) -> Path:
        self.files_dir.mkdir(parents=True, exist_ok=True)
        path = self.files_dir / name
        path.write_bytes(data)
        return path

    async def send_picture(self, chat: ChatRef, png: bytes, caption: str = "") -> SentMessage:
        path = self._save(f"picture-{next(self.state.counter)}.png", png)
        return self._show(f" in #{chat.chat_id}", f"{caption}\n(picture saved to {path})", (), chat.chat_id)

    async def send_document(self, user_id: str, filename: str, data: bytes, caption: str = "") -> SentMessage:
        path = self._save(Path(filename).name, data)
        return self._show(f" (DM to {user_id})", f"{caption}\n(file saved to {path})", (), f"dm:{user_id}")

    async def edit(self, message: SentMessage, text: str, *, buttons: Sequence[Button] = ()) -> None:
        self._show(f" (edited [{message.message_id}])", text, buttons, message.chat.chat_id)

    async def role_of(self, community_id: str, user_id: str) -> Role:
        return self.state.roles.get(user_id, Role.MEMBER)

    # -- moderation: kept in the console's state (the handler records it in the database) ------
    def _note(self, text: str) -> None:
        self.write(f"  · {text}")

    async def mute(self, community_id: str, user_id: str, *, until: datetime | None, reason: str) -> datetime | None:
        self.state.restricted[user_id] = ("mute", until)
        self._note(f"{user_id} is muted " + (f"until {until:%Y-%m-%d %H:%M} UTC" if until else "until unmuted"))
        return until

    async def unmute(self, community_id: str, user_id: str) -> None:
        if self.state.restricted.get(user_id, ("", None))[0] == "mute":
            del self.state.restricted[user_id]
        self._note(f"{user_id} may speak again")

    async def ban(self, community_id: str, user_id: str, *, reason: str,
                  until: datetime | None = None) -> datetime | None:
        self.state.restricted[user_id] = ("ban", until)
        self._note(f"{user_id} is banned " + (f"until {until:%Y-%m-%d %H:%M} UTC" if until else "for good"))
        return until  # the console ends it by itself (ConsoleState.restriction)

    async def unban(self, community_id: str, user_id: str) -> None:
        if self.state.restricted.get(user_id, ("", None))[0] == "ban":
            del self.state.restricted[user_id]
        self._note(f"{user_id} is no longer banned")

    async def kick(self, community_id: str, user_id: str, *, reason: str) -> None:
        self._note(f"{user_id} was removed from {community_id} (they may /join again)")

    async def delete_messages(self, chat: ChatRef, messages: Sequence[tuple[str, datetime]]) -> Purged:
        gone: list[str] = []
        for mid, _ in messages:
            if is_ascii_id(mid) and int(mid) in self.state.messages:
                del self.state.messages[int(mid)]
                gone.append(mid)
        self._note("deleted " + (", ".join(f"[{mid}]" for mid in gone) or "nothing"))
        return Purged(len(gone))


class ConsoleAdapter:
    """Reads lines from a terminal (or any line source) and dispatches them."""

    name = "console"

    def __init__(
        self,
        dispatch: Dispatch,
        state: ConsoleState,
        *,
        write: Callable[[str], None] = print,
        files_dir: Path = Path("data/console"),
        history: History | None = None,
        role_lookup: RoleLookup | None = None,
        jobs: ConsoleJobs | None = None,
    ) -> None:
        self.dispatch = dispatch
        self.jobs = jobs
        self.state = state
        self.write = write
        self.messenger = ConsoleMessenger(state, write, files_dir)
        self.history = history
        self.role_lookup = role_lookup

    async def cohort_role(self) -> Role:
        """The role Cohort gives the current user in this community — the same lookup the
        router makes for a command (owner list, the console's role, Cohort's moderator list)."""
        state = self.state
        fallback = state.roles.get(state.user, Role.MEMBER)
        if self.role_lookup is None:
            return fallback
        probe = MessagePosted(platform=state.platform, community_id=state.community, chat_id=state.chat,
                              user_id=state.user, at=state.clock())
        try:
            return await self.role_lookup(probe, self.messenger)
        except Exception:  # the database is unreachable: say what the console itself knows
            return fallback

    async def show_history(self) -> None:
        """Print the chat's latest messages, numbered so they can be replied and reacted to."""
        if self.history is None:
            return
        state = self.state
        try:
            recent = await self.history(state.community, state.chat, state.thread)
        except Exception as exc:  # the chat still works without its history
            self.write(f"  · could not read this chat's history: {exc}")
            return
        for message in recent:
            number = next(state.counter)
            state.messages[number] = (state.chat, state.thread, message.message_id, message.author_id)
            text = message.text if len(message.text) <= 200 else message.text[:199] + "…"
            self.write(f"[{number}] {message.author_name}: {text}")

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def doctor(self) -> list[Finding]:
        return [Finding("console", Severity.OK, "the console needs no setup")]

    async def handle_line(self, line: str) -> bool:
        """Process one typed line; returns False when the person asked to quit."""
        standing = self.state.restriction(self.state.user) if not self.state.private else None
        if standing is not None and line.strip() and line.split()[0].lower().lstrip("/") not in CONSOLE_COMMANDS:
            kind, until = standing
            when = f"until {until:%Y-%m-%d %H:%M} UTC" if until else "until a moderator lifts it"
            self.write(f"  · {self.state.user} is {'muted' if kind == 'mute' else 'banned'} {when}; "
                       "nothing was posted (/as NAME to be someone else)")
            return True
        head, _, rest = line.strip().partition(" ")
        if head.lower() == "/jobs":
            await self.run_jobs(rest.split())
            return True
        parsed = parse_line(line, self.state)
        if isinstance(parsed, ConsoleNote):
            role = f" ({(await self.cohort_role()).name.lower()})" if parsed.show_role else ""
            self.write(f"  · {parsed.text}{role}")
            if parsed.show_history:
                await self.show_history()
            return not parsed.quit
        for event in parsed:
            if isinstance(event, MessagePosted | CommandInvoked):
                self.write(f"  [{self.state.last}]")  # what /reply and /react refer to
            try:
                await self.dispatch(event, self.messenger)
            except Exception as exc:  # a storage failure is reported, the console goes on
                self.write(f"  · could not store that: {exc}")
                continue
            if isinstance(event, MemberJoined):
                self.write(f"  · {event.user_id} joined {event.community_id}")
            elif isinstance(event, MemberLeft):
                self.write(f"  · {event.user_id} left {event.community_id}")
        return True

    async def run_jobs(self, args: list[str]) -> None:
        """``/jobs``: list the scheduler's jobs; ``/jobs run NAME``: one firing now, at the
        console's time, for this community (as the scheduler would: once per local day)."""
        if self.jobs is None:
            self.write("  · no scheduler in this console")
            return
        if not args:
            self.write("  · scheduled jobs (/jobs run NAME runs one now, at the console's time; /time moves it):")
            for line in self.jobs.listing():
                self.write(f"    {line}")
            return
        if args[0].lower() != "run" or len(args) != 2:
            self.write("  · usage: /jobs · /jobs run NAME")
            return
        try:
            said = await self.jobs.run(args[1], self.state)
        except Exception as exc:  # the database is unreachable: the console goes on
            said = f"could not run {args[1][:40]!r}: {exc}"
        self.write(f"  · {said}")

    async def run(self, read: Callable[[str], str] | None = None) -> None:
        """Read lines until /quit or end of input."""
        reader = read or input
        while True:
            prompt = f"{self.state.user}@{'dm' if self.state.private else '#' + self.state.chat}" + (
                f"/{self.state.thread}" if self.state.thread else "") + "> "
            try:
                line = await asyncio.to_thread(reader, prompt)
            except (EOFError, KeyboardInterrupt):
                self.write("")
                return
            if not await self.handle_line(line):
                return


def interactive() -> bool:
    return sys.stdin.isatty()
