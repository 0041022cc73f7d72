"""Thompson-sampling exploration slot over click feedback.

Each candidate item has a Beta(1 + clicks, 1 + impressions - clicks) posterior on its
click-through rate; the slot shows the item with the highest posterior draw. Items with
little data have wide posteriors and get explored; proven items win once data accrues.
Randomness comes only from the ``numpy.random.Generator`` passed in, so runs replay.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np


@dataclass(slots=True)
class ClickStats:
    """Impressions and clicks of one item in one slot."""

    impressions: int = 0
    clicks: int = 0


@dataclass(slots=True)
class ThompsonSlot:
    """Per-item Beta posteriors; :meth:`choose` picks, :meth:`record` learns."""

    stats: dict[str, ClickStats] = field(default_factory=dict)

    def choose(self, candidates: Iterable[str], rng: np.random.Generator, n: int = 1) -> list[str]:
        """The ``n`` candidates with the highest Beta draws (best first); ``[]`` if none.

        Candidates are drawn in the given order, so equal inputs and generator state
        give equal picks.
        """
        items = list(dict.fromkeys(candidates))
        if not items:
            return []
        clicks = np.array([self.stats.get(i, ClickStats()).clicks for i in items], dtype=np.float64)
        shown = np.array([self.stats.get(i, ClickStats()).impressions for i in items], dtype=np.float64)
        draws = rng.beta(1.0 + clicks, 1.0 + np.maximum(shown - clicks, 0.0))
        order = np.argsort(-draws, kind="stable")[:n]
        return [items[i] for i in order]

    def record(self, item: str, clicked: bool) -> None:
        """Count one impression of ``item`` and whether it was clicked."""
        entry = self.stats.setdefault(item, ClickStats())
        entry.impressions += 1
        entry.clicks += int(clicked)

    def posterior_mean(self, item: str) -> float:
        """(1 + clicks) / (2 + impressions), the Beta posterior mean CTR."""
        entry = self.stats.get(item, ClickStats())
        return (1.0 + entry.clicks) / (2.0 + entry.impressions)


@dataclass(frozen=True, slots=True)
class SlotReport:
    """Click-through of the exploration slot and the main (model) slots, kept apart."""

    explore_impressions: int
    explore_clicks: int
    main_impressions: int
    main_clicks: int

    @property
    def explore_ctr(self) -> float:
        """Exploration clicks / impressions (0.0 with no impressions)."""
        return self.explore_clicks / self.explore_impressions if self.explore_impressions else 0.0

    @property
    def main_ctr(self) -> float:
        """Main-slot clicks / impressions (0.0 with no impressions)."""
        return self.main_clicks / self.main_impressions if self.main_impressions else 0.0


def slot_report(events: Iterable[tuple[str, bool]] | Mapping[str, ClickStats]) -> SlotReport:
    """Summarise ``(slot, clicked)`` impression events, slot being ``"explore"`` or ``"main"``.

    Also accepts ``{"explore": ClickStats, "main": ClickStats}``. Raises ``ValueError``
    on any other slot name.
    """
    totals = {"explore": ClickStats(), "main": ClickStats()}
    if isinstance(events, Mapping):
        for slot, stats in events.items():
            if slot not in totals:
                raise ValueError(f"unknown slot {slot!r}; expected 'explore' or 'main'")
            totals[slot] = stats
    else:
        for slot, clicked in events:
            if slot not in totals:
                raise ValueError(f"unknown slot {slot!r}; expected 'explore' or 'main'")
            totals[slot].impressions += 1
            totals[slot].clicks += int(clicked)
    return SlotReport(
        explore_impressions=totals["explore"].impressions,
        explore_clicks=totals["explore"].clicks,
        main_impressions=totals["main"].impressions,
        main_clicks=totals["main"].clicks,
    )
