"""Outcomes and uplift: did flagged members come back within 7 days, treated vs control?

Analysis is intent-to-treat: a treated member counts as treated whether or not the DM got
through (blocked, DMs closed), because only the draw is random — dropping undelivered
members would compare the reachable with everyone. A member "returned" when they did
anything in the community (message, reply, reaction, thread, ...) in the 7 days after the
draw; clicks on the nudge itself, joins, leaves and commands do not count, or the nudge
would measure itself.

Per campaign the uplift interval is Newcombe's hybrid score interval; pooled (per
ranking policy, per community, over the whole database) it is the Mantel–Haenszel
stratified difference (see :mod:`engine.nudge.stats`). Guardrails — left, muted or
banned, blocked the bot, opted out of nudges — are counted the same way in both arms.
A campaign counts once its 7-day window has closed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, not_, select
from sqlalchemy.orm import Session

from engine.events import utcnow
from engine.nudge.policy import OUTCOME_DAYS
from engine.nudge.stats import Arms, Difference, newcombe, stratified, wald
from engine.nudge.tables import CONTROL, TREATED, NudgeAssignment, NudgeCampaign, NudgeClick, NudgePreference
from engine.store.models import Account, AuditEntry, Interaction, MembershipEvent

NOT_ACTIVITY = ("click", "join", "leave")
GUARDRAILS = ("left", "muted", "blocked", "opted_out")
WINDOW = timedelta(days=OUTCOME_DAYS)


@dataclass(frozen=True, slots=True)
class ArmOutcome:
    """One arm of one campaign (or pooled): members, returns and guardrail counts."""

    members: int = 0
    returned: int = 0
    left: int = 0
    muted: int = 0
    blocked: int = 0
    opted_out: int = 0
    delivered: int = 0  # treated only: the Notifier said sent
    unreachable: int = 0
    clicked: int = 0

    @property
    def rate(self) -> float:
        return self.returned / self.members if self.members else 0.0

    def __add__(self, other: ArmOutcome) -> ArmOutcome:
        return ArmOutcome(*(a + b for a, b in zip(_values(self), _values(other), strict=True)))


def _values(arm: ArmOutcome) -> tuple[int, ...]:
    return (arm.members, arm.returned, arm.left, arm.muted, arm.blocked, arm.opted_out, arm.delivered,
            arm.unreachable, arm.clicked)


@dataclass(frozen=True, slots=True)
class CampaignOutcome:
    campaign_id: int
    community_id: int
    run_on: date
    ranking: str
    closed: bool  # the 7-day window is over
    treated: ArmOutcome
    control: ArmOutcome
    uplift: Difference | None  # Newcombe; None while open or with an empty arm
    uplift_wald: Difference | None


@dataclass(frozen=True, slots=True)
class UpliftSummary:
    """The measured effect over closed campaigns: arm sizes, return rates, treated −
    control and its 95 % interval (``method`` names the interval)."""

    treated: int
    control: int
    treated_rate: float
    control_rate: float
    uplift: float
    ci_low: float
    ci_high: float
    campaigns: int
    method: str


@dataclass(frozen=True, slots=True)
class GuardrailRow:
    name: str
    treated: int
    control: int
    difference: Difference | None


@dataclass(frozen=True, slots=True)
class NudgeReport:
    community_id: int | None
    campaigns: list[CampaignOutcome]
    overall: UpliftSummary | None
    by_ranking: dict[str, UpliftSummary]
    guardrails: list[GuardrailRow]
    open_campaigns: int
    generated_at: datetime
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        def diff(d: Difference | None) -> dict[str, Any] | None:
            return None if d is None else asdict(d)
        return {
            "community_id": self.community_id,
            "generated_at": self.generated_at.isoformat(),
            "overall": None if self.overall is None else asdict(self.overall),
            "by_ranking": {k: asdict(v) for k, v in self.by_ranking.items()},
            "guardrails": [{"name": g.name, "treated": g.treated, "control": g.control,
                            "difference": diff(g.difference)} for g in self.guardrails],
            "open_campaigns": self.open_campaigns,
            "campaigns": [{"campaign_id": c.campaign_id, "community_id": c.community_id,
                           "run_on": c.run_on.isoformat(), "ranking": c.ranking, "closed": c.closed,
                           "treated": asdict(c.treated), "control": asdict(c.control),
                           "uplift": diff(c.uplift), "uplift_wald": diff(c.uplift_wald)}
                          for c in self.campaigns],
            "notes": self.notes,
        }


def _campaigns(session: Session, community_id: int | None) -> list[NudgeCampaign]:
    query = select(NudgeCampaign).order_by(NudgeCampaign.run_on, NudgeCampaign.id)
    if community_id is not None:
        query = query.where(NudgeCampaign.community_id == community_id)
    return list(session.scalars(query))


def campaign_outcome(session: Session, campaign: NudgeCampaign, now: datetime) -> CampaignOutcome:
    """Outcomes of one campaign's members (a campaign's members share one draw time)."""
    rows = session.execute(select(NudgeAssignment.id, NudgeAssignment.member_id, NudgeAssignment.arm,
                                  NudgeAssignment.assigned_at, NudgeAssignment.delivery,
                                  NudgeAssignment.delivered_at)
                           .where(NudgeAssignment.campaign_id == campaign.id)).all()
    closed = campaign.created_at + WINDOW <= now
    if not rows:
        return CampaignOutcome(int(campaign.id), int(campaign.community_id), campaign.run_on, campaign.ranking,
                               closed, ArmOutcome(), ArmOutcome(), None, None)
    start = min(r.assigned_at for r in rows)
    end = start + WINDOW
    members = [int(r.member_id) for r in rows]
    c = int(campaign.community_id)
    returned = _members(session, select(Interaction.member_id).where(
        Interaction.community_id == c, Interaction.member_id.in_(members), Interaction.at > start,
        Interaction.at <= end, Interaction.kind.not_in(NOT_ACTIVITY), not_(Interaction.kind.like("command:%"))))
    left = _members(session, select(MembershipEvent.member_id).where(
        MembershipEvent.community_id == c, MembershipEvent.member_id.in_(members), MembershipEvent.kind == "left",
        MembershipEvent.at > start, MembershipEvent.at <= end))
    muted = _members(session, select(AuditEntry.target_member_id).where(
        AuditEntry.community_id == c, AuditEntry.target_member_id.in_(members),
        AuditEntry.action.in_(("mute", "ban")), AuditEntry.at > start, AuditEntry.at <= end))
    opted = _members(session, select(NudgePreference.member_id).where(
        NudgePreference.member_id.in_(members), NudgePreference.opted_out.is_(True),
        NudgePreference.at > start, NudgePreference.at <= end))
    # Blocked: a later DM (of any purpose) found the account closed. A nudge refused at
    # delivery was closed before the nudge, so it is "unreachable", not a reaction to it.
    closed_at = {int(m): at for m, at in session.execute(select(Account.member_id, Account.dm_checked_at).where(
        Account.member_id.in_(members), Account.dm_reachable.is_(False), Account.dm_checked_at > start,
        Account.dm_checked_at <= end))}
    clicked = _members(session, select(NudgeAssignment.member_id).join(
        NudgeClick, NudgeClick.assignment_id == NudgeAssignment.id).where(NudgeAssignment.campaign_id == campaign.id))
    arms: dict[str, list[int]] = {TREATED: [0] * 9, CONTROL: [0] * 9}
    for r in rows:
        m = int(r.member_id)
        counts = arms[r.arm]
        blocked = m in closed_at and not (r.delivery == "unreachable" and r.delivered_at is not None
                                          and closed_at[m] <= r.delivered_at + timedelta(seconds=1))
        for i, hit in enumerate((True, m in returned, m in left, m in muted, blocked, m in opted,
                                 r.delivery == "sent", r.delivery == "unreachable", m in clicked)):
            counts[i] += int(hit)
    treated, control = ArmOutcome(*arms[TREATED]), ArmOutcome(*arms[CONTROL])
    uplift = wald_uplift = None
    if closed and treated.members and control.members:
        uplift = newcombe(treated.returned, treated.members, control.returned, control.members)
        wald_uplift = wald(treated.returned, treated.members, control.returned, control.members)
    return CampaignOutcome(int(campaign.id), c, campaign.run_on, campaign.ranking, closed, treated, control,
                           uplift, wald_uplift)


def _members(session: Session, query: Any) -> set[int]:
    return {int(m) for m in session.scalars(query.distinct()) if m is not None}


def summarise(outcomes: Sequence[CampaignOutcome]) -> UpliftSummary | None:
    """Pooled uplift over closed campaigns with both arms; None when there are none."""
    usable = [o for o in outcomes if o.closed and o.treated.members and o.control.members]
    if not usable:
        return None
    d = stratified([Arms(o.treated.returned, o.treated.members, o.control.returned, o.control.members)
                    for o in usable])
    treated = sum((o.treated for o in usable), ArmOutcome())
    control = sum((o.control for o in usable), ArmOutcome())
    return UpliftSummary(treated.members, control.members, treated.rate, control.rate, d.estimate, d.low, d.high,
                         len(usable), d.method)


def uplift_summary(session: Session, community_id: int | None, *, now: datetime | None = None) -> UpliftSummary | None:
    """The measured uplift of nudges in one community (None: every community in the
    database, pooled). None when no campaign has closed outcomes yet."""
    when = now or utcnow()
    return summarise([campaign_outcome(session, c, when) for c in _campaigns(session, community_id)])


def nudge_report(session: Session, community_id: int | None, *, now: datetime | None = None,
                 min_per_arm: int | None = None) -> NudgeReport:
    """Everything ``/nudge report`` and ``cohort nudge report`` show."""
    when = now or utcnow()
    outcomes = [campaign_outcome(session, c, when) for c in _campaigns(session, community_id)]
    closed = [o for o in outcomes if o.closed]
    by_ranking: dict[str, UpliftSummary] = {}
    for ranking in ("risk", "uplift"):
        summary = summarise([o for o in closed if o.ranking == ranking])
        if summary is not None:
            by_ranking[ranking] = summary
    treated = sum((o.treated for o in closed), ArmOutcome())
    control = sum((o.control for o in closed), ArmOutcome())
    guardrails = []
    for name in GUARDRAILS:
        t, c = getattr(treated, name), getattr(control, name)
        diff = (stratified([Arms(getattr(o.treated, name), o.treated.members, getattr(o.control, name),
                                 o.control.members) for o in closed])
                if any(o.treated.members and o.control.members for o in closed) else None)
        guardrails.append(GuardrailRow(name, t, c, diff))
    notes = []
    if min_per_arm is not None and (treated.members < min_per_arm or control.members < min_per_arm):
        notes.append(f"ranking by estimated uplift starts at {min_per_arm} outcomes per arm "
                     f"(now {treated.members} treated, {control.members} control)")
    notes.append("blocked: only seen when a later DM fails, so it is undercounted in both arms")
    return NudgeReport(community_id, outcomes, summarise(closed), by_ranking, guardrails,
                       sum(1 for o in outcomes if not o.closed), when, notes)


def outcome_table(session: Session, *, now: datetime | None = None) -> list[tuple[dict[str, float], bool, bool]]:
    """(features, treated, returned) for every member of every closed campaign: the
    uplift model's training data (randomised, so effects are identifiable)."""
    when = now or utcnow()
    out: list[tuple[dict[str, float], bool, bool]] = []
    for campaign in _campaigns(session, None):
        if campaign.created_at + WINDOW > when:
            continue
        rows = session.execute(select(NudgeAssignment.member_id, NudgeAssignment.arm, NudgeAssignment.features,
                                      NudgeAssignment.assigned_at).where(NudgeAssignment.campaign_id == campaign.id)).all()
        if not rows:
            continue
        start = min(r.assigned_at for r in rows)
        returned = _members(session, select(Interaction.member_id).where(and_(
            Interaction.community_id == campaign.community_id, Interaction.member_id.in_([r.member_id for r in rows]),
            Interaction.at > start, Interaction.at <= start + WINDOW, Interaction.kind.not_in(NOT_ACTIVITY),
            not_(Interaction.kind.like("command:%")))))
        out.extend((dict(r.features or {}), r.arm == TREATED, int(r.member_id) in returned) for r in rows)
    return out
