"""The store side of DM reachability: ``Account.dm_reachable`` / ``dm_checked_at``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from engine.events import utcnow
from engine.store.models import Account
from engine.store.store import Store


async def record_reachability(
    store: Store, platform: str, user_id: str, reachable: bool, *, at: datetime | None = None
) -> bool:
    """Set the account's DM reachability through the single writer.

    Returns True if an account was updated, False if Cohort has never seen that account
    (nothing is created). Raises whatever the write raised.
    """
    when = at or utcnow()

    def apply(session: Session) -> bool:
        result = session.execute(
            update(Account)
            .where(Account.platform == platform, Account.external_id == user_id)
            .values(dm_reachable=reachable, dm_checked_at=when)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    return await store.write(apply)


def reachability_recorder(store: Store) -> Callable[[str, str, bool], Awaitable[None]]:
    """A hook for ``TelegramAdapter(on_reachability=...)`` that writes to ``store``."""

    async def hook(platform: str, user_id: str, reachable: bool) -> None:
        await record_reachability(store, platform, user_id, reachable)

    return hook
