"""Sliding windows of who posted how often: antiflood and the command budget.

Pure and in memory (one object per process, built by the composition root). Times are the
events' own (``at``), so a test drives it with timestamps, not sleeps. Memory is bounded:
each key keeps at most ``limit + 1`` timestamps and the least recently seen keys are
dropped beyond ``max_keys``.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Hashable
from datetime import datetime
from enum import Enum


class Pace(Enum):
    """What one more message means for its author's window."""

    CALM = "calm"          # within the limit
    OVER = "over"          # the first one over the limit in this burst: act (and say so) once
    STILL_OVER = "still"   # over again within the same burst: already acted


class SlidingWindows:
    """Per-key counts of events in the last ``window`` seconds."""

    def __init__(self, max_keys: int = 10_000) -> None:
        self.max_keys = max_keys
        self._times: OrderedDict[Hashable, deque[float]] = OrderedDict()
        self._acted: dict[Hashable, float] = {}

    def __len__(self) -> int:
        return len(self._times)

    def observe(self, key: Hashable, at: datetime, *, limit: int, window: float) -> Pace:
        """Count one event of ``key`` at ``at``: more than ``limit`` within ``window``
        seconds is over. Returns :class:`Pace`; ``OVER`` once per burst (until the key has
        been calm for a whole window)."""
        now = at.timestamp()
        times = self._times.get(key)
        if times is None or times.maxlen != limit + 1:
            times = deque(times or (), maxlen=limit + 1)
            self._times[key] = times
        self._times.move_to_end(key)
        while times and times[0] <= now - window:
            times.popleft()
        times.append(now)
        self._evict()
        if len(times) <= limit:
            return Pace.CALM
        acted = self._acted.get(key)
        if acted is not None and acted > now - window:
            self._acted[key] = now  # a burst that goes on stays one burst
            return Pace.STILL_OVER
        self._acted[key] = now
        return Pace.OVER

    def forget(self, key: Hashable) -> None:
        self._times.pop(key, None)
        self._acted.pop(key, None)

    def _evict(self) -> None:
        while len(self._times) > self.max_keys:
            old, _ = self._times.popitem(last=False)
            self._acted.pop(old, None)
