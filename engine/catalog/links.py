"""Links that open a thread item where it lives: a Telegram topic message, a Discord jump URL.

An item made from a forum topic or thread has no URL of its own; :func:`thread_links` builds
one from what the store knows (the community's and chat's platform ids, the thread's id and
its first message). Only the public link formats are used — nothing here talks to a platform.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.catalog.tables import CatalogItem
from engine.store.models import Chat, Community, Message, Thread

_TELEGRAM_SUPERGROUP = "-100"  # a supergroup's chat id is -100 followed by its internal id


@dataclass(frozen=True, slots=True)
class ThreadPlace:
    """Where a thread lives, in the platform's own ids."""

    platform: str
    community: str  # Telegram: the group's chat id; Discord: the guild id
    chat: str  # the chat / channel the thread belongs to
    thread: str  # Telegram: the topic id; Discord: the thread's channel id
    message: str | None = None  # the thread's first stored message
    chat_username: str = ""  # a public Telegram group's @username, when known


def jump_link(place: ThreadPlace) -> str | None:
    """The URL that opens the thread (at its first message when known), or None where the
    platform has no such link (the console, a basic Telegram group, an imported archive)."""
    if place.platform == "telegram":
        message = place.message or place.thread
        if place.chat_username:  # a public group: t.me/<username>/<message>
            return f"https://t.me/{place.chat_username.lstrip('@')}/{message}"
        if not place.chat.startswith(_TELEGRAM_SUPERGROUP) or not place.chat[4:].isdigit():
            return None  # a basic group: messages there have no links
        internal = place.chat[len(_TELEGRAM_SUPERGROUP):]
        if place.message and place.message != place.thread:
            return f"https://t.me/c/{internal}/{place.thread}/{place.message}"
        return f"https://t.me/c/{internal}/{place.thread}"
    if place.platform == "discord":
        if not (place.community.isdigit() and place.thread.isdigit()):
            return None
        url = f"https://discord.com/channels/{place.community}/{place.thread}"
        return f"{url}/{place.message}" if place.message and place.message.isdigit() else url
    return None


def thread_links(session: Session, item_ids: Iterable[int]) -> dict[int, str]:
    """item id → jump link, for the given items that are threads with a link."""
    wanted = sorted(set(item_ids))
    if not wanted:
        return {}
    first_message = (select(Message.external_id).where(Message.thread_id == Thread.id)
                     .order_by(Message.posted_at, Message.id).limit(1).correlate(Thread).scalar_subquery())
    rows = session.execute(
        select(CatalogItem.id, Community.platform, Community.external_id, Chat.external_id, Thread.external_id,
               first_message, Chat.username)
        .join(Thread, Thread.id == CatalogItem.thread_id)
        .join(Chat, Chat.id == Thread.chat_id)
        .join(Community, Community.id == CatalogItem.community_id)
        .where(CatalogItem.id.in_(wanted))
    ).all()
    links: dict[int, str] = {}
    for item_id, platform, community, chat, thread, message, username in rows:
        url = jump_link(ThreadPlace(str(platform), str(community), str(chat), str(thread),
                                    str(message) if message is not None else None, str(username or "")))
        if url is not None:
            links[int(item_id)] = url
    return links

