"""The one place that reads and writes ``Community.settings`` (JSON): per-community values
by dotted key (``timezone``, ``digest.send_at`` → ``settings["digest"]["send_at"]``).

Defaults, types and validation are declared by the capability owning a key (its
``SettingSpec``); this module only fetches and stores what it is given. A write drops the
community's cached settings in the writer's projections (they re-read on the next event).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from engine.store.models import Chat, Community
from engine.store.writer import projections_in

MISSING: Any = object()


def stored_settings(session: Session, community_id: int) -> dict[str, Any]:
    """The community's stored settings dict (empty for an unknown community)."""
    raw = session.execute(select(Community.settings).where(Community.id == community_id)).scalar_one_or_none()
    return dict(raw) if isinstance(raw, dict) else {}


def store_setting(session: Session, community_id: int, key: str, value: Any) -> Any:
    """Store ``value`` (already validated) at the dotted ``key``; returns the previous value
    (None when unset). Raises LookupError for an unknown community. Call inside ``Store.write``."""
    raw = session.execute(select(Community.settings).where(Community.id == community_id)).one_or_none()
    if raw is None:
        raise LookupError(f"no community {community_id}")
    current: dict[str, Any] = dict(raw[0]) if isinstance(raw[0], dict) else {}
    *path, last = key.split(".")
    node = current
    for part in path:  # copies on the way: the JSON column is written only for a new object
        child = node.get(part)
        node[part] = dict(child) if isinstance(child, dict) else {}
        node = node[part]
    previous = node.get(last)
    node[last] = value
    session.execute(update(Community).where(Community.id == community_id).values(settings=current))
    for projection in projections_in(session):
        invalidate = getattr(projection, "invalidate", None)
        if invalidate is not None:
            invalidate(community_id)
    return previous


def lookup(settings: dict[str, Any], key: str, default: Any = MISSING) -> Any:
    """``settings`` at the dotted ``key``; ``default`` when absent (or not a dict on the way)."""
    node: Any = settings
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


@dataclass(frozen=True, slots=True)
class CommunityRow:
    id: int
    platform: str
    external_id: str
    settings: dict[str, Any]


def group_communities(session: Session) -> list[CommunityRow]:
    """Every community that has a group chat (a private chat with the bot is recorded as a
    community of its own; per-community jobs skip those)."""
    has_group = exists().where(Chat.community_id == Community.id, Chat.is_private.is_(False))
    rows = session.execute(
        select(Community.id, Community.platform, Community.external_id, Community.settings)
        .where(has_group).order_by(Community.id)
    ).all()
    return [CommunityRow(int(i), p, x, dict(s) if isinstance(s, dict) else {}) for i, p, x, s in rows]
