"""Platform-neutral events: what happened in a community, as plain frozen data.

Adapters turn platform updates into these; handlers and the engine consume them.
An event never holds a live connection. Identifiers are strings so that Telegram's
64-bit ids, Discord snowflakes and console names all fit the same field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum


class Platform(StrEnum):
    TELEGRAM = "telegram"
    DISCORD = "discord"
    CONSOLE = "console"
    STACKEXCHANGE = "stackexchange"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Fields every event carries.

    ``community_id`` is the Telegram group / Discord guild; ``chat_id`` the chat or
    channel (equal to ``community_id`` for a Telegram group); ``thread_id`` the forum
    topic or Discord thread, if any. ``user_id`` is the platform account that acted;
    it is empty for anonymous events (a reaction count, a channel post).
    """

    platform: Platform
    community_id: str
    chat_id: str
    user_id: str
    at: datetime = field(default_factory=utcnow)
    thread_id: str | None = None
    message_id: str | None = None
    user_name: str = ""
    username: str = ""  # @handle where the platform has one
    is_bot: bool = False
    is_private: bool = False  # a DM with the bot
    chat_title: str = ""
    chat_username: str = ""  # a public group's @username, where the platform has one

    @property
    def kind(self) -> str:
        return _KIND_BY_TYPE[type(self)]

    @property
    def dedup_key(self) -> str:
        """A key that is equal for two deliveries of the same platform event."""
        return f"{self.platform}:{self.chat_id}:{self.message_id}:{self.kind}"


@dataclass(frozen=True, slots=True, kw_only=True)
class MessagePosted(Event):
    text: str = ""
    reply_to_message_id: str | None = None
    reply_to_user_id: str | None = None
    mentions: tuple[str, ...] = ()  # platform user ids (or @handles when only those are known)
    links: tuple[str, ...] = ()
    attachment: str | None = None  # "photo", "document", "sticker", "video", ...
    forwarded: bool = False
    sender_chat_id: str | None = None  # posted on behalf of a chat (anonymous admin, channel)
    is_topic_start: bool = False  # the first post of a forum topic / thread


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageEdited(Event):
    text: str = ""
    links: tuple[str, ...] = ()
    mentions: tuple[str, ...] = ()

    @property
    def dedup_key(self) -> str:
        return f"{self.platform}:{self.chat_id}:{self.message_id}:edited:{self.at.timestamp()}"


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageDeleted(Event):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class ReactionAdded(Event):
    """``message_id`` is the message reacted to; ``target_user_id`` its author if known.

    The key carries the reaction's time so that re-adding an emoji after removing it is a
    new event (Telegram stamps reaction updates, so its redeliveries keep their key). A
    redelivery that arrives with a new time (Discord's reaction payloads carry none) is
    stored as a repeat of an existing reaction: the reactions row is unchanged and points
    award at most once per reaction that stands.
    """

    emoji: str = ""
    target_user_id: str | None = None

    @property
    def dedup_key(self) -> str:
        return (
            f"{self.platform}:{self.chat_id}:{self.message_id}:reaction:"
            f"{self.user_id}:{self.emoji}:{self.at.timestamp()}"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ReactionRemoved(Event):
    emoji: str = ""
    target_user_id: str | None = None

    @property
    def dedup_key(self) -> str:
        return (
            f"{self.platform}:{self.chat_id}:{self.message_id}:unreaction:"
            f"{self.user_id}:{self.emoji}:{self.at.timestamp()}"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ReactionCountChanged(Event):
    """Anonymous reactions (Telegram channels, Stack Exchange votes): totals only."""

    emoji: str = ""
    count: int = 0

    @property
    def dedup_key(self) -> str:
        return f"{self.platform}:{self.chat_id}:{self.message_id}:count:{self.emoji}:{self.count}"


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberJoined(Event):
    invited_by: str | None = None

    @property
    def dedup_key(self) -> str:
        return f"{self.platform}:{self.community_id}:{self.user_id}:joined:{self.at.timestamp()}"


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberLeft(Event):
    @property
    def dedup_key(self) -> str:
        return f"{self.platform}:{self.community_id}:{self.user_id}:left:{self.at.timestamp()}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ThreadOpened(Event):
    """A forum topic or Discord thread was created; ``thread_id`` names it."""

    title: str = ""

    @property
    def dedup_key(self) -> str:
        return f"{self.platform}:{self.chat_id}:{self.thread_id}:thread"


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandInvoked(Event):
    """``/name args...``; ``name`` is lower-case without the slash or @botname."""

    name: str = ""
    args: tuple[str, ...] = ()
    raw_text: str = ""
    reply_to_message_id: str | None = None
    reply_to_user_id: str | None = None
    mentions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ButtonClicked(Event):
    """A click on an inline button; ``message_id`` is the message carrying it."""

    data: str = ""
    click_id: str = ""  # the platform's id for this click (callback query / interaction)

    @property
    def dedup_key(self) -> str:
        return f"{self.platform}:click:{self.click_id or self.message_id}:{self.user_id}:{self.data}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatMoved(Event):
    """The chat got a new platform id (a Telegram group upgraded to a supergroup):
    ``chat_id`` is the old id, ``new_chat_id`` the new one; history moves with it."""

    new_chat_id: str = ""

    @property
    def dedup_key(self) -> str:
        return f"{self.platform}:{self.chat_id}:moved:{self.new_chat_id}"


_KIND_BY_TYPE: dict[type[Event], str] = {
    MessagePosted: "message",
    MessageEdited: "message_edited",
    MessageDeleted: "message_deleted",
    ReactionAdded: "reaction_added",
    ReactionRemoved: "reaction_removed",
    ReactionCountChanged: "reaction_count",
    MemberJoined: "member_joined",
    MemberLeft: "member_left",
    ThreadOpened: "thread_opened",
    CommandInvoked: "command",
    ButtonClicked: "button_clicked",
    ChatMoved: "chat_moved",
}

ALL_EVENT_TYPES: tuple[type[Event], ...] = tuple(_KIND_BY_TYPE)
