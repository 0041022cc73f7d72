"""A community with many members at churn risk, for the benchmark and the slow process
tests (real tables, bulk inserts; no chat platform involved)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session

from engine.churn.scores import MemberRisk, Reason, store_scores
from engine.nudge.campaign import store_nudge_settings
from engine.store.models import Account, Chat, Community, CommunityMember, Member

GROUP = "-1001000000001"
FIRST_USER = 100_000  # member i's Telegram user id (and DM chat id) is FIRST_USER + i


def seed_at_risk(engine: Engine, treated: int, control_fraction: float, now: datetime) -> tuple[int, int]:
    """A Telegram community whose flagged members make ``treated`` nudges after the
    control draw; nudges on, no quiet hours, the cap at ``treated``. Returns (community
    id, flagged)."""
    flagged = round(treated / (1 - control_fraction))
    with Session(engine) as s, s.begin():
        c = Community(platform="telegram", external_id=GROUP, title="Bench Cohort", settings={},
                      created_at=now - timedelta(days=90))
        s.add(c)
        s.flush()
        s.add(Chat(community_id=c.id, platform="telegram", external_id=GROUP, title="g"))
        ids = s.execute(insert(Member).returning(Member.id),
                        [{"display_name": f"Member {i}", "created_at": now - timedelta(days=60)}
                         for i in range(flagged)]).scalars().all()
        s.execute(insert(Account), [{"platform": "telegram", "external_id": str(FIRST_USER + i), "member_id": m,
                                     "username": f"m{i}", "display_name": f"Member {i}", "is_bot": False,
                                     "dm_reachable": True, "created_at": now - timedelta(days=60)}
                                    for i, m in enumerate(ids)])
        s.execute(insert(CommunityMember), [{"community_id": c.id, "member_id": m, "joined_at": now - timedelta(days=60),
                                             "last_seen_at": now - timedelta(days=20), "role": 0, "dm_opt_out": False}
                                            for m in ids])
        reason = Reason("recency", "no activity for 20 days", "20 天没有活动", 0.4)
        store_scores(s, c.id, now.date(), "bench", [MemberRisk(m, 0.9, (reason,), now.date(), now - timedelta(days=20))
                                                    for m in ids])
        store_nudge_settings(s, c.id, {"enabled": True, "daily_cap": treated, "control_fraction": control_fraction,
                                       "quiet_hours": "none"})
        return int(c.id), flagged
