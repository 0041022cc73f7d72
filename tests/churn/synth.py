"""Small synthetic logs built in the test (never the shared dump)."""

from __future__ import annotations

import numpy as np

from engine.churn.log import MESSAGE, REACTION, REPLY, ActivityLog


def make_log(events: list[tuple[int, float, int, int]], n_members: int, *,
             joins: list[tuple[int, float]] = (), leaves: list[tuple[int, float]] = (),
             questions: list[tuple[int, float, float]] = ()) -> ActivityLog:
    """``events`` are (member index, day, kind, target index or -1); member ids are index + 1."""
    ev = np.array(events, dtype=np.float64).reshape(-1, 4)
    j = np.array(joins, dtype=np.float64).reshape(-1, 2)
    lv = np.array(leaves, dtype=np.float64).reshape(-1, 2)
    q = np.array(questions, dtype=np.float64).reshape(-1, 3)
    return ActivityLog(
        member_ids=np.arange(1, n_members + 1, dtype=np.int64),
        act_member=ev[:, 0].astype(np.int32), act_t=ev[:, 1], act_kind=ev[:, 2].astype(np.int8),
        act_target=ev[:, 3].astype(np.int32),
        join_member=j[:, 0].astype(np.int32), join_t=j[:, 1],
        leave_member=lv[:, 0].astype(np.int32), leave_t=lv[:, 1],
        q_member=q[:, 0].astype(np.int32), q_t=q[:, 1], q_answer_t=q[:, 2],
    )


def community(n: int = 120, days: int = 200, seed: int = 0, fade_share: float = 0.3) -> tuple[ActivityLog, set[int]]:
    """Members posting at their own rate; a share of them fades out from a random day.

    Returns the log and the indexes of the faders (who stop before ``days``).
    """
    rng = np.random.default_rng(seed)
    events: list[tuple[int, float, int, int]] = []
    faders = set()
    joins = []
    for m in range(n):
        start = float(rng.integers(0, days // 3))
        joins.append((m, start))
        rate = rng.uniform(0.2, 2.0)
        stop = float(days + 100)
        fade = rng.random() < fade_share
        if fade:
            stop = float(rng.integers(int(start) + 20, days))
            faders.add(m)
        t = start
        while True:
            # a fader's gaps grow as it nears its stop
            slow = 1.0 + (3.0 * max(0.0, 1 - (stop - t) / 30.0) if fade else 0.0)
            t += rng.exponential(1.0 / rate) * slow
            if t >= min(stop, days):
                break
            kind = int(rng.choice([MESSAGE, REPLY, REACTION], p=[0.5, 0.3, 0.2]))
            target = int(rng.integers(0, n)) if kind != MESSAGE else -1
            events.append((m, t, kind, target if target != m else -1))
    return make_log(events, n, joins=joins), faders
