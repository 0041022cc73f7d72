"""The latest messages of a chat, for a terminal that joins a conversation already going on."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.store.models import Account, Chat, Community, Member, Message, Thread


@dataclass(frozen=True, slots=True)
class RecentMessage:
    message_id: str  # the platform's id (what a reply or reaction refers to)
    author_id: str  # the author's account id on that platform ("" when anonymous)
    author_name: str
    text: str


def recent_messages(session: Session, platform: str, community: str, chat: str, thread: str | None,
                    *, limit: int = 8) -> list[RecentMessage]:
    """The chat's (or forum topic's) last ``limit`` messages that are not commands, oldest
    first. Unknown chats give an empty list."""
    query = (
        select(Message.external_id, Account.external_id, Member.display_name, Message.text)
        .join(Chat, Chat.id == Message.chat_id)
        .join(Community, Community.id == Message.community_id)
        .outerjoin(Member, Member.id == Message.author_id)
        .outerjoin(Account, (Account.member_id == Message.author_id) & (Account.platform == platform))
        .where(Chat.platform == platform, Chat.external_id == chat, Community.external_id == community,
               Message.is_command.is_(False), Message.deleted_at.is_(None))
        .order_by(Message.posted_at.desc(), Message.id.desc())
        .limit(limit)
    )
    if thread is None:
        query = query.where(Message.thread_id.is_(None))
    else:
        query = query.join(Thread, Thread.id == Message.thread_id).where(Thread.external_id == thread)
    rows = session.execute(query).all()
    return [RecentMessage(str(mid), str(author or ""), str(name or "someone"), str(text or ""))
            for mid, author, name, text in reversed(rows)]
