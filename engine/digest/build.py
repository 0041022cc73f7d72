"""One digest of one community over one period: everything an owner reads, as data.

:func:`build_digest` reads the store once (:func:`engine.social.log.load_activity` plus
points, catalog, audit, and churn / nudge results when those capabilities are
installed) and returns a :class:`Digest`; renderers turn it into Markdown, HTML, JSON
or a chart. Nothing here writes, except :func:`record_segments`.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from engine.digest.kpis import Day, Kpis, compute_kpis, daily
from engine.digest.tables import DigestSegmentSnapshot
from engine.points.days import midnight, zone_name, zone_of
from engine.refusal import Refusal
from engine.social.graph import Ranked, SocialReport, analyse
from engine.social.log import ActivityLog, load_activity
from engine.social.questions import Question, find_questions, top_answerers, unanswered
from engine.social.segments import Segmentation, movement, segment_members
from engine.social.topics import TopicReport, topics_of
from engine.store.community_settings import lookup, stored_settings
from engine.store.models import AuditEntry, Community, Interaction

PERIODS = {"week": 7, "month": 30}
RISK_THRESHOLD = 0.5


class PeriodError(Refusal, ValueError):
    """Not a digest period; the message lists the valid ones."""


@dataclass(frozen=True, slots=True)
class Period:
    kind: str
    start: datetime
    end: datetime

    @property
    def previous(self) -> Period:
        return Period(self.kind, self.start - (self.end - self.start), self.start)


def period_ending(kind: str, end: datetime, tz: tzinfo, *, whole_days: bool = False) -> Period:
    """The ``kind`` period ("week" = 7 local days, "month" = 30) up to ``end``: from the
    local midnight 6 (29) days before ``end``'s day to ``end`` itself, so today counts
    so far. With ``whole_days`` it ends at the local midnight that starts ``end``'s day
    (the 7 full days before it) — what scheduled digests use, so a re-run covers the
    same days. Raises PeriodError."""
    days = PERIODS.get(kind.lower().strip()) if isinstance(kind, str) else None
    if days is None:
        raise PeriodError(f"unknown period {kind!r}: use week or month")
    if whole_days:
        end = midnight(end.astimezone(tz).date(), tz)
        start = midnight(end.astimezone(tz).date() - timedelta(days=days), tz)
    else:
        start = midnight(end.astimezone(tz).date() - timedelta(days=days - 1), tz)
    return Period(kind.lower().strip(), start, end)


@dataclass(frozen=True, slots=True)
class RiskLine:
    member_id: int
    name: str
    risk: float
    reasons_en: tuple[str, ...]
    reasons_zh: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Uplift:
    treated: int
    control: int
    treated_rate: float
    control_rate: float
    uplift: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True, slots=True)
class Recommendations:
    main_impressions: int
    main_clicks: int
    explore_impressions: int
    explore_clicks: int


@dataclass
class Digest:
    community_id: int
    title: str
    platform: str
    language: str
    timezone: str
    period: Period
    kpis: Kpis
    previous: Kpis
    days: list[Day]
    social: SocialReport
    helpers: list[Ranked] = field(default_factory=list)  # points earned in the period
    answerers: list[Ranked] = field(default_factory=list)  # questions answered first
    segments: Segmentation = field(default_factory=Segmentation)
    segment_moves: list[tuple[str, str, int]] | None = None  # None: no earlier snapshot
    topics: TopicReport = field(default_factory=lambda: TopicReport("none"))
    unanswered: list[Question] = field(default_factory=list)
    answer_hours: float = 24.0
    at_risk: list[RiskLine] | None = None  # None: churn scoring not installed / never ran
    at_risk_total: int = 0
    at_risk_by_day: list[tuple[date, int]] | None = None
    uplift: Uplift | None = None
    uplift_available: bool = False  # the nudge capability is installed
    popular_items: list[tuple[str, int]] = field(default_factory=list)
    recommendations: Recommendations | None = None
    moderation: dict[str, int] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return self.kpis.messages == 0 and self.kpis.joined == 0 and not len(self.days_active)

    @property
    def days_active(self) -> list[Day]:
        return [d for d in self.days if d.active]

    def name(self, member_id: int) -> str:
        return self._names.get(member_id, f"member {member_id}")

    _names: dict[int, str] = field(default_factory=dict, repr=False)


def _optional(module: str) -> Any | None:
    """A sibling capability's module when installed (churn, nudge), else None."""
    if importlib.util.find_spec(module.rsplit(".", 1)[0]) is None:
        return None
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError:
        return None


def _helpers(session: Session, community_id: int, period: Period, log: ActivityLog, limit: int = 5) -> list[Ranked]:
    from engine.points.tables import PointsEntry

    total = func.sum(PointsEntry.amount)
    rows = session.execute(
        select(PointsEntry.member_id, total)
        .where(PointsEntry.community_id == community_id, PointsEntry.at >= period.start,
               PointsEntry.at < period.end)
        .group_by(PointsEntry.member_id).having(total > 0).order_by(total.desc(), PointsEntry.member_id)
        .limit(limit * 2)
    )
    return [Ranked(int(m), log.name(int(m)), float(t)) for m, t in rows if int(m) in log.members][:limit]


def _at_risk(session: Session, community_id: int, period: Period, log: ActivityLog,
             tz: tzinfo, digest: Digest) -> None:
    scores = _optional("engine.churn.scores")
    if scores is None:
        return
    last_day = (period.end - timedelta(microseconds=1)).astimezone(tz).date()
    risks = [r for r in scores.latest_risks(session, community_id, on_or_before=last_day)
             if r.member_id in log.members]
    risky = [r for r in risks if r.risk >= RISK_THRESHOLD]
    digest.at_risk_total = len(risky)
    digest.at_risk = [
        RiskLine(r.member_id, log.name(r.member_id), float(r.risk),
                 tuple(x.text_en for x in r.reasons[:2]), tuple(x.text_zh for x in r.reasons[:2]))
        for r in risky[:5]
    ]
    digest.at_risk_by_day = [
        (d.day, sum(1 for r in scores.latest_risks(session, community_id, on_or_before=d.day)
                    if r.risk >= RISK_THRESHOLD and r.member_id in log.members))
        for d in digest.days
    ]


def _uplift(session: Session, community_id: int, digest: Digest) -> None:
    report = _optional("engine.nudge.report")
    if report is None:
        return
    digest.uplift_available = True
    summary = report.uplift_summary(session, community_id)
    if summary is None:
        return
    digest.uplift = Uplift(
        int(summary.treated), int(summary.control),
        float(getattr(summary, "treated_rate", getattr(summary, "returned_treated", 0.0))),
        float(getattr(summary, "control_rate", getattr(summary, "returned_control", 0.0))),
        float(summary.uplift), float(summary.ci_low), float(summary.ci_high))


def _catalog(session: Session, community_id: int, period: Period, digest: Digest) -> None:
    from engine.catalog.tables import CatalogItem
    from engine.recsys.recommend import slot_stats

    count = func.count()
    rows = session.execute(
        select(CatalogItem.title, CatalogItem.key, count)
        .join(Interaction, Interaction.item_id == CatalogItem.id)
        .where(Interaction.community_id == community_id, Interaction.at >= period.start,
               Interaction.at < period.end)
        .group_by(CatalogItem.id, CatalogItem.title, CatalogItem.key).order_by(count.desc(), CatalogItem.key)
        .limit(5)
    )
    digest.popular_items = [(title or key, int(n)) for title, key, n in rows]
    stats = slot_stats(session, community_id, since=period.start)
    if stats.main_impressions or stats.explore_impressions:
        digest.recommendations = Recommendations(stats.main_impressions, stats.main_clicks,
                                                 stats.explore_impressions, stats.explore_clicks)


def _moderation(session: Session, community_id: int, period: Period) -> dict[str, int]:
    count = func.count()
    rows = session.execute(
        select(AuditEntry.action, count)
        .where(AuditEntry.community_id == community_id, AuditEntry.at >= period.start,
               AuditEntry.at < period.end, AuditEntry.action.in_(("warn", "mute", "ban", "unmute", "unban")))
        .group_by(AuditEntry.action)
    )
    return {str(a): int(n) for a, n in rows}


def last_snapshot(session: Session, community_id: int, before: date) -> dict[int, str] | None:
    taken = session.scalar(select(func.max(DigestSegmentSnapshot.taken_on)).where(
        DigestSegmentSnapshot.community_id == community_id, DigestSegmentSnapshot.taken_on < before))
    if taken is None:
        return None
    return {int(m): s for m, s in session.execute(
        select(DigestSegmentSnapshot.member_id, DigestSegmentSnapshot.segment).where(
            DigestSegmentSnapshot.community_id == community_id, DigestSegmentSnapshot.taken_on == taken))}


def snapshot_day(digest: Digest) -> date:
    tz = zone_of({"timezone": digest.timezone})
    return (digest.period.end - timedelta(microseconds=1)).astimezone(tz).date()


def record_segments(session: Session, digest: Digest) -> int:
    """Store the digest's segment labels as the snapshot of its last day (replacing one
    taken the same day), so the next digest can say who moved. Returns rows written."""
    taken = snapshot_day(digest)
    session.execute(delete(DigestSegmentSnapshot).where(
        DigestSegmentSnapshot.community_id == digest.community_id, DigestSegmentSnapshot.taken_on == taken))
    rows = [{"community_id": digest.community_id, "taken_on": taken, "member_id": m, "segment": s}
            for m, s in digest.segments.labels.items()]
    if rows:
        session.execute(insert(DigestSegmentSnapshot), rows)
    return len(rows)


def build_digest(session: Session, community_id: int, period: Period, *, now: datetime | None = None,
                 answer_hours: float = 24.0, default_language: str = "en") -> Digest:
    """The digest of ``community_id`` over ``period``. ``now`` (default: the period's end)
    decides which questions have waited long enough to count as unanswered.
    Raises LookupError for an unknown community."""
    community = session.get(Community, community_id)
    if community is None:
        raise LookupError(f"no community {community_id}")
    settings = stored_settings(session, community_id)
    tz = zone_of(settings)
    stored_language = lookup(settings, "language", None)
    language = stored_language if stored_language in ("en", "zh") else default_language
    now = now or period.end
    lookback = (period.end - period.start) + timedelta(days=31)
    log = load_activity(session, community_id, period.start, period.end, lookback=lookback)
    prev = period.previous
    questions = find_questions(log, start=period.start, end=period.end, hours=answer_hours)
    prev_questions = find_questions(log, start=prev.start, end=prev.end, hours=answer_hours)
    digest = Digest(
        community_id=community_id, title=community.title or community.external_id, platform=community.platform,
        language=str(language), timezone=zone_name(tz), period=period,
        kpis=compute_kpis(log, period.start, period.end, tz, questions),
        previous=compute_kpis(log, prev.start, prev.end, tz, prev_questions),
        days=daily(log, period.start, period.end, tz),
        social=analyse(log, period.start, period.end),
        answer_hours=answer_hours,
    )
    digest._names = {m: log.name(m) for m in log.members}
    digest.helpers = _helpers(session, community_id, period, log)
    digest.answerers = [Ranked(m, log.name(m), float(n)) for m, n in top_answerers(questions)]
    digest.segments = segment_members(log, period.end)
    before = last_snapshot(session, community_id, snapshot_day(digest))
    digest.segment_moves = movement(before, digest.segments.labels) if before is not None else None
    digest.topics = topics_of(log, period.start, period.end)
    digest.unanswered = unanswered(questions, now=now, hours=answer_hours)
    _at_risk(session, community_id, period, log, tz, digest)
    _uplift(session, community_id, digest)
    _catalog(session, community_id, period, digest)
    digest.moderation = _moderation(session, community_id, period)
    return digest
