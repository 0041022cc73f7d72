"""The store side of the self-check: which Telegram groups Cohort has seen."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.store.models import Chat
from engine.store.store import Store


async def known_group_chats(store: Store) -> list[str]:
    """External ids of the Telegram group chats in the store (private chats excluded)."""

    def query(session: Session) -> list[str]:
        rows = session.execute(
            select(Chat.external_id)
            .where(Chat.platform == "telegram", Chat.is_private.is_(False))
            .order_by(Chat.id)
        ).scalars()
        return [r for r in rows if r.startswith("-")]  # group ids are negative

    return await store.read(query)


def known_chats_reader(store: Store) -> Callable[[], Awaitable[list[str]]]:
    """A ``known_chats`` callable for :class:`TelegramAdapter` reading ``store``."""

    async def read() -> list[str]:
        return await known_group_chats(store)

    return read
