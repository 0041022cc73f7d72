"""Ingest benchmark: synthetic chat events → router → recorder (+ projections) → commit.

Every event is acknowledged only after the transaction holding it has committed. Beside
Cohort's group-commit writer it runs the peer design most bots use — one transaction
(and one fsync) per event — on the same machine, data and database, in the same run.

    .venv/bin/python benchmarks/ingest.py                      # SQLite
    .venv/bin/python benchmarks/ingest.py --pg-url postgresql://cohort@127.0.0.1:54329/cohort_bench

Every case (Cohort full, Cohort core only, the peer) starts on a fresh database and, unless
``--peer-events`` says otherwise, replays the same events.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.bootstrap import App, build_app
from bot.settings import load_settings
from engine.events import Event, MessagePosted, Platform, ReactionAdded
from engine.store.writer import EventWriter
from tests.doubles.messenger import RecordingMessenger

WORDS = ("asyncio", "gather", "await", "loop", "thanks", "how", "do", "I", "the", "task", "error",
         "traceback", "pandas", "merge", "请问", "怎么", "谢谢", "this", "works", "now", "docs")


def synthetic_events(n: int, members: int, chats: int, seed: int = 0) -> Iterator[Event]:
    """``n`` events: ~75% messages (a third of them replies), ~25% reactions."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    posted: list[tuple[str, str, str]] = []
    for i in range(n):
        chat = f"chat{rng.randrange(chats)}"
        user = f"user{rng.randrange(members)}"
        at = start + timedelta(seconds=i)
        common = {"platform": Platform.CONSOLE, "community_id": "bench", "chat_id": chat, "user_id": user,
                  "user_name": user, "at": at}
        if posted and rng.random() < 0.25:
            pchat, pid, pauthor = posted[rng.randrange(len(posted))]
            yield ReactionAdded(**{**common, "chat_id": pchat}, message_id=pid, emoji=rng.choice("👍❤️✅🎉"),
                                target_user_id=pauthor)
            continue
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 30)))
        reply = posted[rng.randrange(len(posted))] if posted and rng.random() < 0.33 else None
        mid = f"m{i}"
        if reply and reply[0] == chat:
            yield MessagePosted(**common, message_id=mid, text=words, reply_to_message_id=reply[1],
                                reply_to_user_id=reply[2])
        else:
            yield MessagePosted(**common, message_id=mid, text=words)
        posted.append((chat, mid, user))
        if len(posted) > 5000:
            posted.pop(0)


def fresh_app(url: str, *, projections: bool) -> App:
    application = build_app(load_settings(storage={"url": url}))
    if not projections:
        application.store.writer.projections.clear()
    if url.startswith("postgresql"):
        with application.store.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    application.store.create_schema()
    return application


async def drive(application: App, events: list[Event], concurrency: int) -> tuple[float, list[float]]:
    """Dispatch with at most ``concurrency`` events in flight; returns (seconds, latencies)."""
    messenger = RecordingMessenger()
    latencies: list[float] = []
    sem = asyncio.Semaphore(concurrency)

    async def one(ev: Event) -> None:
        async with sem:
            t0 = time.perf_counter()
            await application.dispatch(ev, messenger)
            latencies.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(e) for e in events))
    return time.perf_counter() - t0, latencies


def run_case(label: str, url: str, events: list[Event], concurrency: int, *, group_commit: bool,
             projections: bool = True) -> dict[str, object]:
    application = fresh_app(url, projections=projections)
    if not group_commit:
        application.store.writer.max_batch = 1  # the peer: one transaction per event
    application.start()
    try:
        seconds, lat = asyncio.run(drive(application, events, concurrency))
    finally:
        application.stop()
        application.store.engine.dispose()
    writer: EventWriter = application.store.writer
    lat.sort()
    return {
        "case": label,
        "events": len(events),
        "msg/s": len(events) / seconds,
        "p50 ms": statistics.median(lat) * 1000,
        "p99 ms": lat[int(len(lat) * 0.99) - 1] * 1000,
        "commits": writer.batches,
        "events/commit": writer.jobs / max(writer.batches, 1),
    }


def print_table(rows: list[dict[str, object]]) -> None:
    cols = list(rows[0])
    print(" | ".join(f"{c:>14}" for c in cols))
    for r in rows:
        print(" | ".join(f"{v:>14.1f}" if isinstance(v, float) else f"{v!s:>14}" for v in r.values()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--members", type=int, default=2_000)
    ap.add_argument("--chats", type=int, default=50)
    ap.add_argument("--concurrency", type=int, default=256, help="events in flight at once")
    ap.add_argument("--peer-events", type=int, default=0,
                    help="events for the per-event-commit peer (default 0: the same events as Cohort)")
    ap.add_argument("--pg-url", default="", help="also run on this PostgreSQL (its schema is reset)")
    args = ap.parse_args()

    events = list(synthetic_events(args.events, args.members, args.chats))
    peer_events = events[: args.peer_events] if args.peer_events else events
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        backends = [("sqlite", "sqlite")]
        if args.pg_url:
            backends.append(("postgresql", args.pg_url))
        for name, target in backends:
            cases = [
                (f"cohort {name}", events, True, True),
                (f"cohort {name} core only", events, True, False),
                (f"peer {name} 1 tx/event", peer_events, False, True),
            ]
            for i, (label, case_events, group_commit, projections) in enumerate(cases):
                # Every case on a fresh database: a new SQLite file; PostgreSQL's schema is reset.
                url = f"sqlite:///{Path(tmp) / f'bench-{i}.db'}" if target == "sqlite" else target
                rows.append(run_case(label, url, case_events, args.concurrency,
                                     group_commit=group_commit, projections=projections))
    print(f"ingest: {args.events} events, {args.members} members, {args.chats} chats, "
          f"{args.concurrency} in flight; each acknowledged after its commit (SQLite synchronous=FULL); "
          "every case on a fresh database")
    print_table(rows)


if __name__ == "__main__":
    main()
