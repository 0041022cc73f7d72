"""Small hand-built activity logs for the pure social/digest tests (no database)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import numpy as np

from engine.social.log import EDGE_KINDS, ActivityLog, MemberInfo, Post, ts

END = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday, midnight UTC
START = END - timedelta(days=7)


class LogBuilder:
    def __init__(self, platform: str = "console", community_ext: str = "g1") -> None:
        self.log = ActivityLog(1, platform, community_ext, START, END)
        self._edges: list[tuple[int, int, int, int]] = []
        self._active: list[tuple[int, int]] = []
        self._ids = itertools.count(1)

    def member(self, m: int, *, joined_days_ago: float = 60, left: datetime | None = None) -> int:
        self.log.members[m] = MemberInfo(m, f"m{m}", END - timedelta(days=joined_days_ago), left)
        return m

    def post(self, author: int, text: str, *, hours_ago: float, reply_to: Post | None = None,
             thread: int | None = None, topic_start: bool = False, title: str = "", chat: str = "c1") -> Post:
        at = END - timedelta(hours=hours_ago)
        pid = next(self._ids)
        p = Post(pid, author, at, text, str(pid), chat, thread, str(thread) if thread else None, title,
                 reply_to.external_id if reply_to else None, reply_to.author_id if reply_to else None, topic_start)
        self.log.posts.append(p)
        self._active.append((author, ts(at)))
        if reply_to is not None and reply_to.author_id != author:
            self.edge(author, reply_to.author_id, "reply", hours_ago=hours_ago)
        return p

    def edge(self, src: int, dst: int, kind: str, *, hours_ago: float) -> None:
        t = ts(END - timedelta(hours=hours_ago))
        self._edges.append((src, dst, EDGE_KINDS.index(kind), t))
        self._active.append((src, t))

    def build(self) -> ActivityLog:
        self.log.posts.sort(key=lambda p: (p.at, p.id))
        if self._edges:
            self.log.edges = np.asarray(self._edges, dtype=np.int64)
        if self._active:
            self.log.active = np.asarray(self._active, dtype=np.int64)
        return self.log
