"""A simulated A/B test on the simulator's community, shared by the unit test and
``benchmarks/nudge.py``.

The simulator's history (engine/sim) is loaded into the interaction log up to the
campaign time with a small bulk loader (members, memberships, activity, leaves — what
outcomes read; the full recorder is measured elsewhere and is 10× slower), members are
scored by recency, a real campaign is planned and drawn, then the history after the
campaign is loaded: who returns *naturally*. The injected effect: each treated member
who did not return naturally is brought back with probability ``p`` (an extra message two
days after the nudge). The true sample effect is (injected returns) / (treated members);
the report's interval should cover it, and cover 0 when ``p = 0``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import Engine, insert, update
from sqlalchemy.orm import Session

from engine.events import Event, MemberJoined, MemberLeft, MessagePosted, ReactionAdded
from engine.nudge.campaign import Plan, plan_campaign, store_nudge_settings
from engine.nudge.report import NudgeReport, nudge_report
from engine.sim import simulate_community
from engine.store.models import Account, Community, CommunityMember, Interaction, Member, MembershipEvent
from tests.nudge.helpers import FakeRisk, FakeRisks

START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ABResult:
    plan: Plan
    report: NudgeReport
    injected: int
    true_effect: float


class _Loader:
    def __init__(self, session: Session, community_id: int) -> None:
        self.s = session
        self.c = community_id
        self.members: dict[str, int] = {}
        self.last: dict[int, datetime] = {}

    def member(self, ev: Event) -> int:
        found = self.members.get(ev.user_id)
        if found is None:
            m = int(self.s.execute(insert(Member).values(display_name=ev.user_name, created_at=ev.at)
                                   .returning(Member.id)).scalar_one())
            self.s.execute(insert(Account).values(platform="console", external_id=ev.user_id, member_id=m,
                                                  username=ev.username, display_name=ev.user_name, is_bot=False,
                                                  dm_reachable=True, created_at=ev.at))
            self.s.execute(insert(CommunityMember).values(community_id=self.c, member_id=m, joined_at=ev.at,
                                                          last_seen_at=ev.at, role=0, dm_opt_out=False))
            self.members[ev.user_id] = found = m
        return found

    def load(self, events: Iterator[Event], until: datetime) -> Event | None:
        rows: list[dict[str, object]] = []
        pending = None
        for ev in events:
            if ev.at >= until:
                pending = ev
                break
            m = self.member(ev)
            if isinstance(ev, MemberLeft):
                self.s.execute(update(CommunityMember).where(CommunityMember.community_id == self.c,
                                                             CommunityMember.member_id == m).values(left_at=ev.at))
                self.s.execute(insert(MembershipEvent).values(community_id=self.c, member_id=m, kind="left", at=ev.at))
            elif isinstance(ev, MessagePosted | ReactionAdded):
                rows.append({"community_id": self.c, "member_id": m, "at": ev.at, "weight": 1.0,
                             "kind": "message" if isinstance(ev, MessagePosted) else "reaction"})
                self.last[m] = ev.at
            elif isinstance(ev, MemberJoined):
                self.last.setdefault(m, ev.at)
        if rows:
            self.s.execute(insert(Interaction), rows)
        return pending


def run_ab(engine: Engine, *, p: float, seed: int, members: int = 800, campaign_day: int = 30,
           top_percent: float = 50.0) -> ABResult:
    """Simulate, plan, load the future, inject, report. The database must have the schema."""
    sim = simulate_community(seed, members=members, days=campaign_day + 10, start=START)
    at = START + timedelta(days=campaign_day, hours=10)
    events = iter(sim.events)
    with Session(engine) as s, s.begin():
        c = Community(platform="console", external_id="sim", title="Sim", settings={}, created_at=START)
        s.add(c)
        s.flush()
        cid = int(c.id)
        store_nudge_settings(s, cid, {"enabled": True, "top_percent": top_percent, "daily_cap": 100_000,
                                      "quiet_hours": "none"})
        loader = _Loader(s, cid)
        first = loader.load(events, at)
        risks = FakeRisks({cid: [
            FakeRisk(m, min(1.0, (at - last).total_seconds() / 86400 / 30), (), at.date(), last)
            for m, last in loader.last.items()]})
        plan = plan_campaign(s, cid, at, risks=risks)
        future = iter([first] if first else [])
        loader.load(future, at + timedelta(days=10))
        loader.load(events, at + timedelta(days=10))
        # who came back on their own, then the injected effect
        treated = [mm.member_id for mm in plan.treated]
        window = (at, at + timedelta(days=7))
        natural = {int(m) for m in s.scalars(
            Interaction.__table__.select().with_only_columns(Interaction.member_id)  # type: ignore[attr-defined]
            .where(Interaction.community_id == cid, Interaction.at > window[0], Interaction.at <= window[1]))}
        rng = np.random.default_rng([seed, 99])
        injected = [m for m in treated if m not in natural and rng.random() < p]
        if injected:
            s.execute(insert(Interaction), [{"community_id": cid, "member_id": m, "kind": "message", "weight": 1.0,
                                             "at": at + timedelta(days=2)} for m in injected])
        report = nudge_report(s, cid, now=at + timedelta(days=8))
    return ABResult(plan, report, len(injected), len(injected) / max(1, len(treated)))
