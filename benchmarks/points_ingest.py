"""Points on the hot path: ingest throughput and latency with the points projection ON vs OFF.

    .venv/bin/python benchmarks/points_ingest.py [--events 20000] [--members 500] [--chats 20]

N synthetic events (about 55% messages, 20% replies, 25% reactions, a few ✅ acceptances)
from many members in many chats go concurrently through ``app.dispatch`` (store, commit,
handlers), once on an app with the points projection and once with it removed, each on a
fresh SQLite file. Prints msg/s and p50/p99 dispatch latency for both.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.bootstrap import App, build_app
from bot.ports import Button, Capability, ChatRef, Role, SentMessage
from bot.settings import load_settings
from engine.events import Event, MessagePosted, Platform, ReactionAdded


class NullMessenger:
    """Accepts everything, sends nothing."""

    platform = Platform.TELEGRAM
    capabilities = frozenset({Capability.REPLY, Capability.SEND})

    async def reply(self, to: Event, text: str, *, buttons: Sequence[Button] = ()) -> SentMessage:
        return SentMessage(ChatRef.of(to), "0")

    async def send(self, chat: ChatRef, text: str, *, buttons: Sequence[Button] = ()) -> SentMessage:
        return SentMessage(chat, "0")

    async def role_of(self, community_id: str, user_id: str) -> Role:
        return Role.MEMBER


def synth(n: int, members: int, chats: int, seed: int = 1) -> list[Event]:
    rnd = random.Random(seed)
    t = datetime(2025, 3, 3, 8, tzinfo=UTC)
    posted: list[tuple[str, str, str]] = []  # chat, message id, author
    out: list[Event] = []
    words = ["how", "why", "what", "does", "recursion", "closure", "async", "await", "list", "dict", "loop", "class", "test", "deploy"]
    for i in range(n):
        t += timedelta(milliseconds=rnd.randint(50, 400))
        user = f"u{rnd.randrange(members)}"
        r = rnd.random()
        if r < 0.25 and posted:
            chat, mid, author = rnd.choice(posted[-500:])
            out.append(ReactionAdded(platform=Platform.TELEGRAM, community_id="bench", chat_id=chat,
                                     user_id=user, username=user, at=t, message_id=mid,
                                     emoji="✅" if rnd.random() < 0.05 else rnd.choice("👍🔥❤️🎉"),
                                     target_user_id=author))
            continue
        chat = f"c{rnd.randrange(chats)}"
        text = " ".join(rnd.choice(words) for _ in range(rnd.randint(2, 14))) + f" #{i}"
        reply_to = reply_user = None
        if r < 0.45 and posted:
            _, reply_to, reply_user = rnd.choice([p for p in posted[-50:] if p[0] == chat] or [(chat, None, None)])
        mid = f"m{i}"
        out.append(MessagePosted(platform=Platform.TELEGRAM, community_id="bench", chat_id=chat,
                                 user_id=user, username=user, user_name=user, at=t, message_id=mid,
                                 text=text, reply_to_message_id=reply_to, reply_to_user_id=reply_user))
        posted.append((chat, mid, user))
    return out


async def ingest(app: App, events: list[Event], concurrency: int,
                 store_only: bool = False) -> tuple[float, list[float]]:
    messenger = NullMessenger()
    # --store-only skips the router (handlers, role lookups): the writer path alone.
    submit = (lambda ev: app.store.record(ev)) if store_only else (lambda ev: app.dispatch(ev, messenger))
    latencies: list[float] = []
    sem = asyncio.Semaphore(concurrency)

    async def one(ev: Event) -> None:
        async with sem:
            t0 = time.perf_counter()
            await submit(ev)
            latencies.append(time.perf_counter() - t0)

    start = time.perf_counter()
    await asyncio.gather(*(one(ev) for ev in events))
    return time.perf_counter() - start, latencies


class CpuMeter:
    """Writer-thread CPU seconds spent in the points projection (its per-event work and
    its per-commit flush): a load-independent view of the hot-path cost."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.thread_time() - t0
        return timed


def make_app(path: Path, points: bool, sync: str, meter: CpuMeter | None = None) -> App:
    app = build_app(load_settings(storage={"url": f"sqlite:///{path}", "sqlite_synchronous": sync}))
    if not points:  # OFF: the same app without the points projection
        app.store.writer.projections = [p for p in app.store.writer.projections if p.name != "points"]
    elif meter is not None:
        proj: Any = app.deps.points
        proj.project = meter.wrap(proj.project)
        proj.flush = meter.wrap(proj.flush)
    app.store.create_schema()
    app.start()
    return app


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--members", type=int, default=500)
    ap.add_argument("--chats", type=int, default=20)
    ap.add_argument("--concurrency", type=int, default=512)
    ap.add_argument("--sync", default="FULL", choices=["OFF", "NORMAL", "FULL"])
    ap.add_argument("--store-only", action="store_true", help="Store.record instead of app.dispatch")
    args = ap.parse_args()
    events = synth(args.events, args.members, args.chats)
    kinds = {k: sum(1 for e in events if e.kind == k) for k in ("message", "reaction_added")}
    print(f"{len(events)} events ({kinds['message']} messages, {kinds['reaction_added']} reactions), "
          f"{args.members} members, {args.chats} chats, concurrency {args.concurrency}, "
          f"SQLite synchronous={args.sync}, {'Store.record' if args.store_only else 'app.dispatch'}")
    with tempfile.TemporaryDirectory() as tmp:
        for label, on in (("points OFF", False), ("points ON ", True)):
            meter = CpuMeter()
            app = make_app(Path(tmp) / f"{label.strip().replace(' ', '_')}.db", on, args.sync, meter)
            try:
                wall, lat = await ingest(app, events, args.concurrency, args.store_only)
                batches = app.store.writer.batches
            finally:
                app.stop()
            print(f"{label}: {len(events) / wall:8.0f} msg/s  p50 {pct(lat, 50) * 1000:7.1f} ms  "
                  f"p99 {pct(lat, 99) * 1000:7.1f} ms  ({wall:.2f} s, {batches} commits)"
                  + (f"  points CPU {meter.seconds / len(events) * 1e6:.0f} µs/event" if on else ""))


if __name__ == "__main__":
    asyncio.run(main())
