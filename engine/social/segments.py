"""Member segments (用户画像): K-means on activity features, each segment named from its centroid.

Features per member over the last 28 days before ``end`` (log1p counts, so one very
loud member does not define a segment): posts, replies given, replies received,
questions asked, reactions given, active days, days since joining (capped at 60), days
since last activity (capped at 28) and the trend (second half vs first half). Features
are standardised, K-means (scikit-learn, ``n_init=10``, fixed seed) groups them, and
each centroid is named by the plain rules in :func:`name_centroid`; two segments that
get the same name are merged.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from engine.social.log import ActivityLog, ts
from engine.social.questions import is_question

FEATURES = ("posts", "replies_given", "replies_received", "questions", "reactions_given",
            "active_days", "tenure_days", "idle_days", "trend")
WINDOW_DAYS = 28
SEGMENT_NAMES = ("helpers", "askers", "regulars", "newcomers", "fading", "lurkers", "inactive")


@dataclass(frozen=True, slots=True)
class Segment:
    name: str
    size: int
    centroid: dict[str, float]  # raw (not standardised) feature means
    examples: tuple[int, ...] = ()  # a few member ids, most active first


@dataclass
class Segmentation:
    segments: list[Segment] = field(default_factory=list)
    labels: dict[int, str] = field(default_factory=dict)  # member id → segment name


def features(log: ActivityLog, end: datetime) -> tuple[list[int], np.ndarray]:
    """(member ids, raw feature matrix) for members present at ``end``."""
    start = end - timedelta(days=WINDOW_DAYS)
    mid = ts(end - timedelta(days=WINDOW_DAYS / 2))
    ids = [m.member_id for m in log.members.values()
           if m.joined_at < end and (m.left_at is None or m.left_at >= end)]
    row = {m: i for i, m in enumerate(ids)}
    x = np.zeros((len(ids), len(FEATURES)))
    if not ids:
        return ids, x
    posts_first = np.zeros(len(ids))
    posts_second = np.zeros(len(ids))
    days: list[set[int]] = [set() for _ in ids]
    for post in log.posts:
        i = row.get(post.author_id)
        if i is None or not start <= post.at < end:
            continue
        x[i, 0] += 1
        if post.reply_to_author_id is not None and post.reply_to_author_id != post.author_id:
            x[i, 1] += 1
            j = row.get(post.reply_to_author_id)
            if j is not None:
                x[j, 2] += 1
        if is_question(post.text):
            x[i, 3] += 1
        if ts(post.at) < mid:
            posts_first[i] += 1
        else:
            posts_second[i] += 1
    e = log.edges
    if len(e):
        window = e[(e[:, 2] == 2) & (e[:, 3] >= ts(start)) & (e[:, 3] < ts(end))]
        for member, count in Counter(window[:, 0].tolist()).items():
            if (i := row.get(member)) is not None:
                x[i, 4] += count
    a = log.active
    last = np.full(len(ids), -1, dtype=np.int64)
    if len(a):
        window = a[(a[:, 1] >= ts(start)) & (a[:, 1] < ts(end))]
        for member, t in window.tolist():
            if (i := row.get(member)) is not None:
                days[i].add(t // 86400)
                last[i] = max(last[i], t)
    end_s = ts(end)
    for m, i in row.items():
        info = log.members[m]
        x[i, 5] = len(days[i])
        x[i, 6] = min(60.0, (end - info.joined_at).total_seconds() / 86400)
        x[i, 7] = WINDOW_DAYS if last[i] < 0 else min(WINDOW_DAYS, (end_s - last[i]) / 86400)
        x[i, 8] = (posts_second[i] - posts_first[i]) / (posts_first[i] + posts_second[i] + 1)
    return ids, x


def name_centroid(c: dict[str, float]) -> str:
    """A plain name for a centroid of raw features (counts over the 28-day window)."""
    if c["tenure_days"] <= 14 and c["posts"] < 10:
        return "newcomers"
    if c["posts"] < 0.5 and c["reactions_given"] < 0.5:
        return "inactive"
    if c["posts"] < 2:
        return "lurkers"
    if c["trend"] < -0.35 or c["idle_days"] > 10:
        return "fading"
    if c["replies_given"] >= max(2.0, 1.5 * c["questions"]):
        return "helpers"
    if c["questions"] >= max(1.0, c["replies_given"]):
        return "askers"
    return "regulars"


def segment_members(log: ActivityLog, end: datetime, *, k: int = 6, seed: int = 0) -> Segmentation:
    """Cluster the members present at ``end`` into at most ``k`` named segments."""
    from sklearn.cluster import KMeans

    ids, raw = features(log, end)
    out = Segmentation()
    if not ids:
        return out
    scaled = np.log1p(np.abs(raw)) * np.sign(raw)
    std = scaled.std(axis=0)
    z = (scaled - scaled.mean(axis=0)) / np.where(std > 0, std, 1.0)
    distinct = len(np.unique(z.round(6), axis=0))
    clusters = max(1, min(k, distinct))
    if clusters == 1:
        labels = np.zeros(len(ids), dtype=np.int64)
    else:
        labels = KMeans(n_clusters=clusters, n_init=10, random_state=seed).fit_predict(z)
    names: dict[int, str] = {}
    for label in range(clusters):
        members = labels == label
        if members.any():
            names[label] = name_centroid(dict(zip(FEATURES, raw[members].mean(axis=0).tolist(), strict=True)))
    activity = raw[:, 0] + raw[:, 4]
    grouped: dict[str, list[int]] = {}
    for i, member in enumerate(ids):
        name = names[int(labels[i])]
        out.labels[member] = name
        grouped.setdefault(name, []).append(i)
    for name in sorted(grouped, key=lambda n: (-len(grouped[n]), SEGMENT_NAMES.index(n))):
        rows = grouped[name]
        centroid = dict(zip(FEATURES, np.round(raw[rows].mean(axis=0), 2).tolist(), strict=True))
        best = sorted(rows, key=lambda r: (-activity[r], ids[r]))[:3]
        out.segments.append(Segment(name, len(rows), centroid, tuple(ids[r] for r in best)))
    return out


def movement(before: dict[int, str], after: dict[int, str]) -> list[tuple[str, str, int]]:
    """(from segment, to segment, members) for members whose segment changed, largest
    first; members new since the last snapshot move from ``"new"``."""
    moves = Counter((before.get(m, "new"), seg) for m, seg in after.items() if before.get(m) != seg)
    return sorted(((a, b, n) for (a, b), n in moves.items()), key=lambda t: (-t[2], t[0], t[1]))
