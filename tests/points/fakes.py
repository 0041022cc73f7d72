"""Test doubles for the points tests: a fake Messenger (our port) and event builders."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.markup import to_plain
from bot.ports import Button, Capability, ChatRef, Role, SentMessage
from engine.events import CommandInvoked, Event, MessagePosted, Platform, ReactionAdded

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # a Monday
GROUP = "g1"
_ids = itertools.count(1)


@dataclass
class FakeMessenger:
    """Records replies, sends and role changes; ``roles`` maps user id -> platform role."""

    platform: Platform = Platform.TELEGRAM
    capabilities: frozenset[Capability] = frozenset({Capability.REPLY, Capability.SEND})
    roles: dict[str, Role] = field(default_factory=dict)
    replies: list[str] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    role_changes: list[tuple[str, str, str, bool]] = field(default_factory=list)

    async def reply(self, to: Event, text: str, *, buttons: Sequence[Button] = ()) -> SentMessage:
        self.replies.append(to_plain(text))
        return SentMessage(ChatRef.of(to), str(next(_ids)))

    async def send(self, chat: ChatRef, text: str, *, buttons: Sequence[Button] = ()) -> SentMessage:
        self.sent.append(to_plain(text))
        return SentMessage(chat, str(next(_ids)))

    async def dm(self, user_id: str, text: str, *, buttons: Sequence[Button] = ()) -> SentMessage:
        raise NotImplementedError

    async def send_picture(self, chat: ChatRef, png: bytes, caption: str = "") -> SentMessage:
        raise NotImplementedError

    async def send_document(self, user_id: str, filename: str, data: bytes, caption: str = "") -> SentMessage:
        raise NotImplementedError

    async def edit(self, message: SentMessage, text: str, *, buttons: Sequence[Button] = ()) -> None:
        return None

    async def role_of(self, community_id: str, user_id: str) -> Role:
        return self.roles.get(user_id, Role.MEMBER)

    async def set_role(self, community_id: str, user_id: str, role_name: str, present: bool) -> None:
        self.role_changes.append((community_id, user_id, role_name, present))

    @property
    def last(self) -> str:
        return self.replies[-1] if self.replies else ""


def msg(user: str, text: str, at: datetime, *, mid: str | None = None, chat: str = GROUP,
        reply_to: str | None = None, reply_user: str | None = None, is_bot: bool = False,
        thread: str | None = None, topic_start: bool = False, platform: Platform = Platform.TELEGRAM,
        forwarded: bool = False) -> MessagePosted:
    return MessagePosted(
        platform=platform, community_id=GROUP, chat_id=chat, user_id=user, at=at,
        message_id=mid or f"m{next(_ids)}", user_name=user.capitalize(), username=user, text=text,
        reply_to_message_id=reply_to, reply_to_user_id=reply_user, is_bot=is_bot, thread_id=thread,
        is_topic_start=topic_start, forwarded=forwarded,
    )


def react(user: str, mid: str, at: datetime, *, emoji: str = "👍", target: str | None = None,
          chat: str = GROUP, is_bot: bool = False) -> ReactionAdded:
    return ReactionAdded(platform=Platform.TELEGRAM, community_id=GROUP, chat_id=chat, user_id=user,
                         at=at, message_id=mid, emoji=emoji, target_user_id=target, username=user,
                         user_name=user.capitalize(), is_bot=is_bot)


def cmd(user: str, name: str, *args: str, at: datetime, reply_to: str | None = None,
        reply_user: str | None = None, private: bool = False) -> CommandInvoked:
    return CommandInvoked(
        platform=Platform.TELEGRAM, community_id="" if private else GROUP,
        chat_id=f"dm-{user}" if private else GROUP, user_id=user, at=at, message_id=f"c{next(_ids)}",
        username=user, user_name=user.capitalize(), name=name, args=tuple(args),
        raw_text=f"/{name} " + " ".join(args), reply_to_message_id=reply_to, reply_to_user_id=reply_user,
        is_private=private,
    )


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def sentence(i: int) -> str:
    """A distinct message long enough to earn points."""
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    return f"question {i}: how does {words[i % 8]} relate to {words[(i // 8) % 8]} {i * 7919}?"


async def ids(app: object, user: str) -> tuple[int, int]:
    """(community id, member id) of a user of the test group."""
    from sqlalchemy import select

    from engine.store.models import Account, Community

    def read(s: object) -> tuple[int, int]:
        cid = s.execute(select(Community.id).where(Community.external_id == GROUP)).scalar_one()  # type: ignore[attr-defined]
        mid = s.execute(select(Account.member_id).where(Account.external_id == user)).scalar_one()  # type: ignore[attr-defined]
        return int(cid), int(mid)

    return await app.store.read(read)  # type: ignore[attr-defined]


async def points(app: object, user: str) -> int:
    """A user's balance from the ledger, checked against the derived balance row."""
    from sqlalchemy import select

    from engine.points import service
    from engine.points.tables import PointsMember

    cid, mid = await ids(app, user)

    def read(s: object) -> int:
        ledger = service.balance(s, cid, mid)  # type: ignore[arg-type]
        row = s.execute(select(PointsMember.total).where(  # type: ignore[attr-defined]
            PointsMember.community_id == cid, PointsMember.member_id == mid)).scalar_one_or_none()
        assert (row or 0) == ledger, f"derived balance {row} != ledger {ledger}"
        return ledger

    return await app.store.read(read)  # type: ignore[attr-defined]


async def badges(app: object, user: str) -> set[str]:
    from engine.points import service

    cid, mid = await ids(app, user)
    return {b for b, _ in await app.store.read(lambda s: service.badges_of(s, cid, mid))}  # type: ignore[attr-defined]
