"""Quarantine: keep what could not be ingested, bounded, for the operator to look at.

A dead letter holds a short reason and a bounded excerpt of the payload, never the whole
of it (an update can be megabytes or nested thousands deep).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine.events import utcnow
from engine.ingest.tables import DeadLetter
from engine.store.base import table_of
from engine.store.store import Store
from engine.text import clean_text

MAX_REASON = 300
MAX_EXCERPT = 500
_MAX_DEPTH = 6


@dataclass(frozen=True, slots=True)
class Quarantined:
    """An update set aside: ``key`` identifies it across redeliveries."""

    platform: str
    key: str
    reason: str
    excerpt: str
    received_at: datetime


def short(text: str, limit: int) -> str:
    """``text`` cleaned for storage and logs, cut to ``limit`` characters (with an ellipsis)."""
    text = clean_text(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def excerpt(payload: Any, limit: int = MAX_EXCERPT) -> str:
    """A JSON-like rendering of ``payload``, at most ``limit`` characters. Never raises.

    Walks at most ``_MAX_DEPTH`` levels and stops as soon as the budget is spent, so a huge
    or deeply nested payload costs no more than a small one.
    """
    out: list[str] = []
    budget = [limit + 1]

    def put(s: str) -> bool:
        if budget[0] <= 0:
            return False
        out.append(s[: budget[0]])
        budget[0] -= len(s)
        return budget[0] > 0

    def walk(value: Any, depth: int) -> bool:
        if isinstance(value, dict):
            if depth >= _MAX_DEPTH:
                return put("{…}")
            if not put("{"):
                return False
            for i, (k, v) in enumerate(value.items()):
                if (i and not put(", ")) or not put(_scalar(k) + ": ") or not walk(v, depth + 1):
                    return False
            return put("}")
        if isinstance(value, list | tuple):
            if depth >= _MAX_DEPTH:
                return put("[…]")
            if not put("["):
                return False
            for i, v in enumerate(value):
                if (i and not put(", ")) or not walk(v, depth + 1):
                    return False
            return put("]")
        return put(_scalar(value))

    try:
        walk(payload, 0)
    except Exception:  # a payload whose parts refuse to be shown
        out.append("<unprintable>")
    return short("".join(out), limit)


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        shown = value if len(value) <= 80 else value[:80] + f"…({len(value)} chars)"
        return json.dumps(shown, ensure_ascii=False)
    if isinstance(value, bool | int | float) or value is None:
        text = json.dumps(value) if not isinstance(value, int) or abs(value) < 10**30 else "<huge int>"
        return text
    return f"<{type(value).__name__}>"


def update_key(update_id: Any, payload: Any) -> str:
    """The platform's update id when it is a plain integer, else a hash of the excerpt."""
    if isinstance(update_id, int) and not isinstance(update_id, bool) and abs(update_id) < 2**63:
        return str(update_id)
    return "h:" + hashlib.blake2b(excerpt(payload, 4000).encode("utf-8", "replace"), digest_size=16).hexdigest()


def quarantined(platform: str, update_id: Any, payload: Any, reason: str) -> Quarantined:
    """What to store for a payload that could not be ingested (bounded in every field)."""
    return Quarantined(platform, update_key(update_id, payload), short(reason, MAX_REASON),
                       excerpt(payload), utcnow())


_INSERT: dict[str, Any] = {}


def store_dead_letter(session: Session, letter: Quarantined) -> bool:
    """Insert ``letter`` unless its (platform, key) is already there; True if it was new."""
    dialect = session.get_bind().dialect.name
    stmt = _INSERT.get(dialect)
    if stmt is None:
        ins = postgresql.insert(table_of(DeadLetter)) if dialect == "postgresql" else sqlite.insert(table_of(DeadLetter))
        stmt = _INSERT[dialect] = ins.on_conflict_do_nothing().returning(table_of(DeadLetter).c.id)
    row = session.connection().execute(stmt, {
        "platform": letter.platform, "update_key": letter.key[:64], "received_at": letter.received_at,
        "reason": letter.reason[:MAX_REASON], "excerpt": letter.excerpt[:MAX_EXCERPT],
    }).first()
    return row is not None


def dead_letter_hook(store: Store) -> Callable[[Quarantined], Awaitable[bool]]:
    """The ``on_quarantine`` callback an adapter takes: stores the letter, returns after commit."""

    async def on_quarantine(letter: Quarantined) -> bool:
        return await store.write(lambda session: store_dead_letter(session, letter))

    return on_quarantine


@dataclass(frozen=True, slots=True)
class DeadLetterSummary:
    count: int
    latest: list[tuple[datetime, str, str]]  # (received_at, platform, reason), newest first


def dead_letter_summary(session: Session, latest: int = 5) -> DeadLetterSummary:
    """How many updates were quarantined, and the newest ``latest`` reasons."""
    count = session.execute(select(func.count()).select_from(DeadLetter)).scalar_one()
    rows = session.execute(
        select(DeadLetter.received_at, DeadLetter.platform, DeadLetter.reason)
        .order_by(DeadLetter.received_at.desc(), DeadLetter.id.desc()).limit(latest)
    ).all()
    return DeadLetterSummary(int(count), [(r[0], r[1], r[2]) for r in rows])


def doctor_lines(session: Session, latest: int = 5) -> list[str]:
    """What ``cohort doctor`` says about quarantined updates (no token needed)."""
    summary = dead_letter_summary(session, latest)
    if not summary.count:
        return ["✓ [ingest] dead letters: none (every update received was stored)"]
    lines = [f"! [ingest] dead letters: {summary.count} update(s) quarantined; latest:"]
    for at, platform, reason in summary.latest:
        lines.append(f"    {at:%Y-%m-%d %H:%M} {platform}: {short(reason, 160)}")
    return lines
