"""Planning a day's campaign: who is flagged, who is eligible, and the recorded draw.

:func:`plan_campaign` runs inside one write transaction: it reads the day's churn scores,
drops members who left, are banned or muted, opted out, cannot be reached by DM, are bots
or are still in their cooldown (from a nudge or a control draw in *any* community, so a
member of two communities gets one nudge, not two), ranks the rest, keeps as many as the
daily cap allows, draws the control group with the campaign's seed and stores campaign and
assignments before anything is sent. A second call for the same community and local day
finds the stored campaign (a restart, a repeated hour on a DST night) and draws nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.nudge.draw import Scored, campaign_seed, capacity, draw_arms, flag, rank
from engine.nudge.policy import NudgePolicy, policy_from
from engine.nudge.risk import RiskLike, RiskSource
from engine.nudge.tables import CONTROL, TREATED, NudgeAssignment, NudgeCampaign, NudgePreference
from engine.points.days import zone_of
from engine.store.base import table_of
from engine.store.community_settings import store_setting, stored_settings
from engine.store.models import Account, AuditEntry, Community, CommunityMember

# Scores older than this (days before the local run date) are a broken scoring job, not
# today's risk: the run says so instead of nudging on them.
MAX_SCORE_AGE_DAYS = 2
_CHUNK = 5_000
# Platforms Cohort can DM on (imported history has accounts but no way to message them).
DM_PLATFORMS = ("telegram", "discord", "console")

EXCLUSION_REASONS = ("left", "banned", "muted", "opted_out", "unreachable", "cooldown", "bot")

# (session, community id, today's eligible risks, now) → member id → estimated uplift, or
# None to rank by risk (too few outcomes yet, or the community chose risk).
UpliftRanker = Callable[[Session, int, Sequence[RiskLike], datetime], Mapping[int, float] | None]


@dataclass(frozen=True, slots=True)
class CommunityNudgeSettings:
    policy: NudgePolicy
    zone: tzinfo
    language: str
    title: str


def community_nudge_settings(session: Session, community_id: int, default_language: str = "en") -> CommunityNudgeSettings:
    """The community's nudge policy, timezone, language and title. Raises LookupError for
    an unknown community."""
    row = session.execute(select(Community.title).where(Community.id == community_id)).first()
    if row is None:
        raise LookupError(f"community {community_id} does not exist")
    stored = stored_settings(session, community_id)
    language = stored.get("language") if stored.get("language") in ("en", "zh") else default_language
    return CommunityNudgeSettings(policy_from(stored.get("nudge")), zone_of(stored), str(language), row[0] or "")


def store_nudge_settings(session: Session, community_id: int, values: Mapping[str, Any]) -> None:
    """Replace the community's ``nudge`` settings (validated by :mod:`engine.nudge.policy`)."""
    store_setting(session, community_id, "nudge", dict(values))


def stored_nudge_settings(session: Session, community_id: int) -> dict[str, Any]:
    nudge = stored_settings(session, community_id).get("nudge")
    return dict(nudge) if isinstance(nudge, Mapping) else {}


@dataclass(frozen=True, slots=True)
class Planned:
    """One member of a campaign: arm, rank (1 = first) and risk."""

    assignment_id: int | None
    member_id: int
    control: bool
    rank: int
    risk: float


@dataclass(frozen=True, slots=True)
class Plan:
    """The outcome of planning. ``status`` is ``planned`` (drawn now), ``exists`` (drawn
    earlier today), or why nothing was drawn: ``off``, ``paused``, ``quiet``,
    ``no_scores``, ``stale_scores``, ``nobody``. ``message`` says it in words."""

    status: str
    message: str
    community_id: int
    run_on: date
    campaign_id: int | None = None
    scored: int = 0
    flagged: int = 0
    eligible: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    members: tuple[Planned, ...] = ()
    ranking: str = "risk"

    @property
    def treated(self) -> list[Planned]:
        return [m for m in self.members if not m.control]

    @property
    def control(self) -> list[Planned]:
        return [m for m in self.members if m.control]


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i:i + _CHUNK]


def exclusions(session: Session, community_id: int, member_ids: Sequence[int], now: datetime,
               cooldown_days: int) -> dict[int, str]:
    """member id → the first reason (in :data:`EXCLUSION_REASONS` order) it cannot be nudged."""
    found: dict[str, set[int]] = {r: set() for r in EXCLUSION_REASONS}
    ids = sorted(set(member_ids))

    def mark(members: Iterable[int], reason: str) -> None:
        found[reason].update(int(m) for m in members)

    for chunk in _chunks(ids):
        present = {int(m): (left, opt) for m, left, opt in session.execute(
            select(CommunityMember.member_id, CommunityMember.left_at, CommunityMember.dm_opt_out)
            .where(CommunityMember.community_id == community_id, CommunityMember.member_id.in_(chunk)))}
        mark((m for m in chunk if m not in present or present[m][0] is not None), "left")
        # The latest moderation action on the member decides (an unban/unmute lifts).
        latest: dict[int, tuple[str, dict[str, Any]]] = {}
        for target, action, details in session.execute(
                select(AuditEntry.target_member_id, AuditEntry.action, AuditEntry.details)
                .where(AuditEntry.community_id == community_id, AuditEntry.target_member_id.in_(chunk),
                       AuditEntry.action.in_(("ban", "unban", "mute", "unmute")))
                .order_by(AuditEntry.at, AuditEntry.id)):
            latest[int(target)] = (str(action), dict(details or {}))
        for m, (action, details) in latest.items():
            if action == "ban":
                mark([m], "banned")
            elif action == "mute" and _still_muted(details, now):
                mark([m], "muted")
        mark((m for m in chunk if m in present and present[m][1]), "opted_out")
        mark(opted_out(session, chunk), "opted_out")
        accounts: dict[int, list[tuple[str, bool | None, bool]]] = {}
        for m, platform, reachable, is_bot in session.execute(
                select(Account.member_id, Account.platform, Account.dm_reachable, Account.is_bot)
                .where(Account.member_id.in_(chunk))):
            accounts.setdefault(int(m), []).append((str(platform), reachable, bool(is_bot)))
        mark((m for m, rows in accounts.items() if any(bot for _, _, bot in rows)), "bot")
        mark((m for m in chunk
              if not any(p in DM_PLATFORMS and r is not False for p, r, _ in accounts.get(m, []))), "unreachable")
        since = now - timedelta(days=cooldown_days)
        mark(session.scalars(select(NudgeAssignment.member_id).where(
            NudgeAssignment.member_id.in_(chunk), NudgeAssignment.assigned_at > since).distinct()), "cooldown")
    reasons: dict[int, str] = {}
    for reason in EXCLUSION_REASONS:  # the first reason in the documented order is reported
        for m in found[reason]:
            reasons.setdefault(m, reason)
    return reasons


def _still_muted(details: Mapping[str, Any], now: datetime) -> bool:
    until = details.get("until")
    if not until:
        return True  # muted until a moderator lifts it
    try:
        end = datetime.fromisoformat(str(until))
    except ValueError:
        return True
    return (end if end.tzinfo else end.replace(tzinfo=UTC)) > now


def opted_out(session: Session, member_ids: Sequence[int]) -> set[int]:
    """Members whose latest ``/nudges`` choice is off."""
    latest = (select(NudgePreference.member_id, func.max(NudgePreference.id).label("last"))
              .where(NudgePreference.member_id.in_(member_ids)).group_by(NudgePreference.member_id).subquery())
    rows = session.execute(select(NudgePreference.member_id).join(latest, NudgePreference.id == latest.c.last)
                           .where(NudgePreference.opted_out.is_(True)))
    return {int(m) for m in rows.scalars()}


def set_opt_out(session: Session, member_id: int, off: bool, at: datetime) -> bool:
    """Record ``/nudges off`` (``off=True``) or ``/nudges on``; False when it was already so."""
    if (member_id in opted_out(session, [member_id])) == off:
        return False
    session.add(NudgePreference(member_id=member_id, opted_out=off, at=at))
    session.flush()
    return True


def local_run_date(now: datetime, zone: tzinfo) -> date:
    return now.astimezone(zone).date()


def plan_campaign(session: Session, community_id: int, now: datetime, *, risks: RiskSource,
                  dry_run: bool = False, uplift: UpliftRanker | None = None,
                  default_language: str = "en") -> Plan:
    """Plan (or find) today's campaign for the community; see the module docstring.

    With ``dry_run`` nothing is written and a campaign already stored for today is
    ignored: the plan shows who *would* be drawn now. Never raises for policy or data
    problems (they come back as a status and message); raises LookupError for an unknown
    community.
    """
    conf = community_nudge_settings(session, community_id, default_language)
    policy = conf.policy
    local = now.astimezone(conf.zone)
    run_on = local.date()

    def stop(status: str, message: str, **extra: Any) -> Plan:
        return Plan(status, message, community_id, run_on, **extra)

    if not dry_run:
        if not policy.enabled:
            return stop("off", "Nudges are off in this community (an admin can turn them on with /nudge on).")
        if policy.paused:
            return stop("paused", "Nudges are paused (/nudge resume to continue).")
        if policy.quiet_at(local.hour):
            return stop("quiet", f"It is {local:%H:%M} there, inside the quiet hours; nothing is sent now.")
        existing = session.execute(select(NudgeCampaign).where(
            NudgeCampaign.community_id == community_id, NudgeCampaign.run_on == run_on)).scalar_one_or_none()
        if existing is not None:
            return _existing(session, existing)
    scores = list(risks(session, community_id, on_or_before=run_on))
    if not scores:
        return stop("no_scores", "No churn scores yet, so nobody is flagged: the churn model scores members "
                                 "daily once it has enough history (`cohort churn score`).")
    newest = max(r.scored_on for r in scores)
    if newest < run_on - timedelta(days=MAX_SCORE_AGE_DAYS):
        return stop("stale_scores", f"The newest churn scores are from {newest.isoformat()}; nudging on them "
                                    "would contact members on stale risk. Check the daily scoring job.",
                    scored=len(scores))
    scores = [r for r in scores if r.scored_on == newest]
    by_member = {r.member_id: r for r in scores}
    flagged = flag([Scored(r.member_id, r.risk) for r in scores], policy)
    if not flagged:
        return stop("nobody", f"Nobody is at risk today ({len(scores)} members scored, {policy.describe_selection()}).",
                    scored=len(scores))
    excluded = exclusions(session, community_id, [s.member_id for s in flagged], now, policy.cooldown_days)
    eligible = [s for s in flagged if s.member_id not in excluded]
    counts = dict(Counter(excluded.values()))
    ranking = "risk"
    if policy.ranking != "risk" and uplift is not None and eligible:
        estimates = uplift(session, community_id, [by_member[s.member_id] for s in eligible], now)
        if estimates is not None:
            ranking = "uplift"
            eligible = [Scored(s.member_id, s.risk, estimates.get(s.member_id)) for s in eligible]
    chosen = rank(eligible, ranking)[:capacity(policy.daily_cap, policy.control_fraction)]
    if not chosen:
        return stop("nobody", f"{len(flagged)} members are flagged but none can be nudged today ("
                    + ", ".join(f"{n} {r.replace('_', ' ')}" for r, n in sorted(counts.items())) + ").",
                    scored=len(scores), flagged=len(flagged), excluded=counts)
    seed = campaign_seed(community_id, run_on)
    arms = draw_arms([s.member_id for s in chosen], policy.control_fraction, seed, policy.daily_cap)
    members = [Planned(None, s.member_id, arms[s.member_id], i, s.risk) for i, s in enumerate(chosen, 1)]
    summary = {"scored": len(scores), "flagged": len(flagged), "eligible": len(eligible),
               "excluded": counts, "capped": max(0, len(eligible) - len(chosen))}
    if dry_run:
        return Plan("planned", "Dry run: nothing was stored or sent.", community_id, run_on, None, len(scores),
                    len(flagged), len(eligible), counts, tuple(members), ranking)
    campaign = NudgeCampaign(community_id=community_id, run_on=run_on, created_at=now, seed=seed,
                             control_fraction=policy.control_fraction, ranking=ranking, scores_on=newest,
                             policy=policy.as_dict(), counts=summary, status="planned")
    try:
        with session.begin_nested():
            session.add(campaign)
            session.flush()
    except IntegrityError:  # another process drew today's campaign at the same moment: theirs stands
        drawn = session.execute(select(NudgeCampaign).where(
            NudgeCampaign.community_id == community_id, NudgeCampaign.run_on == run_on)).scalar_one()
        return _existing(session, drawn)
    rows = []
    for planned, scored in zip(members, chosen, strict=True):
        rows.append(NudgeAssignment(
            campaign_id=campaign.id, community_id=community_id, member_id=planned.member_id,
            arm=CONTROL if planned.control else TREATED, rank=planned.rank, risk=planned.risk,
            uplift_score=scored.uplift, features=risk_features(by_member[planned.member_id], now),
            assigned_at=now))
    session.add_all(rows)
    session.flush()
    stored = tuple(Planned(int(r.id), p.member_id, p.control, p.rank, p.risk)
                   for r, p in zip(rows, members, strict=True))
    treated = sum(1 for m in stored if not m.control)
    return Plan("planned", f"Campaign {campaign.id}: {treated} to nudge, {len(stored) - treated} in control.",
                community_id, run_on, int(campaign.id), len(scores), len(flagged), len(eligible), counts,
                stored, ranking)


def risk_features(r: RiskLike, now: datetime) -> dict[str, float]:
    """The numbers the uplift model learns from, frozen at assignment time."""
    features = {"risk": float(r.risk)}
    if r.last_active is not None:
        features["days_inactive"] = max(0.0, (now - r.last_active).total_seconds() / 86400)
    for reason in r.reasons:
        features[f"reason:{reason.feature}"] = float(reason.weight)
    return features


def _existing(session: Session, campaign: NudgeCampaign) -> Plan:
    rows = session.execute(select(NudgeAssignment).where(NudgeAssignment.campaign_id == campaign.id)
                           .order_by(NudgeAssignment.rank)).scalars().all()
    members = tuple(Planned(int(a.id), int(a.member_id), a.arm == CONTROL, int(a.rank), float(a.risk)) for a in rows)
    counts = dict(campaign.counts or {})
    return Plan("exists", f"Today's campaign {campaign.id} was already drawn; resuming its deliveries.",
                int(campaign.community_id), campaign.run_on, int(campaign.id), int(counts.get("scored", 0)),
                int(counts.get("flagged", 0)), int(counts.get("eligible", 0)), dict(counts.get("excluded", {})),
                members, campaign.ranking)


# -- delivery bookkeeping ----------------------------------------------------------------

def undelivered(session: Session, campaign_id: int) -> list[tuple[int, int]]:
    """(assignment id, member id) of treated members without a delivery answer yet."""
    rows = session.execute(select(NudgeAssignment.id, NudgeAssignment.member_id).where(
        NudgeAssignment.campaign_id == campaign_id, NudgeAssignment.arm == TREATED,
        NudgeAssignment.delivery.is_(None)).order_by(NudgeAssignment.rank))
    return [(int(a), int(m)) for a, m in rows]


def record_deliveries(session: Session, campaign_id: int, results: Mapping[int, str], at: datetime) -> None:
    """Store the Notifier's answers (assignment id → sent | opted_out | unreachable |
    failed); marks the campaign sent once every treated member has one."""
    if results:  # one executemany for the chunk
        table = table_of(NudgeAssignment)
        session.connection().execute(
            update(table).where(table.c.id == bindparam("aid"), table.c.campaign_id == campaign_id)
            .values(delivery=bindparam("answer"), delivered_at=at),
            [{"aid": a, "answer": str(d)} for a, d in results.items()])
    if not undelivered(session, campaign_id):
        session.execute(update(NudgeCampaign).where(NudgeCampaign.id == campaign_id).values(status="sent"))


def open_campaigns(session: Session, community_id: int | None = None) -> list[int]:
    """Campaigns with treated members still waiting for a delivery (resumed on start)."""
    query = (select(NudgeAssignment.campaign_id).where(NudgeAssignment.arm == TREATED,
                                                      NudgeAssignment.delivery.is_(None)).distinct())
    if community_id is not None:
        query = query.where(NudgeAssignment.community_id == community_id)
    return sorted(int(c) for c in session.scalars(query))


def unreachable_members(session: Session, community_id: int, since: datetime) -> list[int]:
    """Members a nudge could not reach (403 / 50007) since ``since``, for moderators."""
    return sorted({int(m) for m in session.scalars(select(NudgeAssignment.member_id).where(
        NudgeAssignment.community_id == community_id, NudgeAssignment.delivery == "unreachable",
        NudgeAssignment.delivered_at >= since))})


def campaign_day(session: Session, campaign_id: int) -> date | None:
    return session.execute(select(NudgeCampaign.run_on).where(NudgeCampaign.id == campaign_id)).scalar_one_or_none()
