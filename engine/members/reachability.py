"""Recording whether Cohort can DM an account: ``Account.dm_reachable`` / ``dm_checked_at``.

Messengers call an ``on_reachability(platform, user_id, reachable)`` hook after each DM
attempt; :func:`reachability_hook` builds that hook on a store, so nudges and digests can
skip members who closed their DMs instead of failing on them every time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from engine.events import utcnow
from engine.store.models import Account
from engine.store.store import Store


def mark_reachability(session: Session, platform: str, user_id: str, reachable: bool, at: datetime) -> bool:
    """Set the account's DM reachability in ``session``; True if the account exists.

    An account Cohort has never seen is not created here: reachability is a property of an
    account, and accounts are created from events with their names.
    """
    result = session.execute(
        update(Account)
        .where(Account.platform == platform, Account.external_id == user_id)
        .values(dm_reachable=reachable, dm_checked_at=at)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def record_reachability(store: Store, platform: str, user_id: str, reachable: bool,
                              at: datetime | None = None) -> bool:
    """Record through the single writer; returns whether an account row was updated."""
    when = at or utcnow()
    return await store.write(lambda s: mark_reachability(s, platform, user_id, reachable, when))


def reachability_hook(store: Store) -> Callable[[str, str, bool], Awaitable[None]]:
    """The ``on_reachability`` callback every platform messenger takes."""

    async def on_reachability(platform: str, user_id: str, reachable: bool) -> None:
        await record_reachability(store, platform, user_id, reachable)

    return on_reachability
