"""What must stop a scoring run: no history, a gap in the log, clocks in the future.

A gap (the bot was down, an import has a hole) makes everyone look silent; scoring across
it would flag the whole community, so :func:`log_gap` finds one and scoring refuses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.churn.log import ActivityLog, from_days

SKEW_TOLERANCE_DAYS = 1.0 / 24  # events up to an hour ahead are ordinary clock drift


@dataclass(frozen=True, slots=True)
class Gap:
    """No event from anyone in ``[start, end)`` (days since the epoch)."""

    start: float
    end: float

    @property
    def days(self) -> float:
        return self.end - self.start

    def describe(self) -> str:
        return (f"the log has no events at all from {from_days(self.start):%Y-%m-%d %H:%M} to "
                f"{from_days(self.end):%Y-%m-%d %H:%M} UTC ({self.days:.1f} days): was the bot down? "
                "Scores would read that silence as everyone leaving, so none were made.")


def future_events(log: ActivityLog, now: float) -> int:
    """How many logged activities are dated after ``now`` (clock skew); they are ignored."""
    return int(np.count_nonzero(log.act_t > now + SKEW_TOLERANCE_DAYS))


def log_gaps(times: np.ndarray, lo: float, hi: float, gap_days: float) -> list[Gap]:
    """Every stretch of at least ``gap_days`` inside ``[lo, hi)`` with no event in ``times``.

    Only stretches *between* events (the last one before ``lo`` included), or from the last
    event to ``hi``, count: a community that simply had not started yet has no gap.
    """
    before = times[times < lo]
    inside = np.sort(times[(times >= lo) & (times < hi)])
    if not len(inside) and not len(before):
        return []
    edges = np.concatenate([[before.max()] if len(before) else [], inside, [hi]])
    holes = np.nonzero(np.diff(edges) >= gap_days)[0]
    return [Gap(float(edges[i]), float(edges[i + 1])) for i in holes]


def usual_silence(log: ActivityLog, now: float) -> float:
    """The 99th percentile of the silences between consecutive events up to ``now`` (days)."""
    times = np.sort(log.act_t[log.act_t <= now + SKEW_TOLERANCE_DAYS])
    if len(times) < 20:
        return 0.0
    return float(np.percentile(np.diff(times), 99))


def recent_gap(log: ActivityLog, now: float, window_days: float, gap_days: float,
               usual: float | None = None) -> Gap | None:
    """The latest gap in the ``window_days`` before ``now`` unusual for this community, or None.

    Quiet communities have silent days, so a stretch is a gap when it lasts at least
    ``gap_days`` *and* three times the community's usual longest silences (99th percentile
    of its silences between events): a busy group silent for 3 days is a gap, a Stack
    Exchange meta site quiet over a weekend is not.
    """
    times = log.act_t[log.act_t <= now + SKEW_TOLERANCE_DAYS]
    if not len(times):
        return None
    usual = usual_silence(log, now) if usual is None else usual
    threshold = max(float(gap_days), 3.0 * usual)
    gaps = log_gaps(times, now - window_days, now, threshold)
    return gaps[-1] if gaps else None
