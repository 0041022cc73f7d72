"""Why a member is at risk, in words: the 2–3 feature groups pushing their risk up most.

For each group (silence, falling activity, unanswered questions, ...) the member's values
are set to "normal" (the median of members who stayed, from training) and the risk is
recomputed; the drop is that group's weight. Only groups where the member is actually
worse than normal are worded, so a reason always says something true about them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from engine.churn.features import INDEX
from engine.churn.scores import Reason

F64 = NDArray[np.float64]
Row = NDArray[np.float32]


def _v(row: Row, name: str) -> float:
    return float(row[INDEX[name]])


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


@dataclass(frozen=True)
class _Group:
    name: str
    features: tuple[str, ...]
    applies: Callable[[Row, Row], bool]      # (member, reference) → is the member worse?
    words: Callable[[Row, Row], tuple[str, str]]


def _drop_pct(row: Row) -> int:
    recent = _v(row, "act_14")
    before = _v(row, "act_28") - recent
    return round(100 * (1 - recent / before)) if before > 0 else 0


def _silence(row: Row, ref: Row) -> tuple[str, str]:
    d = round(_v(row, "days_since_active"))
    if _v(row, "never_active"):
        return (f"joined {d} days ago and has not posted or reacted yet", f"加入 {d} 天，还没有发言或互动")
    gap = _v(row, "gap_recent")
    if _v(row, "overdue") >= 2 and gap < 365:
        g = max(round(gap), 1)
        return (f"silent for {_plural(d, 'day')}, usually active every {_plural(g, 'day')}" if g > 1
                else f"silent for {_plural(d, 'day')}, usually active daily",
                f"已经 {d} 天没有动静（平时约每 {g} 天活跃一次）")
    return f"silent for {_plural(d, 'day')}", f"已经 {d} 天没有动静"


def _activity(row: Row, ref: Row) -> tuple[str, str]:
    pct = _drop_pct(row)
    if pct > 0:
        return f"activity fell {pct} % over two weeks", f"两周内活跃度下降 {pct}%"
    n = int(_v(row, "active_days_28"))
    return (f"active on only {_plural(n, 'day')} in four weeks", f"四周内只有 {n} 天活跃")


def _unanswered(row: Row, ref: Row) -> tuple[str, str]:
    k = int(_v(row, "unanswered_last3"))
    if k > 0:
        if k == 1:
            return "no reply to their last question", "最近一次提问没有人回复"
        return f"no reply to their last {k} questions", f"最近 {k} 次提问都没有人回复"
    h = round(_v(row, "reply_wait_hours"))
    return f"waits about {h} h for a first answer", f"提问后平均要等约 {h} 小时才有人回复"


def _connections(row: Row, ref: Row) -> tuple[str, str]:
    n, usual = int(_v(row, "partners_28")), round(_v(ref, "partners_28"))
    return (f"interacted with {_plural(n, 'member')} in four weeks (typical: {usual})",
            f"四周内只与 {n} 位成员互动（一般为 {usual} 位）")


def _recognition(row: Row, ref: Row) -> tuple[str, str]:
    n = int(_v(row, "reactions_received_28"))
    p = int(_v(row, "points_28"))
    return (f"little recognition lately: {_plural(n, 'reaction')} and {p} points in four weeks",
            f"最近很少得到认可：四周内获得 {n} 个表情回应、{p} 积分")


def _never_posted(row: Row, ref: Row) -> tuple[str, str]:
    return "has never written a message (only reacts or reads)", "从未发过消息（只看或只点表情）"


def _new(row: Row, ref: Row) -> tuple[str, str]:
    d = round(_v(row, "tenure_days"))
    return f"joined only {_plural(d, 'day')} ago", f"{d} 天前才加入"


def _course(row: Row, ref: Row) -> tuple[str, str]:
    d = round(_v(row, "days_since_completion"))
    return f"no lesson completed for {d} days", f"已经 {d} 天没有完成课程"


def _dm(row: Row, ref: Row) -> tuple[str, str]:
    return "cannot be reached by private message", "无法通过私信联系"


GROUPS: tuple[_Group, ...] = (
    _Group("silence", ("days_since_active", "streak_days", "overdue", "gap_last"),
           lambda r, ref: _v(r, "days_since_active") > max(_v(ref, "days_since_active"), 1.0), _silence),
    _Group("activity_drop", ("act_7", "act_14", "act_28", "trend_7", "trend_14", "active_days_28",
                             "decay_3", "decay_14", "decay_60", "active_days_90", "gap_recent", "gap_mean"),
           lambda r, ref: _drop_pct(r) >= 20 or _v(r, "active_days_28") < _v(ref, "active_days_28"), _activity),
    _Group("unanswered", ("unanswered_last3", "reply_wait_hours", "answered_share"),
           lambda r, ref: _v(r, "unanswered_last3") > 0 or _v(r, "reply_wait_hours") > max(2 * _v(ref, "reply_wait_hours"), 12.0),
           _unanswered),
    _Group("connections", ("partners_28", "reply_degree_90", "pagerank_90", "replies_received_28", "reply_share"),
           lambda r, ref: _v(r, "partners_28") < _v(ref, "partners_28"), _connections),
    _Group("recognition", ("reactions_received_28", "points_28", "points_trend_14"),
           lambda r, ref: _v(r, "reactions_received_28") < _v(ref, "reactions_received_28")
           or _v(r, "points_28") < _v(ref, "points_28"), _recognition),
    _Group("never_posted", ("messages_total", "messages_28"),
           lambda r, ref: _v(r, "messages_total") == 0 and not _v(r, "never_active"), _never_posted),
    _Group("new_member", ("tenure_days", "days_since_first_active"),
           lambda r, ref: _v(r, "tenure_days") < min(_v(ref, "tenure_days"), 30.0), _new),
    _Group("course_stalled", ("days_since_completion",),
           lambda r, ref: _v(r, "completions_total") > 0 and _v(r, "days_since_completion") > 14, _course),
    _Group("dm_unreachable", ("dm_reachable",), lambda r, ref: _v(r, "dm_reachable") == 0.0, _dm),
)
GROUP_NAMES = tuple(g.name for g in GROUPS)
MIN_WEIGHT = 0.005  # probability points; smaller pushes are noise, not reasons


def explain(X: NDArray[np.float32], risk_fn: Callable[[NDArray[np.float32]], F64], reference: F64,
            *, top: int = 3) -> list[tuple[Reason, ...]]:
    """Reasons for each row of ``X`` (strongest first, at most ``top``)."""
    if not len(X):
        return []
    ref = reference.astype(np.float32)
    # only groups where the member is worse than normal can be reasons: perturb just those,
    # all in one model pass (the member as is, then each applicable group set to normal)
    applies = np.array([[group.applies(row, ref) for group in GROUPS] for row in X], dtype=bool).reshape(len(X), len(GROUPS))
    parts, where = [X], []
    for g, group in enumerate(GROUPS):
        rows = np.nonzero(applies[:, g])[0]
        if len(rows):
            normal = X[rows].copy()
            cols = [INDEX[f] for f in group.features]
            normal[:, cols] = ref[cols]
            parts.append(normal)
            where.append((g, rows))
    risks = risk_fn(np.concatenate(parts))
    base = risks[: len(X)]
    weights = np.full((len(X), len(GROUPS)), -np.inf)
    at = len(X)
    for g, rows in where:
        weights[rows, g] = base[rows] - risks[at:at + len(rows)]
        at += len(rows)
    out: list[tuple[Reason, ...]] = []
    for i, row in enumerate(X):
        reasons: list[Reason] = []
        for g in np.argsort(-weights[i], kind="stable"):
            group = GROUPS[g]
            if weights[i, g] < MIN_WEIGHT or not group.applies(row, ref):
                continue
            en, zh = group.words(row, ref)
            reasons.append(Reason(group.name, en, zh, float(weights[i, g])))
            if len(reasons) == top:
                break
        out.append(tuple(reasons))
    return out
