"""Community health figures of a period, and the same figures for the period before.

* members: in the community at the period's end (joined before it, not left);
* joined / left: membership events in the period;
* DAU: mean distinct active members per local day of the period; WAU: distinct active
  members in its last 7 days; MAU: in the 30 days up to its end (active = posted,
  replied, reacted, opened a thread or clicked a button);
* messages and replies (to another member) posted in the period;
* median time to first reply: over the period's questions that another member answered
  (within the answer window);
* newcomer retention: of the members who joined in the 30 days before the period,
  the share active during the period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from statistics import median

import numpy as np

from engine.social.log import ActivityLog, ts
from engine.social.questions import Question


@dataclass(frozen=True, slots=True)
class Kpis:
    members: int
    joined: int
    left: int
    dau: float
    wau: int
    mau: int
    messages: int
    replies: int
    questions: int
    median_first_reply_minutes: float | None
    newcomers_last_month: int
    newcomer_retention: float | None


@dataclass(frozen=True, slots=True)
class Day:
    day: date
    active: int
    messages: int


def _active_between(log: ActivityLog, start: datetime, end: datetime) -> set[int]:
    a = log.active
    if not len(a):
        return set()
    rows = a[(a[:, 1] >= ts(start)) & (a[:, 1] < ts(end))]
    return {m for m in rows[:, 0].tolist() if m in log.members}


def local_days(start: datetime, end: datetime, tz: tzinfo) -> list[tuple[date, datetime, datetime]]:
    """(local date, UTC start, UTC end) for each local day overlapping ``[start, end)``."""
    from engine.points.days import midnight

    out = []
    day = start.astimezone(tz).date()
    while True:
        lo, hi = midnight(day, tz), midnight(day + timedelta(days=1), tz)
        if lo >= end:
            break
        out.append((day, max(lo, start), min(hi, end)))
        day += timedelta(days=1)
    return out


def daily(log: ActivityLog, start: datetime, end: datetime, tz: tzinfo) -> list[Day]:
    """Active members and messages per local day of the period."""
    post_ts = np.fromiter((ts(p.at) for p in log.posts), dtype=np.int64, count=len(log.posts))
    out = []
    for day, lo, hi in local_days(start, end, tz):
        msgs = int(((post_ts >= ts(lo)) & (post_ts < ts(hi))).sum()) if len(post_ts) else 0
        out.append(Day(day, len(_active_between(log, lo, hi)), msgs))
    return out


def compute_kpis(log: ActivityLog, start: datetime, end: datetime, tz: tzinfo,
                 questions: list[Question]) -> Kpis:
    """The figures of ``[start, end)``; ``questions`` are that period's (with answers)."""
    present = sum(1 for m in log.members.values()
                  if m.joined_at < end and (m.left_at is None or m.left_at >= end))
    joined = sum(1 for m, at in log.joins if start <= at < end and m in log.members)
    left = sum(1 for m, at in log.leaves if start <= at < end and m in log.members)
    days = daily(log, start, end, tz)
    dau = sum(d.active for d in days) / len(days) if days else 0.0
    posts = log.posts_between(start, end)
    replies = sum(1 for p in posts if p.reply_to_author_id is not None and p.reply_to_author_id != p.author_id)
    waits = [q.wait.total_seconds() / 60 for q in questions if q.wait is not None]
    newcomers = {m.member_id for m in log.members.values() if start - timedelta(days=30) <= m.joined_at < start}
    active = _active_between(log, start, end)
    return Kpis(
        members=present, joined=joined, left=left, dau=round(dau, 1),
        wau=len(_active_between(log, end - timedelta(days=7), end)),
        mau=len(_active_between(log, end - timedelta(days=30), end)),
        messages=len(posts), replies=replies, questions=len(questions),
        median_first_reply_minutes=round(median(waits), 1) if waits else None,
        newcomers_last_month=len(newcomers),
        newcomer_retention=round(len(newcomers & active) / len(newcomers), 3) if newcomers else None,
    )
