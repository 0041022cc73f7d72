"""Features read only the past, count windows right, and include silent members."""

from __future__ import annotations

import networkx as nx
import numpy as np

from engine.churn.features import FEATURES, INDEX, FeatureBuilder, pagerank
from engine.churn.log import MESSAGE, REACTION, REPLY
from tests.churn.synth import community, make_log


def _f(builder: FeatureBuilder, t: float, member: int, name: str) -> float:
    return float(builder.at(t).X[member, INDEX[name]])


def test_window_counts_recency_and_members_without_messages() -> None:
    events = [(0, d, MESSAGE, -1) for d in (1.5, 2.5, 3.5, 10.5)]
    events += [(1, 9.0, REACTION, 0)]                      # member 1 only reacts
    log = make_log(events, 3, joins=[(0, 1.0), (1, 5.0), (2, 8.0)])  # member 2 joined, never posted
    b = FeatureBuilder(log)
    snap = b.at(11.0)
    assert _f(b, 11.0, 0, "days_since_active") == 0.5
    assert _f(b, 11.0, 0, "act_7") == 1 and _f(b, 11.0, 0, "act_14") == 4
    assert _f(b, 11.0, 0, "active_days_28") == 4
    assert _f(b, 11.0, 0, "reactions_received_28") == 1
    assert _f(b, 11.0, 1, "messages_total") == 0 and _f(b, 11.0, 1, "reactions_given_28") == 1
    assert _f(b, 11.0, 2, "never_active") == 1 and _f(b, 11.0, 2, "days_since_active") == 3.0
    assert snap.present.tolist() == [True, True, True]
    assert not b.at(4.0).present[2]  # not joined yet


def test_no_feature_reads_the_snapshot_or_later() -> None:
    log, _ = community(n=40, days=120, seed=3)
    cut = 80.0
    keep = log.act_t < cut
    past = make_log([(int(m), float(t), int(k), int(g)) for m, t, k, g in
                     zip(log.act_member[keep], log.act_t[keep], log.act_kind[keep], log.act_target[keep], strict=True)],
                    log.n_members, joins=list(zip(log.join_member.tolist(), log.join_t.tolist(), strict=True)))
    full, truncated = FeatureBuilder(log).at(cut), FeatureBuilder(past).at(cut)
    np.testing.assert_allclose(full.X, truncated.X, rtol=1e-5, atol=1e-5)
    assert full.X.shape == (40, len(FEATURES))


def test_questions_unanswered_and_wait() -> None:
    # three questions: answered after 2 h, never, and answered only after the snapshot
    log = make_log([(0, 1.0, MESSAGE, -1), (0, 2.0, MESSAGE, -1), (0, 3.0, MESSAGE, -1)], 1,
                   questions=[(0, 1.0, 1.0 + 2 / 24), (0, 2.0, np.inf), (0, 3.0, 12.0)])
    b = FeatureBuilder(log)
    assert _f(b, 10.0, 0, "unanswered_last3") == 2
    assert abs(_f(b, 10.0, 0, "reply_wait_hours") - 2.0) < 1e-3
    assert _f(b, 13.0, 0, "unanswered_last3") == 1  # the late answer arrived by then
    assert _f(b, 2.5, 0, "unanswered_last3") == 0   # a question younger than a day is not "unanswered"


def test_streak_counts_consecutive_days_up_to_yesterday() -> None:
    log = make_log([(0, d + 0.5, MESSAGE, -1) for d in (1, 2, 4, 5, 6)], 1)
    b = FeatureBuilder(log)
    assert _f(b, 7.0, 0, "streak_days") == 3
    assert _f(b, 9.0, 0, "streak_days") == 0


def test_reply_graph_pagerank_matches_networkx() -> None:
    src, dst = np.array([0, 1, 2, 2, 3]), np.array([1, 2, 0, 1, 2])
    w = np.array([1.0, 2.0, 1.0, 3.0, 1.0])
    graph = nx.DiGraph()
    graph.add_weighted_edges_from(zip(src.tolist(), dst.tolist(), w.tolist(), strict=True))
    expected = nx.pagerank(graph, weight="weight", tol=1e-10)
    ours = pagerank(src, dst, w, 4, tol=1e-10)
    np.testing.assert_allclose(ours, [expected[i] for i in range(4)], atol=1e-6)
    log = make_log([(0, 1.0, REPLY, 1), (1, 2.0, REPLY, 2), (2, 3.0, REPLY, 0), (3, 3.0, MESSAGE, -1)], 4)
    b = FeatureBuilder(log)
    assert _f(b, 5.0, 0, "reply_degree_90") == 2 and _f(b, 5.0, 3, "pagerank_90") == 0.0


def test_rhythm_gaps_overdue_and_decayed_activity() -> None:
    # member 0 active every 2 days (days 0.5, 2.5, ..., 10.5), then silent; member 1 once
    log = make_log([(0, 0.5 + 2 * k, MESSAGE, -1) for k in range(6)] + [(1, 3.5, REPLY, 0)], 2)
    b = FeatureBuilder(log)
    assert _f(b, 20.5, 0, "gap_mean") == 2.0 and _f(b, 20.5, 0, "gap_recent") == 2.0
    assert _f(b, 20.5, 0, "gap_last") == 2.0
    assert _f(b, 20.5, 0, "overdue") == 5.0       # 10 days silent ÷ a 2-day rhythm
    assert _f(b, 20.5, 1, "overdue") == 0.0 and _f(b, 20.5, 1, "gap_recent") == 365.0  # one active day: no rhythm
    # decayed activity: an event 3 days old weighs 1/2 at a 3-day half-life, 2^(-3/14) at 14 days
    assert abs(_f(b, 6.5, 1, "decay_3") - 0.5) < 1e-6
    assert abs(_f(b, 6.5, 1, "decay_14") - 2 ** (-3 / 14)) < 1e-6
    assert _f(b, 3.5, 1, "decay_60") == 0.0       # nothing strictly before the snapshot
    assert _f(b, 20.5, 1, "reply_share") == 1.0 and _f(b, 20.5, 0, "reply_share") == 0.0
    assert _f(b, 20.5, 0, "active_days_90") == 6


def test_answered_share_counts_answers_known_at_the_snapshot() -> None:
    log = make_log([(0, 1.0, MESSAGE, -1), (0, 2.0, MESSAGE, -1)], 2,
                   questions=[(0, 1.0, 1.5), (0, 2.0, 12.0)])
    b = FeatureBuilder(log)
    assert _f(b, 10.0, 0, "answered_share") == 0.5   # the second answer comes later
    assert _f(b, 13.0, 0, "answered_share") == 1.0
    assert _f(b, 10.0, 1, "answered_share") == 1.0   # asked nothing: nothing left unanswered
