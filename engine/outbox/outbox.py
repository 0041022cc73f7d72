"""Outbox rows: plan a notification, claim it for sending, record progress and outcome.

Every function runs inside the caller's session (the writer's transaction for writes).
A claim is one conditional UPDATE, so two processes on one database never both send a
row: only one moves it from ``planned`` (or from a ``sending`` left stale by a dead
process) to ``sending``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine.members.refs import affected
from engine.outbox.tables import OutboxEntry
from engine.store.base import table_of
from engine.store.models import Account, Community
from engine.store.recorder import insert_ignore

PLANNED = "planned"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
UNREACHABLE = "unreachable"
OPTED_OUT = "opted_out"
FINAL = frozenset({SENT, FAILED, UNREACHABLE, OPTED_OUT})


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """What it takes to (re)send one notification."""

    key: str
    member_id: int
    community_id: int | None
    purpose: str
    state: str
    text: str
    buttons: tuple[dict[str, str], ...]
    picture: bytes | None
    picture_name: str
    platform: str | None
    parts_done: int
    attempts: int


@dataclass(frozen=True, slots=True)
class DmTarget:
    """One of the member's accounts, with what Cohort knows about DMing it."""

    platform: str
    external_id: str
    dm_reachable: bool | None
    dm_checked_at: datetime | None


def plan(session: Session, *, key: str, member_id: int, community_id: int | None, purpose: str, text: str,
         buttons: Sequence[dict[str, str]], picture: bytes | None, picture_name: str, now: datetime) -> str:
    """Record the notification as planned unless its key exists; returns the row's state."""
    insert_ignore(session, table_of(OutboxEntry), {
        "key": key, "member_id": member_id, "community_id": community_id, "purpose": purpose,
        "state": PLANNED, "text": text, "buttons": list(buttons), "picture": picture,
        "picture_name": picture_name, "platform": None, "parts_done": 0, "attempts": 0,
        "last_error": None, "created_at": now, "updated_at": now, "sent_at": None,
    })
    return state_of(session, key) or PLANNED


def plan_many(session: Session, rows: Sequence[dict[str, Any]], now: datetime) -> dict[str, str]:
    """:func:`plan` for many notifications in one statement (each ``rows`` item has
    ``key``, ``member_id``, ``community_id``, ``purpose``, ``text``, ``buttons``, ``picture``,
    ``picture_name``); returns key → the row's state (existing rows keep theirs)."""
    if not rows:
        return {}
    table = table_of(OutboxEntry)
    dialect = session.get_bind().dialect.name
    ins = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    values = [{**r, "buttons": list(r["buttons"]), "state": PLANNED, "platform": None, "parts_done": 0,
               "attempts": 0, "last_error": None, "created_at": now, "updated_at": now, "sent_at": None}
              for r in rows]
    session.connection().execute(ins.on_conflict_do_nothing(), values)
    keys = [r["key"] for r in rows]
    states: dict[str, str] = {}
    for i in range(0, len(keys), 500):
        found = session.execute(select(OutboxEntry.key, OutboxEntry.state).where(OutboxEntry.key.in_(keys[i:i + 500])))
        states.update((str(k), str(v)) for k, v in found)
    return states


def state_of(session: Session, key: str) -> str | None:
    return session.execute(select(OutboxEntry.state).where(OutboxEntry.key == key)).scalar_one_or_none()


def claim(session: Session, key: str, now: datetime, *, stale_before: datetime) -> OutboxRow | None:
    """Move the row to ``sending`` (one more attempt) and return it; None when it is final,
    gone (the member was forgotten) or being sent by someone else right now."""
    claimable = or_(OutboxEntry.state == PLANNED,
                    and_(OutboxEntry.state == SENDING, OutboxEntry.updated_at < stale_before))
    changed = affected(session, update(OutboxEntry).where(OutboxEntry.key == key, claimable)
                       .values(state=SENDING, attempts=OutboxEntry.attempts + 1, updated_at=now))
    if not changed:
        return None
    e = session.execute(select(OutboxEntry).where(OutboxEntry.key == key)).scalar_one()
    return OutboxRow(e.key, e.member_id, e.community_id, e.purpose, e.state, e.text,
                     tuple(dict(b) for b in e.buttons or ()), e.picture, e.picture_name, e.platform,
                     e.parts_done, e.attempts)


def touch(session: Session, key: str, now: datetime, *, error: str | None = None) -> None:
    """Keep a ``sending`` row fresh between retries (so no one takes it over as stale)."""
    values: dict[str, Any] = {"updated_at": now}
    if error is not None:
        values["last_error"] = error[:500]
    session.execute(update(OutboxEntry).where(OutboxEntry.key == key).values(**values))


def progress(session: Session, key: str, *, parts_done: int, platform: str, now: datetime) -> None:
    """A part was delivered on ``platform``: never send it again."""
    session.execute(update(OutboxEntry).where(OutboxEntry.key == key)
                    .values(parts_done=parts_done, platform=platform, updated_at=now))


def finish(session: Session, key: str, state: str, now: datetime, *, error: str | None = None,
           platform: str | None = None) -> None:
    """Record the final state; the picture is dropped (kept only while it may be sent)."""
    values: dict[str, Any] = {"state": state, "updated_at": now, "picture": None}
    if state == SENT:
        values["sent_at"] = now
    if error is not None:
        values["last_error"] = error[:500]
    if platform is not None:
        values["platform"] = platform
    session.execute(update(OutboxEntry).where(OutboxEntry.key == key).values(**values))


def resumable(session: Session, *, stale_before: datetime, limit: int = 500) -> list[str]:
    """Keys to (re)send: planned ones, and ``sending`` ones nobody touched since ``stale_before``."""
    query = (select(OutboxEntry.key)
             .where(or_(OutboxEntry.state == PLANNED,
                        and_(OutboxEntry.state == SENDING, OutboxEntry.updated_at < stale_before)))
             .order_by(OutboxEntry.id).limit(limit))
    return list(session.execute(query).scalars())


def dm_targets(session: Session, member_id: int, community_id: int | None) -> list[DmTarget]:
    """The member's (non-bot) accounts, best first: the community's own platform, then
    accounts known to accept DMs, then untried ones, then ones that refused."""
    home = None
    if community_id is not None:
        home = session.execute(select(Community.platform).where(Community.id == community_id)).scalar_one_or_none()
    rows = session.execute(
        select(Account.platform, Account.external_id, Account.dm_reachable, Account.dm_checked_at)
        .where(Account.member_id == member_id, Account.is_bot.is_(False)).order_by(Account.id)
    ).all()
    targets = [DmTarget(p, x, r, c) for p, x, r, c in rows]
    rank = {True: 0, None: 1, False: 2}
    return sorted(targets, key=lambda t: (t.platform != home, rank[t.dm_reachable]))
