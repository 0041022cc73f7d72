"""A community's activity over a window, read once from the stored log into plain data.

Every analysis in :mod:`engine.social` and :mod:`engine.digest` works on an
:class:`ActivityLog`, so it can be built by hand in tests and benchmarks without a
database. Bots, commands and anonymous posts are left out here, once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from engine.store.models import (
    Account,
    Chat,
    Community,
    CommunityMember,
    Interaction,
    Member,
    MembershipEvent,
    Message,
    Thread,
)

# Interaction kinds that connect one member to another in the social graph.
EDGE_KINDS = ("reply", "mention", "reaction")
# Kinds that make a member "active" on a day (joining or a bare command does not).
ACTIVE_KINDS = ("message", "reply", "reaction", "thread_opened", "click")


@dataclass(frozen=True, slots=True)
class MemberInfo:
    member_id: int
    name: str
    joined_at: datetime
    left_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Post:
    """One message by a (non-bot) member."""

    id: int
    author_id: int
    at: datetime
    text: str
    external_id: str = ""
    chat_external_id: str = ""
    thread_id: int | None = None
    thread_external_id: str | None = None
    thread_title: str = ""
    reply_to_external_id: str | None = None
    reply_to_author_id: int | None = None
    is_topic_start: bool = False


@dataclass
class ActivityLog:
    """What happened in one community between ``start`` (incl.) and ``end`` (excl.).

    ``posts`` may reach back before ``start`` (``lookback``) so a reply in the window to
    an older question is understood; analyses filter by time themselves.
    ``edges`` columns: source member, target member, kind index into :data:`EDGE_KINDS`,
    unix seconds. ``active`` columns: member, unix seconds (one row per active act).
    """

    community_id: int
    platform: str
    community_external_id: str
    start: datetime
    end: datetime
    members: dict[int, MemberInfo] = field(default_factory=dict)
    posts: list[Post] = field(default_factory=list)
    edges: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), dtype=np.int64))
    active: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))
    joins: list[tuple[int, datetime]] = field(default_factory=list)
    leaves: list[tuple[int, datetime]] = field(default_factory=list)

    def name(self, member_id: int) -> str:
        info = self.members.get(member_id)
        return info.name if info and info.name else f"member {member_id}"

    def posts_between(self, start: datetime, end: datetime) -> list[Post]:
        return [p for p in self.posts if start <= p.at < end]


def ts(at: datetime) -> int:
    return int(at.timestamp())


def load_activity(session: Session, community_id: int, start: datetime, end: datetime,
                  *, lookback: timedelta = timedelta(days=30)) -> ActivityLog:
    """Read the community's members, posts, interactions and joins/leaves.

    Interactions and joins come from ``[start - lookback, end)`` (the previous period and
    last month's newcomers need them); members are everyone ever in the community who is
    not a bot. Raises LookupError for an unknown community.
    """
    community = session.get(Community, community_id)
    if community is None:
        raise LookupError(f"no community {community_id}")
    since = start - lookback
    bots = {int(m) for m in session.scalars(
        select(Account.member_id).where(Account.is_bot.is_(True)))}
    log = ActivityLog(community_id, community.platform, community.external_id, start, end)
    rows = session.execute(
        select(CommunityMember.member_id, CommunityMember.joined_at, CommunityMember.left_at,
               Member.display_name)
        .join(Member, Member.id == CommunityMember.member_id)
        .where(CommunityMember.community_id == community_id)
    )
    for member_id, joined_at, left_at, name in rows:
        if member_id not in bots:
            log.members[member_id] = MemberInfo(member_id, name or "", joined_at, left_at)
    post_rows = session.execute(
        select(Message.id, Message.author_id, Message.posted_at, Message.text, Message.external_id,
               Chat.external_id, Message.thread_id, Thread.external_id, Thread.title,
               Message.reply_to_external_id, Message.reply_to_author_id, Message.is_topic_start)
        .join(Chat, Chat.id == Message.chat_id)
        .outerjoin(Thread, Thread.id == Message.thread_id)
        .where(Message.community_id == community_id, Message.posted_at >= since,
               Message.posted_at < end, Message.author_id.is_not(None),
               Message.is_bot.is_(False), Message.is_command.is_(False),
               Message.deleted_at.is_(None))
        .order_by(Message.posted_at, Message.id)
    )
    for (mid, author, at, text, ext, chat_ext, thread_id, thread_ext, title,
         reply_ext, reply_author, topic_start) in post_rows:
        if author is None or author in bots:
            continue
        log.posts.append(Post(mid, author, at, text or "", ext, chat_ext, thread_id, thread_ext,
                              title or "", reply_ext, reply_author, bool(topic_start)))
    kinds = (*EDGE_KINDS, *ACTIVE_KINDS)
    inter = session.execute(
        select(Interaction.member_id, Interaction.target_member_id, Interaction.kind, Interaction.at)
        .where(Interaction.community_id == community_id, Interaction.at >= since,
               Interaction.at < end, Interaction.kind.in_(kinds), Interaction.item_id.is_(None))
    ).all()
    edge_index = {k: i for i, k in enumerate(EDGE_KINDS)}
    edges: list[tuple[int, int, int, int]] = []
    active: list[tuple[int, int]] = []
    for member, target, kind, at in inter:
        if member in bots:
            continue
        t = ts(at)
        if kind in ACTIVE_KINDS or kind in edge_index:
            active.append((member, t))
        if kind in edge_index and target is not None and target != member and target not in bots:
            edges.append((member, target, edge_index[kind], t))
    if edges:
        log.edges = np.asarray(edges, dtype=np.int64)
    if active:
        log.active = np.asarray(active, dtype=np.int64)
    for member, kind, at in session.execute(
        select(MembershipEvent.member_id, MembershipEvent.kind, MembershipEvent.at)
        .where(MembershipEvent.community_id == community_id,
               or_(and_(MembershipEvent.at >= since, MembershipEvent.at < end)))
    ):
        if member in bots:
            continue
        (log.joins if kind == "joined" else log.leaves).append((member, at))
    return log


def utc(at: datetime) -> datetime:
    """``at`` as an aware UTC datetime (naive values are taken as UTC)."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
