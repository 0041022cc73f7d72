"""A recording Messenger of Cohort's port and event builders for the members tests."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.markup import to_plain
from bot.ports import Button, Capability, ChatRef, NotReachable, Purged, Role, SentMessage
from engine.events import ButtonClicked, CommandInvoked, MemberJoined, MessagePosted, Platform, ReactionAdded

_ids = itertools.count(1)
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@dataclass
class Out:
    kind: str  # reply | send | dm | document | picture | edit
    to: str  # user id (reply/dm/document) or chat id
    text: str
    buttons: tuple[Button, ...] = ()
    data: bytes = b""
    in_private: bool = False  # for replies: whether the event was in a private chat

    @property
    def plain(self) -> str:
        return to_plain(self.text)

    def json(self) -> Any:
        return json.loads(self.data)


@dataclass
class FakeMessenger:
    """Records everything; roles per user id, DM failures per user id."""

    platform: Platform = Platform.TELEGRAM
    roles: dict[str, Role] = field(default_factory=dict)
    unreachable: set[str] = field(default_factory=set)
    capabilities: frozenset[Capability] = frozenset(
        {Capability.REPLY, Capability.SEND, Capability.DM, Capability.DOCUMENT, Capability.BUTTONS}
    )
    out: list[Out] = field(default_factory=list)
    actions: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)
    _n: int = 0

    def _sent(self, chat: ChatRef) -> SentMessage:
        self._n += 1
        return SentMessage(chat, f"bot-{self._n}")

    async def reply(self, to: Any, text: str, *, buttons: Sequence[Button] = ()) -> SentMessage:
        self.out.append(Out("reply", to.user_id, text, tuple(buttons), in_private=to.is_private))
        return self._sent(ChatRef.of(to))

    async def send(self, chat: ChatRef, text: str, *, buttons: Sequence[Button] = ()) -> SentMessage:
        self.out.append(Out("send", chat.chat_id, text, tuple(buttons)))
        return self._sent(chat)

    async def dm(self, user_id: str, text: str, *, buttons: Sequence[Button] = ()) -> SentMessage:
        if user_id in self.unreachable:
            raise NotReachable(user_id, "never opened the bot")
        self.out.append(Out("dm", user_id, text, tuple(buttons)))
        return self._sent(ChatRef(self.platform, user_id, user_id))

    async def send_picture(self, chat: ChatRef, png: bytes, caption: str = "") -> SentMessage:
        self.out.append(Out("picture", chat.chat_id, caption, data=png))
        return self._sent(chat)

    async def send_document(self, user_id: str, filename: str, data: bytes, caption: str = "") -> SentMessage:
        if user_id in self.unreachable:
            raise NotReachable(user_id, "never opened the bot")
        self.out.append(Out("document", user_id, filename, data=data))
        return self._sent(ChatRef(self.platform, user_id, user_id))

    async def edit(self, message: SentMessage, text: str, *, buttons: Sequence[Button] = ()) -> None:
        self.out.append(Out("edit", message.message_id, text, tuple(buttons)))

    async def role_of(self, community_id: str, user_id: str) -> Role:
        return self.roles.get(user_id, Role.MEMBER)

    # -- assertions helpers ----------------------------------------------------------------
    def of(self, kind: str, to: str | None = None) -> list[Out]:
        return [o for o in self.out if o.kind == kind and (to is None or o.to == to)]

    def last_reply(self, to: str) -> str:
        replies = self.of("reply", to)
        assert replies, f"no reply to {to}; said: {self.out}"
        return replies[-1].plain


class ModeratingMessenger(FakeMessenger):
    """A messenger whose platform can mute and ban (the port extension /mute expects)."""

    cap: timedelta | None = None  # set to shorten every mute to at most this long, as Discord does
    timed_bans: bool = True  # False: like Discord, a timed ban is not ended by the platform

    async def mute(self, community_id: str, user_id: str, *, until: datetime | None,
                   reason: str) -> datetime | None:
        self.actions.append(("mute", community_id, user_id, {"until": until, "reason": reason}))
        if self.cap is None:
            return None
        longest = T0 + self.cap
        return longest if until is None or until > longest else until

    async def unmute(self, community_id: str, user_id: str) -> None:
        self.actions.append(("unmute", community_id, user_id, {}))

    async def ban(self, community_id: str, user_id: str, *, reason: str,
                  until: datetime | None = None) -> datetime | None:
        self.actions.append(("ban", community_id, user_id, {"reason": reason, **({"until": until} if until else {})}))
        return None if self.timed_bans is False else until

    async def unban(self, community_id: str, user_id: str) -> None:
        self.actions.append(("unban", community_id, user_id, {}))

    async def kick(self, community_id: str, user_id: str, *, reason: str) -> None:
        self.actions.append(("kick", community_id, user_id, {"reason": reason}))

    async def delete_messages(self, chat: ChatRef, messages: Sequence[tuple[str, datetime]]) -> Purged:
        self.actions.append(("delete", chat.community_id, chat.chat_id, {"ids": [m for m, _ in messages]}))
        return Purged(len(messages))


def _base(platform: Platform, community: str, user: str, *, private: bool, minutes: float,
          name: str | None = None, is_bot: bool = False) -> dict[str, Any]:
    if private:
        # A DM is its own "community" holding one private chat, as the adapters record it.
        community = f"dm-{user}"
    return {"platform": platform, "community_id": community, "chat_id": community, "user_id": user,
            "user_name": (name or user).title(), "username": name or user, "is_private": private,
            "is_bot": is_bot, "at": T0 + timedelta(minutes=minutes), "chat_title": f"{community} chat"}


def msg(user: str, text: str, *, platform: Platform = Platform.TELEGRAM, community: str = "tg-group",
        minutes: float = 0, reply_to: MessagePosted | None = None, name: str | None = None,
        is_bot: bool = False) -> MessagePosted:
    return MessagePosted(
        **_base(platform, community, user, private=False, minutes=minutes, name=name, is_bot=is_bot),
        message_id=f"m{next(_ids)}", text=text,
        reply_to_message_id=reply_to.message_id if reply_to else None,
        reply_to_user_id=reply_to.user_id if reply_to else None,
    )


def react(user: str, to: MessagePosted, emoji: str = "👍", *, minutes: float = 0) -> ReactionAdded:
    return ReactionAdded(**_base(to.platform, to.community_id, user, private=False, minutes=minutes),
                         message_id=to.message_id, emoji=emoji, target_user_id=to.user_id)


def joined(user: str, *, platform: Platform = Platform.TELEGRAM, community: str = "tg-group",
           minutes: float = 0) -> MemberJoined:
    return MemberJoined(**_base(platform, community, user, private=False, minutes=minutes),
                        message_id=f"j{next(_ids)}")


def cmd(user: str, name: str, *args: str, platform: Platform = Platform.TELEGRAM, community: str = "tg-group",
        private: bool = False, minutes: float = 0, reply_to_user: str | None = None) -> CommandInvoked:
    return CommandInvoked(
        **_base(platform, community, user, private=private, minutes=minutes),
        message_id=f"c{next(_ids)}", name=name, args=tuple(args),
        raw_text="/" + " ".join((name, *args)), reply_to_user_id=reply_to_user,
        reply_to_message_id="m-replied" if reply_to_user else None,
    )


def click(user: str, data: str, *, platform: Platform = Platform.TELEGRAM, community: str = "tg-group",
          minutes: float = 0) -> ButtonClicked:
    n = next(_ids)
    return ButtonClicked(**_base(platform, community, user, private=False, minutes=minutes),
                         message_id=f"b{n}", data=data, click_id=f"click{n}")


_CODE = re.compile(r"link code: ([A-Z0-9]+)")


def code_in(text: str) -> str:
    found = _CODE.search(text)
    assert found, f"no code in {text!r}"
    return found.group(1)


class Clock:
    """An injectable clock (``app.clock``)."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)
