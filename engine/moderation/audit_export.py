"""The audit log of one community as rows for export: every moderation action and
settings change with actor, target, reason and time (UTC and the community's timezone)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from engine.points.days import zone_of
from engine.store.community_settings import stored_settings
from engine.store.models import AuditEntry, Community, Member

COLUMNS = ("id", "at_utc", "at_local", "timezone", "action", "actor", "actor_id", "target", "target_id",
           "reason", "details")


def audit_rows(session: Session, community_id: int) -> list[dict[str, Any]]:
    """Every audit entry of the community, oldest first. Raises LookupError for an unknown one."""
    if session.get(Community, community_id) is None:
        raise LookupError(f"no community {community_id}")
    zone = zone_of(stored_settings(session, community_id))
    zone_name = getattr(zone, "key", "UTC")
    actor, target = aliased(Member), aliased(Member)
    rows = session.execute(
        select(AuditEntry, actor.display_name, target.display_name)
        .outerjoin(actor, actor.id == AuditEntry.actor_id)
        .outerjoin(target, target.id == AuditEntry.target_member_id)
        .where(AuditEntry.community_id == community_id)
        .order_by(AuditEntry.at, AuditEntry.id)
    ).all()
    out = []
    for entry, actor_name, target_name in rows:
        details = dict(entry.details or {})
        out.append({
            "id": int(entry.id), "at_utc": entry.at.isoformat(), "at_local": entry.at.astimezone(zone).isoformat(),
            "timezone": zone_name, "action": entry.action, "actor": actor_name or "", "actor_id": entry.actor_id,
            "target": target_name or "", "target_id": entry.target_member_id,
            "reason": str(details.get("reason", "")), "details": details,
        })
    return out


def to_csv(rows: list[dict[str, Any]]) -> str:
    """CSV with a header row; ``details`` as JSON; formula-like cells are quoted with a ' so a
    spreadsheet never runs a member's text."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS)
    writer.writeheader()
    for row in rows:
        cells = {k: (json.dumps(v, ensure_ascii=False, sort_keys=True) if k == "details" else v) for k, v in row.items()}
        writer.writerow({k: ("'" + v if isinstance(v, str) and v[:1] in "=+-@\t\r" else v) for k, v in cells.items()})
    return buf.getvalue()


def to_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, ensure_ascii=False, indent=1)
