"""Ports: what handlers may ask of a chat platform, and the words they share.

Adapters implement :class:`Messenger`. Handlers receive one and never see an SDK type.
Text handed to a messenger uses a small HTML subset (``<b> <i> <code> <pre> <a href>``)
with user content escaped by :func:`bot.markup.esc`; each adapter renders it the way its
platform reads well (Telegram HTML, Discord Markdown, plain text on the console).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Protocol, runtime_checkable

from engine.events import Event, Platform

Clock = Callable[[], datetime]  # now, aware UTC; injected as ``clock`` (tests pass their own)


class Role(IntEnum):
    """Privilege levels, ordered: a command declares the least one it needs."""

    MEMBER = 0
    MODERATOR = 1
    ADMIN = 2
    OWNER = 3


class Capability(StrEnum):
    REPLY = "reply"
    SEND = "send"
    DM = "dm"
    PICTURE = "picture"
    DOCUMENT = "document"
    BUTTONS = "buttons"
    EDIT = "edit"
    REACT = "react"
    ROLES = "roles"  # grant/remove a platform role (Discord level rewards)
    MODERATE = "moderate"  # mute / ban


class Unsupported(Exception):
    """The platform cannot do this (e.g. grant a role on Telegram)."""

    def __init__(self, platform: Platform | str, capability: Capability | str) -> None:
        super().__init__(f"{platform} cannot {capability}")
        self.platform = platform
        self.capability = capability


class NotReachable(Exception):
    """A member cannot be messaged directly (never opened the bot, blocked it, DMs closed).

    Raised by :meth:`Messenger.dm`; callers record it and do not retry.
    """

    def __init__(self, user_id: str, reason: str) -> None:
        super().__init__(f"user {user_id} is not reachable by DM: {reason}")
        self.user_id = user_id
        self.reason = reason


class PlatformError(Exception):
    """The platform refused or failed after the adapter's own retries (5xx, timeouts)."""


@dataclass(frozen=True, slots=True)
class Button:
    """An inline button: either ``data`` (comes back as ButtonClicked) or ``url``."""

    label: str
    data: str = ""
    url: str = ""


@dataclass(frozen=True, slots=True)
class ChatRef:
    """Where to send: a chat and optionally a thread/topic in it."""

    platform: Platform
    community_id: str
    chat_id: str
    thread_id: str | None = None

    @classmethod
    def of(cls, event: Event) -> ChatRef:
        return cls(event.platform, event.community_id, event.chat_id, event.thread_id)


@dataclass(frozen=True, slots=True)
class SentMessage:
    chat: ChatRef
    message_id: str


@runtime_checkable
class Messenger(Protocol):
    """What a handler may ask a platform to do.

    Every method raises :class:`Unsupported` when the platform has no such thing,
    :class:`NotReachable` for a DM that cannot be delivered, and :class:`PlatformError`
    when the platform keeps failing after the adapter's retries.
    """

    @property
    def platform(self) -> Platform: ...

    @property
    def capabilities(self) -> frozenset[Capability]: ...

    async def reply(
        self, to: Event, text: str, *, buttons: Sequence[Button] = ()
    ) -> SentMessage: ...

    async def send(
        self, chat: ChatRef, text: str, *, buttons: Sequence[Button] = ()
    ) -> SentMessage: ...

    async def dm(
        self, user_id: str, text: str, *, buttons: Sequence[Button] = ()
    ) -> SentMessage: ...

    async def send_picture(self, chat: ChatRef, png: bytes, caption: str = "") -> SentMessage: ...

    async def send_document(
        self, user_id: str, filename: str, data: bytes, caption: str = ""
    ) -> SentMessage:
        """Send a file to a member by DM (``/mydata``)."""
        ...

    async def edit(
        self, message: SentMessage, text: str, *, buttons: Sequence[Button] = ()
    ) -> None: ...

    async def role_of(self, community_id: str, user_id: str) -> Role:
        """The member's role as the platform sees it (Cohort's own moderator list is added
        by the router)."""
        ...


@dataclass(frozen=True, slots=True)
class Purged:
    """What :meth:`Moderating.delete_messages` did: how many messages went, and how many it
    left because the platform lets bots delete only younger ones (Telegram 48 h, Discord's
    bulk delete 14 days)."""

    deleted: int
    too_old: int = 0


@runtime_checkable
class Moderating(Protocol):
    """What a messenger declaring :attr:`Capability.MODERATE` also offers.

    ``community_id`` is the platform's id of the group or server, ``user_id`` the member's
    platform id. ``mute`` and ``ban`` return when the restriction really ends (a platform
    may shorten it: Discord caps timeouts at 28 days), or None for "until lifted"; a
    platform without timed bans returns None for a timed ``ban`` and the caller lifts it
    when it is due. Every method raises :class:`PlatformError` with a short human reason
    when the platform refuses (no rights, a member who ranks above the bot, ...).
    """

    async def mute(self, community_id: str, user_id: str, *, until: datetime | None,
                   reason: str) -> datetime | None: ...

    async def unmute(self, community_id: str, user_id: str) -> None: ...

    async def ban(self, community_id: str, user_id: str, *, reason: str,
                  until: datetime | None = None) -> datetime | None: ...

    async def unban(self, community_id: str, user_id: str) -> None: ...

    async def kick(self, community_id: str, user_id: str, *, reason: str) -> None:
        """Remove a member who may come back (by invite link)."""
        ...

    async def delete_messages(self, chat: ChatRef, messages: Sequence[tuple[str, datetime]]) -> Purged:
        """Delete these messages (platform id, when posted) in ``chat``."""
        ...


@runtime_checkable
class DirectPictures(Protocol):
    """What a messenger that can DM a picture shown inline (not as a file) also offers.

    Raises like :meth:`Messenger.dm` (``NotReachable``, ``PlatformError``)."""

    async def dm_picture(self, user_id: str, png: bytes, *, filename: str = "chart.png",
                         caption: str = "") -> SentMessage: ...


@runtime_checkable
class DeepLinks(Protocol):
    """What a messenger whose platform opens a private chat with the bot from a link also
    offers (Telegram's ``https://t.me/<bot>?start=<payload>``)."""

    def private_chat_link(self, payload: str) -> str | None:
        """The link, or None when the bot's name is not known yet."""
        ...
