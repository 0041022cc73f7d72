"""Churn features per member at a snapshot time, from the log strictly before it.

Everything is vectorised over members: each event kind is sorted once by (member, time)
into a single float key, and a window count for every member is two ``searchsorted``
calls. :class:`FeatureBuilder` does the sorting once; :meth:`FeatureBuilder.at` gives the
feature matrix of every member at one snapshot (nothing at or after it is read).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from engine.churn.log import COMPLETION, MESSAGE, REACTION, REPLY, ActivityLog

F64 = NDArray[np.float64]

FEATURES: tuple[str, ...] = (
    "days_since_active",      # since the last thing they did (since joining if nothing yet)
    "never_active",           # joined and never did anything
    "act_7", "act_14", "act_28",
    "trend_7",                # log((last 7 d + 1) / (the 7 d before + 1))
    "trend_14",               # log((last 14 d + 1) / (the 14 d before + 1))
    "active_days_28",
    "active_days_total",
    "days_since_first_active",  # since their first activity (0 if none yet)
    "activity_total",
    "messages_28", "messages_total",
    "replies_given_28", "replies_received_28",
    "reactions_given_28", "reactions_received_28",
    "questions_28", "questions_total",
    "unanswered_last3",       # of their last (up to) 3 questions older than a day, how many got no answer
    "reply_wait_hours",       # typical (geometric mean) wait for a first answer
    "partners_28",            # distinct members they interacted with (either way)
    "reply_degree_90",        # distinct neighbours in the reply graph of the last 90 days
    "pagerank_90",            # PageRank in that graph, 1 = average member
    "points_28", "points_trend_14", "points_total",
    "streak_days",
    "tenure_days",
    "completions_total", "days_since_completion",
    "dm_reachable",           # 1 yes, 0 no, 0.5 unknown (as known at the snapshot)
    "nudges_28",              # churn nudges delivered to them in the 28 days before the snapshot
    "days_since_nudge",       # since the last one delivered (a year if none yet)
    # the member's own rhythm: gaps between their active days (a year when fewer than 2)
    "gap_mean",               # mean gap between active days, over their whole history
    "gap_recent",             # mean gap over their last (up to) 5 active days
    "gap_last",               # the last gap (between their two latest active days)
    "overdue",                # days since active ÷ their recent typical gap (0 with < 2 active days)
    "decay_3", "decay_14", "decay_60",  # activity weighted by 2^(-age / half-life), in days
    "reply_share",            # share of everything they did that was a reply to someone
    "answered_share",         # share of their questions (older than a day) that got an answer
    "active_days_90",
)
INDEX = {name: i for i, name in enumerate(FEATURES)}
CAP_DAYS = 365.0  # "never" and very long gaps read as a year


def pagerank(src: NDArray[np.integer], dst: NDArray[np.integer], weight: F64, n: int, *,
             alpha: float = 0.85, tol: float = 1e-6, max_iter: int = 200) -> F64:
    """PageRank of a weighted digraph on nodes ``0..n-1`` — networkx's ``pagerank`` algorithm
    (dangling nodes spread uniformly), on a scipy matrix built straight from the edge arrays:
    building a networkx graph per snapshot cost more than everything else together.
    """
    if n == 0:
        return np.zeros(0)
    A = sp.csr_array((weight, (src, dst)), shape=(n, n))
    out = np.asarray(A.sum(axis=1)).ravel()
    inv = np.divide(1.0, out, out=np.zeros(n), where=out > 0)
    M = sp.diags_array(inv) @ A
    x = np.full(n, 1.0 / n)
    dangling = out == 0
    for _ in range(max_iter):
        last = x
        x = alpha * (x @ M + x[dangling].sum() / n) + (1 - alpha) / n
        if np.abs(x - last).sum() < n * tol:
            break
    return np.asarray(x / x.sum())


class _Sorted:
    """Events of one kind sorted by (member, time), with optional values for window sums."""

    def __init__(self, member: NDArray[np.integer], t: F64, n_members: int, origin: float, width: float,
                 values: F64 | None = None) -> None:
        self.origin, self.width, self.n = origin, width, n_members
        key = member.astype(np.float64) * width + (t - origin)
        order = np.argsort(key, kind="stable")
        self.key = key[order]
        self.t = t[order]
        self.member = member[order]
        self.values: F64 | None = None
        self.prefix: F64 | None = None
        if values is not None:
            self.values = values[order]
            self.prefix = np.concatenate([[0.0], np.cumsum(values[order])])
        self.base = np.arange(n_members, dtype=np.float64) * width
        self.start = np.searchsorted(self.key, self.base, side="left")

    def _pos(self, at: float | F64) -> NDArray[np.intp]:
        offset = np.clip(np.asarray(at, dtype=np.float64) - self.origin, 0.0, self.width - 0.5)
        return np.searchsorted(self.key, self.base + offset, side="left")

    def count(self, lo: float | F64, hi: float | F64) -> F64:
        """Events with ``lo <= t < hi``, per member."""
        return (self._pos(hi) - self._pos(lo)).astype(np.float64)

    def total(self, lo: float | F64, hi: float | F64) -> F64:
        assert self.prefix is not None
        return self.prefix[self._pos(hi)] - self.prefix[self._pos(lo)]

    def last_before(self, at: float) -> F64:
        """The last event time before ``at`` per member (nan if none)."""
        pos = self._pos(at) - 1
        ok = pos >= self.start
        out = np.full(self.n, np.nan)
        out[ok] = self.t[pos[ok]]
        return out

    def first(self) -> F64:
        out = np.full(self.n, np.nan)
        has = self.start < len(self.key)
        pos = self.start[has]
        same = self.member[pos] == np.nonzero(has)[0]
        idx = np.nonzero(has)[0][same]
        out[idx] = self.t[pos[same]]
        return out


@dataclass(frozen=True)
class Snapshot:
    """Features of every member at time ``t`` (rows are member indexes of the log)."""

    t: float
    X: NDArray[np.float32]         # (n_members, len(FEATURES))
    present: NDArray[np.bool_]     # joined before t and not left as of t
    last_active: F64               # last activity before t (nan: never)
    joined: F64                    # first seen / joined time


class FeatureBuilder:
    """Sorts a log once; :meth:`at` builds every member's features at a snapshot."""

    def __init__(self, log: ActivityLog) -> None:
        self.log = log
        n = log.n_members
        times = [log.act_t, log.join_t, log.leave_t, log.q_t, log.pts_t, log.nudge_t]
        finite = np.concatenate([x[np.isfinite(x)] for x in times] + [np.zeros(1)])
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size > 1 else (0.0, 1.0)
        if any(len(x) for x in times):
            lo = min(float(np.concatenate([x for x in times if len(x)]).min()), lo)
        self.origin = lo - 400.0
        self.width = (hi - self.origin) + 800.0
        mk = lambda member, t, values=None: _Sorted(member, t, n, self.origin, self.width, values)  # noqa: E731
        a = log
        self.act = mk(a.act_member, a.act_t)
        self.msgs = mk(a.act_member[a.act_kind == MESSAGE], a.act_t[a.act_kind == MESSAGE])
        rep = a.act_kind == REPLY
        self.replies_given = mk(a.act_member[rep], a.act_t[rep])
        rep_in = rep & (a.act_target >= 0) & (a.act_target != a.act_member)
        self.replies_received = mk(a.act_target[rep_in], a.act_t[rep_in])
        rea = a.act_kind == REACTION
        self.reactions_given = mk(a.act_member[rea], a.act_t[rea])
        rea_in = rea & (a.act_target >= 0) & (a.act_target != a.act_member)
        self.reactions_received = mk(a.act_target[rea_in], a.act_t[rea_in])
        comp = a.act_kind == COMPLETION
        self.completions = mk(a.act_member[comp], a.act_t[comp])
        self.questions = mk(a.q_member, a.q_t, a.q_answer_t)
        answered = np.isfinite(a.q_answer_t)
        wait = np.log1p(np.clip((a.q_answer_t[answered] - a.q_t[answered]) * 24.0, 0.0, None))
        self.answers = mk(a.q_member[answered], a.q_answer_t[answered], wait)
        self.points = mk(a.pts_member, a.pts_t, a.pts_amount)
        self.joins = mk(a.join_member, a.join_t)
        self.leaves = mk(a.leave_member, a.leave_t)
        self.nudges = mk(a.nudge_member, a.nudge_t)
        # unique active days and the length of the run of consecutive days ending at each
        day_key = np.unique(a.act_member.astype(np.int64) * 1_000_000 + np.floor(a.act_t - self.origin).astype(np.int64))
        d_member, d_day = day_key // 1_000_000, (day_key % 1_000_000).astype(np.float64) + self.origin
        run = np.ones(len(day_key))
        if len(day_key) > 1:
            cont = (d_member[1:] == d_member[:-1]) & (d_day[1:] == d_day[:-1] + 1)
            # run length = position minus the position where the current run started
            starts = np.concatenate([[0], np.nonzero(~cont)[0] + 1])
            run_start = np.zeros(len(day_key), dtype=np.int64)
            run_start[starts] = starts
            run_start = np.maximum.accumulate(run_start)
            run = (np.arange(len(day_key)) - run_start + 1).astype(np.float64)
        self.days = mk(d_member, d_day, run)
        # every activity in time order (decayed sums read a time window, not a member's run)
        by_time = np.argsort(a.act_t, kind="stable")
        self.act_by_t = a.act_t[by_time]
        self.act_by_t_member = a.act_member[by_time].astype(np.intp)
        pair = (a.act_target >= 0) & (a.act_target != a.act_member)
        self.pair_a = np.concatenate([a.act_member[pair], a.act_target[pair]]).astype(np.int64)
        self.pair_b = np.concatenate([a.act_target[pair], a.act_member[pair]]).astype(np.int64)
        self.pair_t = np.concatenate([a.act_t[pair], a.act_t[pair]])
        self.reply_src = a.act_member[rep_in].astype(np.int64)
        self.reply_dst = a.act_target[rep_in].astype(np.int64)
        self.reply_t = a.act_t[rep_in]
        first_act = self.act.first()
        self.first_act = np.nan_to_num(first_act, nan=np.inf)
        first_join = self.joins.first()
        self.joined = np.fmin(np.fmin(log.first_seen, first_join), first_act)
        self.joined[~np.isfinite(self.joined)] = np.nan

    # -- helpers -----------------------------------------------------------------------
    def present(self, t: float) -> NDArray[np.bool_]:
        """Joined before ``t`` and not (last left after last joined) as of ``t``."""
        last_join = self.joins.last_before(t)
        last_leave = self.leaves.last_before(t)
        gone = np.isfinite(last_leave) & ~(np.nan_to_num(last_join, nan=-np.inf) > last_leave)
        with np.errstate(invalid="ignore"):
            joined = np.nan_to_num(self.joined, nan=np.inf) < t
        return joined & ~gone

    def _partners(self, lo: float, hi: float) -> F64:
        n = self.log.n_members
        inside = (self.pair_t >= lo) & (self.pair_t < hi)
        if not inside.any():
            return np.zeros(n)
        codes = np.unique(self.pair_a[inside] * n + self.pair_b[inside])
        return np.bincount(codes // n, minlength=n).astype(np.float64)

    def _graph(self, lo: float, hi: float) -> tuple[F64, F64]:
        n = self.log.n_members
        degree, rank = np.zeros(n), np.zeros(n)
        inside = (self.reply_t >= lo) & (self.reply_t < hi)
        if not inside.any():
            return degree, rank
        codes, weights = np.unique(self.reply_src[inside] * n + self.reply_dst[inside], return_counts=True)
        src, dst = codes // n, codes % n
        undirected = np.unique(np.minimum(src, dst) * n + np.maximum(src, dst))
        ends = np.concatenate([undirected // n, undirected % n])
        degree = np.bincount(ends, minlength=n).astype(np.float64)
        nodes = np.unique(np.concatenate([src, dst]))
        ranks = pagerank(np.searchsorted(nodes, src), np.searchsorted(nodes, dst), weights.astype(np.float64),
                         len(nodes))
        rank[nodes] = ranks * len(nodes)
        return degree, rank

    # -- the snapshot ------------------------------------------------------------------
    def at(self, t: float) -> Snapshot:
        """Every member's features from events strictly before ``t``."""
        n = self.log.n_members
        X = np.zeros((n, len(FEATURES)), dtype=np.float64)
        c = lambda name: INDEX[name]  # noqa: E731
        last = self.act.last_before(t)
        joined = self.joined
        ref = np.where(np.isfinite(last), last, np.nan_to_num(joined, nan=t))
        X[:, c("days_since_active")] = np.clip(t - ref, 0.0, CAP_DAYS)
        X[:, c("never_active")] = ~np.isfinite(last)
        a7, a14, a28 = self.act.count(t - 7, t), self.act.count(t - 14, t), self.act.count(t - 28, t)
        X[:, c("act_7")], X[:, c("act_14")], X[:, c("act_28")] = a7, a14, a28
        X[:, c("trend_7")] = np.log((a7 + 1) / (a14 - a7 + 1))
        X[:, c("trend_14")] = np.log((a14 + 1) / (a28 - a14 + 1))
        X[:, c("active_days_28")] = self.days.count(t - 28, t)
        X[:, c("active_days_total")] = self.days.count(-np.inf, t)
        first = self.first_act
        X[:, c("days_since_first_active")] = np.where(first < t, t - np.nan_to_num(first, nan=t), 0.0)
        X[:, c("activity_total")] = self.act.count(-np.inf, t)
        X[:, c("messages_28")] = self.msgs.count(t - 28, t)
        X[:, c("messages_total")] = self.msgs.count(-np.inf, t)
        X[:, c("replies_given_28")] = self.replies_given.count(t - 28, t)
        X[:, c("replies_received_28")] = self.replies_received.count(t - 28, t)
        X[:, c("reactions_given_28")] = self.reactions_given.count(t - 28, t)
        X[:, c("reactions_received_28")] = self.reactions_received.count(t - 28, t)
        X[:, c("questions_28")] = self.questions.count(t - 28, t)
        X[:, c("questions_total")] = self.questions.count(-np.inf, t)
        X[:, c("unanswered_last3")] = self._unanswered(t)
        answered = self.answers.count(-np.inf, t)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_log = self.answers.total(-np.inf, t) / answered
        X[:, c("reply_wait_hours")] = np.where(answered > 0, np.expm1(np.nan_to_num(mean_log)), 0.0)
        X[:, c("partners_28")] = self._partners(t - 28, t)
        X[:, c("reply_degree_90")], X[:, c("pagerank_90")] = self._graph(t - 90, t)
        p14, p28 = self.points.total(t - 14, t), self.points.total(t - 28, t)
        X[:, c("points_28")] = p28
        X[:, c("points_trend_14")] = p14 - (p28 - p14)
        X[:, c("points_total")] = self.points.total(-np.inf, t)
        X[:, c("streak_days")] = self._streak(t)
        X[:, c("tenure_days")] = np.clip(t - np.nan_to_num(joined, nan=t), 0.0, None)
        X[:, c("completions_total")] = self.completions.count(-np.inf, t)
        last_done = self.completions.last_before(t)
        X[:, c("days_since_completion")] = np.where(np.isfinite(last_done), np.clip(t - last_done, 0, CAP_DAYS), CAP_DAYS)
        reach = np.where(self.log.dm_checked_t < t, self.log.dm_reachable, np.nan)
        X[:, c("dm_reachable")] = np.nan_to_num(reach, nan=0.5)
        X[:, c("nudges_28")] = self.nudges.count(t - 28, t)
        last_nudge = self.nudges.last_before(t)
        X[:, c("days_since_nudge")] = np.where(np.isfinite(last_nudge), np.clip(t - last_nudge, 0, CAP_DAYS), CAP_DAYS)
        self._rhythm(t, X)
        total = X[:, c("activity_total")]
        X[:, c("reply_share")] = np.divide(self.replies_given.count(-np.inf, t), total, out=np.zeros(n), where=total > 0)
        asked = self.questions.count(-np.inf, t - 1.0)
        got = asked - self._open_questions(t)
        X[:, c("answered_share")] = np.divide(got, asked, out=np.ones(n), where=asked > 0)
        X[:, c("active_days_90")] = self.days.count(t - 90, t)
        return Snapshot(t=t, X=X.astype(np.float32), present=self.present(t), last_active=last, joined=joined)

    def _rhythm(self, t: float, X: F64) -> None:
        """Gaps between active days, "overdue" and exponentially decayed activity, at ``t``."""
        c = INDEX
        d = self.days
        pos = d._pos(t) - 1
        count = pos - d.start + 1            # active days before t
        n = d.n
        mean_all = np.full(n, CAP_DAYS)
        recent = np.full(n, CAP_DAYS)
        last_gap = np.full(n, CAP_DAYS)
        two = np.nonzero(count >= 2)[0]
        if len(two):
            p = pos[two]
            mean_all[two] = (d.t[p] - d.t[d.start[two]]) / (count[two] - 1)
            k = np.minimum(count[two] - 1, 5)
            recent[two] = (d.t[p] - d.t[p - k]) / k
            last_gap[two] = d.t[p] - d.t[p - 1]
        X[:, c["gap_mean"]], X[:, c["gap_recent"]], X[:, c["gap_last"]] = mean_all, recent, last_gap
        X[:, c["overdue"]] = np.where(count >= 2, X[:, c["days_since_active"]] / np.maximum(recent, 1.0), 0.0)
        for half_life in (3, 14, 60):
            lo, hi = np.searchsorted(self.act_by_t, [t - 8 * half_life, t], side="left")
            age = t - self.act_by_t[lo:hi]
            X[:, c[f"decay_{half_life}"]] = np.bincount(self.act_by_t_member[lo:hi], weights=np.exp2(-age / half_life),
                                                        minlength=n)

    def _open_questions(self, t: float) -> F64:
        """Questions asked at least a day before ``t`` with no answer before ``t``, per member."""
        q = self.questions
        assert q.values is not None
        open_ = (q.t < t - 1.0) & (q.values >= t)
        return np.bincount(q.member[open_].astype(np.intp), minlength=q.n).astype(np.float64)

    def _unanswered(self, t: float) -> F64:
        q = self.questions
        assert q.values is not None
        end = q._pos(t - 1.0)  # questions asked at least a day before the snapshot
        out = np.zeros(q.n)
        for back in (1, 2, 3):
            pos = end - back
            ok = pos >= q.start
            out[ok] += q.values[pos[ok]] >= t
        return out

    def _streak(self, t: float) -> F64:
        d = self.days
        assert d.values is not None
        pos = d._pos(t) - 1
        ok = pos >= d.start
        out = np.zeros(d.n)
        idx = np.nonzero(ok)[0]
        recent = d.t[pos[idx]] >= np.floor(t - self.origin) + self.origin - 1.0
        out[idx[recent]] = d.values[pos[idx[recent]]]
        return out

    def activity_between(self, lo: float, hi: float) -> F64:
        """Activity count per member in ``[lo, hi)`` (labels read the future through this)."""
        return self.act.count(lo, hi)

    def left_between(self, lo: float, hi: float) -> NDArray[np.bool_]:
        """Members present at ``lo`` who are gone at ``hi`` (left, not rejoined)."""
        return self.present(lo) & ~self.present(hi)
