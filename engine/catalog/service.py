"""Session-level catalog operations. Call them inside ``Store.write`` (writes) or
``Store.read`` (reads); they never commit, so a caller's transaction stays atomic.

Every interaction with an item is also written to the shared interaction log
(``interactions`` with ``item_id`` set), which is what :mod:`engine.recsys` trains on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from engine.args import is_ascii_number
from engine.catalog.items import ImportPlan, ItemError, ItemSpec, apply_edit, check_key, check_url, unique_key
from engine.catalog.paths import CatalogCycleError, validate_catalog
from engine.catalog.tables import CatalogCompletion, CatalogItem, CatalogRating
from engine.store.models import AuditEntry, Interaction
from engine.store.writer import Notice

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CompletionResult:
    """What ``/done`` did: ``new`` is False for a repeat; ``points`` actually paid."""

    item: CatalogItem
    new: bool
    points: int
    notices: list[Notice] = field(default_factory=list)


def spec_of(item: CatalogItem) -> ItemSpec:
    """The stored item as an :class:`ItemSpec` (for editing and validation)."""
    return ItemSpec(item.key, item.title, item.url, item.kind, tuple(item.tags or ()), item.description or "",
                    tuple(item.prerequisites or ()), int(item.points or 0))


def list_items(session: Session, community_id: int) -> list[CatalogItem]:
    """Every item of the community, oldest first."""
    return list(session.scalars(select(CatalogItem).where(CatalogItem.community_id == community_id)
                                .order_by(CatalogItem.id)))


def find_item(session: Session, community_id: int, ref: str) -> CatalogItem | None:
    """The item a member named: its key (any case), its URL, or ``#<id>``. None if no match."""
    ref = ref.strip()
    if not ref:
        return None
    query = select(CatalogItem).where(CatalogItem.community_id == community_id)
    if ref.startswith(("http://", "https://")):
        try:
            return session.scalars(query.where(CatalogItem.url == check_url(ref))).first()
        except ItemError:
            return None
    if ref.startswith("#") and is_ascii_number(ref[1:]):  # ASCII, bounded: "#²" is no id
        return session.scalars(query.where(CatalogItem.id == int(ref[1:]))).first()
    return session.scalars(query.where(CatalogItem.key == ref.lower())).first()


def prerequisite_map(session: Session, community_id: int) -> dict[str, list[str]]:
    """Item key → prerequisite keys for the community."""
    rows = session.execute(select(CatalogItem.key, CatalogItem.prerequisites)
                           .where(CatalogItem.community_id == community_id))
    return {key: list(prereqs or []) for key, prereqs in rows}


def taken_keys(session: Session, community_id: int) -> set[str]:
    return set(session.scalars(select(CatalogItem.key).where(CatalogItem.community_id == community_id)))


def free_key(session: Session, community_id: int, wanted: str) -> str:
    """``wanted`` or the first free ``wanted-N``, reading only keys that could clash
    (a catalog grows with every shared link and thread: never load all of it per event)."""
    clashing = set(session.scalars(select(CatalogItem.key).where(
        CatalogItem.community_id == community_id,
        or_(CatalogItem.key == wanted, CatalogItem.key.like(f"{wanted[:60]}-%")))))
    return unique_key(wanted, clashing)


def _audit(session: Session, community_id: int, actor: int | None, action: str, details: dict[str, Any],
           at: datetime) -> None:
    session.execute(insert(AuditEntry).values(community_id=community_id, actor_id=actor, action=action,
                                              target_member_id=None, details=details, at=at))


def _check_graph(session: Session, community_id: int, spec: ItemSpec, previous_key: str | None = None) -> None:
    if previous_key is None and not spec.prerequisites:
        return  # a new item nothing depends on yet, needing nothing, cannot close a cycle
    graph = prerequisite_map(session, community_id)
    if previous_key is not None:
        graph.pop(previous_key, None)
    missing = [p for p in spec.prerequisites if p not in graph and p != spec.key]
    if missing:
        raise ItemError(f"unknown prerequisite(s): {', '.join(missing)}")
    graph[spec.key] = list(spec.prerequisites)
    try:
        validate_catalog(graph)
    except CatalogCycleError as exc:
        raise ItemError(f"that would create a prerequisite cycle: {' → '.join([*exc.cycle, exc.cycle[0]])}") from exc


def add_item(session: Session, community_id: int, spec: ItemSpec, *, at: datetime,
             actor: int | None = None, thread_id: int | None = None) -> CatalogItem:
    """Insert a new item. Returns it (with its id).

    Raises :class:`ItemError` if the key or URL is already in the catalog, a
    prerequisite is unknown, or the prerequisites would form a cycle.
    """
    if session.scalars(select(CatalogItem.id).where(
            CatalogItem.community_id == community_id, CatalogItem.key == spec.key)).first() is not None:
        raise ItemError(f"key {spec.key!r} is already in the catalog")
    if spec.url is not None:
        other = session.scalars(select(CatalogItem.key).where(CatalogItem.community_id == community_id,
                                                              CatalogItem.url == spec.url)).first()
        if other is not None:
            raise ItemError(f"that link is already in the catalog as {other!r}")
    _check_graph(session, community_id, spec)
    item = CatalogItem(community_id=community_id, key=spec.key, kind=spec.kind, title=spec.title, url=spec.url,
                       tags=list(spec.tags), description=spec.description, prerequisites=list(spec.prerequisites),
                       points=spec.points, thread_id=thread_id, created_by=actor, created_at=at, updated_at=at)
    session.add(item)
    session.flush()
    if actor is not None:
        _audit(session, community_id, actor, "catalog.add", {"key": spec.key, "url": spec.url}, at)
    return item


def edit_item(session: Session, community_id: int, ref: str, field_name: str, value: str, *, at: datetime,
              actor: int | None = None) -> CatalogItem:
    """Change one field (see :data:`engine.catalog.items.EDITABLE`). Returns the item.

    Raises :class:`ItemError` for an unknown item or field, a bad value, a URL another
    item already has, or a prerequisite change that is unknown or cyclic.
    """
    item = find_item(session, community_id, ref)
    if item is None:
        raise ItemError(f"no catalog item {ref!r}")
    spec = apply_edit(spec_of(item), field_name, value)
    if spec.url is not None and spec.url != item.url:
        other = session.scalars(select(CatalogItem.key).where(CatalogItem.community_id == community_id,
                                                              CatalogItem.url == spec.url)).first()
        if other is not None:
            raise ItemError(f"that link is already in the catalog as {other!r}")
    if spec.prerequisites != tuple(item.prerequisites or ()):
        _check_graph(session, community_id, spec, previous_key=item.key)
    item.title, item.url, item.kind, item.tags = spec.title, spec.url, spec.kind, list(spec.tags)
    item.description, item.prerequisites, item.points = spec.description, list(spec.prerequisites), spec.points
    item.updated_at = at
    _audit(session, community_id, actor, "catalog.edit", {"key": item.key, "field": field_name.lower()}, at)
    session.flush()
    return item


def remove_item(session: Session, community_id: int, ref: str, *, at: datetime,
                actor: int | None = None) -> tuple[CatalogItem, list[str]]:
    """Delete an item (its completions/ratings go with it). Items that listed it as a
    prerequisite lose that prerequisite. Returns ``(removed item, keys of those items)``.
    Raises :class:`ItemError` for an unknown item.
    """
    item = find_item(session, community_id, ref)
    if item is None:
        raise ItemError(f"no catalog item {ref!r}")
    dependants = []
    for other in list_items(session, community_id):
        if item.key in (other.prerequisites or []):
            other.prerequisites = [p for p in other.prerequisites if p != item.key]
            other.updated_at = at
            dependants.append(other.key)
    _audit(session, community_id, actor, "catalog.remove", {"key": item.key, "dependants": dependants}, at)
    session.delete(item)
    session.flush()
    return item, dependants


def apply_import(session: Session, community_id: int, plan: ImportPlan, *, at: datetime) -> tuple[int, int]:
    """Write a validated :class:`ImportPlan`: new keys are inserted, existing keys updated.

    Returns ``(added, updated)``. Call in ONE transaction after
    :func:`engine.catalog.items.plan_import` succeeded, so a rejected import writes nothing.
    Raises :class:`ItemError` if a URL collides with a different existing item.
    """
    by_key = {item.key: item for item in list_items(session, community_id)}
    by_url = {item.url: item.key for item in by_key.values() if item.url}
    added = updated = 0
    for spec in plan.items:
        owner = by_url.get(spec.url) if spec.url else None
        if owner is not None and owner != spec.key:
            raise ItemError(f"line {spec.line}: the URL of {spec.key!r} is already item {owner!r}")
        item = by_key.get(spec.key)
        if item is None:
            item = CatalogItem(community_id=community_id, key=spec.key, created_at=at)
            session.add(item)
            by_key[spec.key] = item
            added += 1
        else:
            updated += 1
        item.title, item.url, item.kind, item.tags = spec.title, spec.url, spec.kind, list(spec.tags)
        item.description, item.prerequisites, item.points = spec.description, list(spec.prerequisites), spec.points
        item.updated_at = at
        if spec.url:
            by_url[spec.url] = spec.key
    session.flush()
    _audit(session, community_id, None, "catalog.import", {"added": added, "updated": updated}, at)
    return added, updated


def log_interaction(session: Session, community_id: int, member_id: int, item_id: int, kind: str, at: datetime,
                    *, message_id: int | None = None, thread_id: int | None = None, weight: float = 1.0) -> None:
    """Append one item interaction to the shared log (the recommender's training data)."""
    session.execute(insert(Interaction).values(
        community_id=community_id, member_id=member_id, kind=kind, target_member_id=None, item_id=item_id,
        message_id=message_id, thread_id=thread_id, weight=weight, at=at))


def _award_points(session: Session, community_id: int, member_id: int, item: CatalogItem,
                  at: datetime) -> tuple[int, list[Notice]]:
    # The points capability is another team's module: use it when it is installed.
    try:
        from engine.points import service as points_service
        from engine.points.projection import flush_everywhere
    except ImportError:
        return 0, []
    if item.points <= 0:
        return 0, []
    # A live points projection may hold deferred balance rows from earlier events of this
    # batch; write them before the service reads the balance.
    flush_everywhere(session)
    notices = points_service.award_completion(session, community_id, member_id, item.key, int(item.points), at,
                                              f"catalog:{item.id}")
    return int(item.points), list(notices)


def complete(session: Session, community_id: int, member_id: int, item: CatalogItem, at: datetime) -> CompletionResult:
    """Mark ``item`` done for the member, log a "completion" interaction and pay its
    points once. A repeat changes nothing and returns ``new=False``."""
    exists = session.get(CatalogCompletion, (item.id, member_id))
    if exists is not None:
        return CompletionResult(item, False, 0)
    session.add(CatalogCompletion(item_id=item.id, member_id=member_id, community_id=community_id, at=at))
    session.flush()
    log_interaction(session, community_id, member_id, item.id, "completion", at)
    points, notices = _award_points(session, community_id, member_id, item, at)
    return CompletionResult(item, True, points, notices)


def rate(session: Session, community_id: int, member_id: int, item: CatalogItem, stars: int, at: datetime) -> bool:
    """Store the member's 1–5 rating (replacing an earlier one). Ratings of 3+ are logged
    as a "rating" interaction (a positive signal); lower ones only stored. Returns True
    if the member had not rated the item before. Raises :class:`ItemError` outside 1–5."""
    if not 1 <= stars <= 5:
        raise ItemError("a rating is a whole number from 1 to 5")
    row = session.get(CatalogRating, (item.id, member_id))
    first = row is None
    if row is None:
        session.add(CatalogRating(item_id=item.id, member_id=member_id, stars=stars, at=at))
    else:
        row.stars, row.at = stars, at
    if stars >= 3:
        log_interaction(session, community_id, member_id, item.id, "rating", at, weight=float(stars))
    session.flush()
    return first


def completed_item_ids(session: Session, community_id: int, member_id: int) -> set[int]:
    """Ids of the items the member has completed in this community."""
    return set(session.scalars(select(CatalogCompletion.item_id).where(
        CatalogCompletion.community_id == community_id, CatalogCompletion.member_id == member_id)))


def count_items(session: Session, community_id: int) -> int:
    """Number of items in the community's catalog."""
    return int(session.scalar(select(func.count()).select_from(CatalogItem)
                              .where(CatalogItem.community_id == community_id)) or 0)


def forget_member(session: Session, member_id: int) -> int:
    """Privacy hook: erase a member's completions and ratings; returns rows deleted."""
    n = session.execute(delete(CatalogCompletion).where(CatalogCompletion.member_id == member_id)).rowcount  # type: ignore[attr-defined]
    n += session.execute(delete(CatalogRating).where(CatalogRating.member_id == member_id)).rowcount  # type: ignore[attr-defined]
    session.execute(update(CatalogItem).where(CatalogItem.created_by == member_id).values(created_by=None))
    return int(n)


def export_member(session: Session, member_id: int) -> dict[str, Any]:
    """Privacy hook: the member's completions and ratings, JSON-ready."""
    done = session.execute(
        select(CatalogItem.key, CatalogItem.title, CatalogCompletion.at)
        .join(CatalogItem, CatalogItem.id == CatalogCompletion.item_id)
        .where(CatalogCompletion.member_id == member_id)
    ).all()
    rated = session.execute(
        select(CatalogItem.key, CatalogRating.stars, CatalogRating.at)
        .join(CatalogItem, CatalogItem.id == CatalogRating.item_id)
        .where(CatalogRating.member_id == member_id)
    ).all()
    return {
        "completions": [{"item": k, "title": t, "at": at.isoformat()} for k, t, at in done],
        "ratings": [{"item": k, "stars": stars, "at": at.isoformat()} for k, stars, at in rated],
    }


def keys_of(items: Sequence[CatalogItem]) -> list[str]:
    """Item keys, in the given order."""
    return [item.key for item in items]


__all__ = [
    "CompletionResult", "add_item", "apply_import", "check_key", "complete", "completed_item_ids", "count_items",
    "edit_item", "export_member", "find_item", "forget_member", "keys_of", "list_items", "log_interaction", "prerequisite_map",
    "rate", "remove_item", "spec_of",
]
