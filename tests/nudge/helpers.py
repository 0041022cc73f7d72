"""Typed fakes and a tiny database world for nudge tests (no chat platform involved)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from engine.nudge.campaign import store_nudge_settings
from engine.store.db import make_engine
from engine.store.models import Account, Community, CommunityMember, Member
from engine.store.store import Store

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
TODAY = NOW.date()


@dataclass(frozen=True, slots=True)
class FakeReason:
    feature: str
    text_en: str
    text_zh: str
    weight: float


@dataclass(frozen=True, slots=True)
class FakeRisk:
    member_id: int
    risk: float
    reasons: tuple[FakeReason, ...] = ()
    scored_on: date = TODAY
    last_active: datetime | None = None


@dataclass
class FakeRisks:
    """A RiskSource over a fixed table: community id → risks (highest first on read)."""

    table: dict[int, list[FakeRisk]] = field(default_factory=dict)
    calls: int = 0

    def __call__(self, session: Session, community_id: int, *, on_or_before: date | None = None) -> Sequence[FakeRisk]:
        self.calls += 1
        rows = [r for r in self.table.get(community_id, []) if on_or_before is None or r.scored_on <= on_or_before]
        return sorted(rows, key=lambda r: -r.risk)


def schema_engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'nudge.db'}")
    Store(engine).create_schema()
    return engine


@contextmanager
def session_of(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


def add_community(session: Session, name: str = "c1", *, settings: dict[str, Any] | None = None,
                  platform: str = "telegram") -> int:
    community = Community(platform=platform, external_id=name, title=name.upper(), settings=settings or {},
                          created_at=NOW - timedelta(days=100))
    session.add(community)
    session.flush()
    return int(community.id)


def add_member(session: Session, community_id: int, name: str, *, reachable: bool | None = True,
               platform: str = "telegram", ext: str | None = None, joined_days_ago: int = 60) -> int:
    member = Member(display_name=name, created_at=NOW - timedelta(days=joined_days_ago))
    session.add(member)
    session.flush()
    session.add(Account(platform=platform, external_id=ext or f"{platform}-{member.id}", member_id=member.id,
                        username=name.lower(), display_name=name, dm_reachable=reachable,
                        created_at=NOW - timedelta(days=joined_days_ago)))
    join(session, community_id, int(member.id), joined_days_ago)
    return int(member.id)


def join(session: Session, community_id: int, member_id: int, days_ago: int = 60) -> None:
    session.add(CommunityMember(community_id=community_id, member_id=member_id,
                                joined_at=NOW - timedelta(days=days_ago),
                                last_seen_at=NOW - timedelta(days=days_ago // 2)))
    session.flush()


def leave(session: Session, community_id: int, member_id: int) -> None:
    session.execute(update(CommunityMember).where(CommunityMember.community_id == community_id,
                                                  CommunityMember.member_id == member_id)
                    .values(left_at=NOW - timedelta(days=1)))


def enable(session: Session, community_id: int, **values: Any) -> None:
    store_nudge_settings(session, community_id, {"enabled": True, **values})
