"""Eligibility, labels and the time-based split."""

from __future__ import annotations

import numpy as np

from engine.churn.dataset import eligible, labelled, snapshot_times, time_split
from engine.churn.features import FeatureBuilder
from engine.churn.log import MESSAGE
from tests.churn.synth import community, make_log


def test_labels_follow_the_next_horizon_and_leavers_are_not_scored() -> None:
    events = [(0, d, MESSAGE, -1) for d in range(1, 60)]          # always active
    events += [(1, d, MESSAGE, -1) for d in range(1, 30)]         # stops at day 30
    events += [(2, 5.0, MESSAGE, -1)]                              # long gone by day 40
    events += [(3, d, MESSAGE, -1) for d in range(1, 25)]         # leaves on day 25
    log = make_log(events, 5, joins=[(i, 0.5) for i in range(4)] + [(4, 35.0)], leaves=[(3, 25.5)])
    b = FeatureBuilder(log)
    ex = labelled(b, [40.0], 28, 14)
    assert ex.y is not None
    got = dict(zip(ex.member.tolist(), ex.y.tolist(), strict=True))
    # member 2 was inactive for > W, member 3 left: neither is eligible; 4 joined and never posted
    assert got == {0: 0, 1: 1, 4: 1}
    assert eligible(b.at(26.0), 28).tolist() == [True, True, True, False, False]


def test_time_split_keeps_training_labels_out_of_the_test_window() -> None:
    log, _ = community(n=60, days=200, seed=1)
    b = FeatureBuilder(log)
    times = snapshot_times(b, 28, 14, now=200.0, gap_days=3)
    assert times == sorted(times) and np.allclose(np.diff(times), 7.0)
    assert times[-1] + 14 <= 200.0
    split = time_split(labelled(b, times, 28, 14), horizon_days=14)
    assert split is not None
    assert split.train.t.max() + 14 <= split.test_start <= split.test.t.min()
