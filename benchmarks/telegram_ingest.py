"""Telegram ingest throughput: fake Bot API → PTB polling → router → SQLite, beside raw ingest.

    .venv/bin/python benchmarks/telegram_ingest.py --updates 5000

Both runs use a fresh temporary SQLite database and the same events:

* raw: the events (converted up front with ``to_events``) dispatched straight into
  ``app.dispatch``, up to 64 in flight, with a messenger that sends nothing;
* telegram: the same updates served by the loopback fake Bot API through PTB's real
  HTTP client, long polling and update dispatch, the adapter's conversion and its bounded
  concurrent dispatch, with handler sends discarded like in the raw run;
* + sends: the same again, but replies and notices go back to the fake over HTTP.

Latency runs from the moment an update becomes available (raw: handed to the loop;
telegram: queued in the fake Bot API) to ``dispatch`` returning, i.e. committed and handled.
By default every update is available at once (a burst: latency is mostly queueing);
``--rate R`` releases R updates per second instead, which shows latency under load.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.adapters.telegram import TelegramAdapter, to_events  # noqa: E402
from bot.bootstrap import App, build_app  # noqa: E402
from bot.ports import Button, Capability, ChatRef, Role, SentMessage  # noqa: E402
from bot.settings import TelegramSettings, load_settings  # noqa: E402
from engine.events import Event, Platform  # noqa: E402
from engine.store.writer import Outcome  # noqa: E402
from tests.fakes.telegram_api import BOT_ID, BOT_USERNAME, TOKEN, FakeTelegram  # noqa: E402

GROUPS = [-1001000000001, -1001000000002, -1001000000003, -1001000000004, -1001000000005]


def make_updates(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """Realistic-ish traffic: messages (some replies, links, mentions) and reactions."""
    rng = random.Random(seed)
    updates: list[dict[str, Any]] = []
    posted: list[tuple[int, int, int]] = []  # (chat, message_id, author)
    for i in range(n):
        uid = 1 + i
        chat = rng.choice(GROUPS)
        author = 5000 + rng.randrange(300)
        chat_obj = {"id": chat, "title": f"Group {chat}", "type": "supergroup"}
        date = 1_735_689_600 + i
        if posted and rng.random() < 0.15:
            r_chat, r_msg, _ = rng.choice(posted)
            updates.append({"update_id": uid, "message_reaction": {
                "chat": {"id": r_chat, "title": f"Group {r_chat}", "type": "supergroup"}, "message_id": r_msg,
                "user": {"id": author, "is_bot": False, "first_name": f"U{author}"}, "date": date,
                "old_reaction": [], "new_reaction": [{"type": "emoji", "emoji": rng.choice("👍🔥🎉❤")}]}})
            continue
        text = f"message {i} " + " ".join(rng.choice(("pandas", "merge", "why", "thanks", "ok")) for _ in range(12))
        msg: dict[str, Any] = {"message_id": uid, "date": date, "chat": chat_obj, "text": text,
                               "from": {"id": author, "is_bot": False, "first_name": f"U{author}"}}
        same_chat = [p for p in posted[-50:] if p[0] == chat]
        if same_chat and rng.random() < 0.3:
            _, r_msg, r_author = rng.choice(same_chat)
            msg["reply_to_message"] = {"message_id": r_msg, "date": date - 1, "chat": chat_obj,
                                       "from": {"id": r_author, "is_bot": False, "first_name": f"U{r_author}"}}
        if rng.random() < 0.1:
            msg["text"] += " https://docs.python.org/3/"
            msg["entities"] = [{"type": "url", "offset": len(text) + 1, "length": 26}]
        updates.append({"update_id": uid, "message": msg})
        posted.append((chat, uid, author))
    return updates


class NullMessenger:
    """Sends nothing: the raw run measures storage and handlers only."""

    platform = Platform.TELEGRAM
    capabilities = frozenset(Capability)

    async def _sent(self, chat: ChatRef) -> SentMessage:
        return SentMessage(chat, "1")

    async def reply(self, to: Event, text: str, *, buttons: Sequence[Button] = ()) -> SentMessage:
        return await self._sent(ChatRef.of(to))

    async def send(self, chat: ChatRef, text: str, *, buttons: Sequence[Button] = ()) -> SentMessage:
        return await self._sent(chat)

    async def dm(self, user_id: str, text: str, *, buttons: Sequence[Button] = ()) -> SentMessage:
        return await self._sent(ChatRef(Platform.TELEGRAM, "", user_id))

    async def send_picture(self, chat: ChatRef, png: bytes, caption: str = "") -> SentMessage:
        return await self._sent(chat)

    async def send_document(self, user_id: str, filename: str, data: bytes, caption: str = "") -> SentMessage:
        return await self._sent(ChatRef(Platform.TELEGRAM, "", user_id))

    async def edit(self, message: SentMessage, text: str, *, buttons: Sequence[Button] = ()) -> None:
        return None

    async def role_of(self, community_id: str, user_id: str) -> Role:
        return Role.MEMBER


def new_app(tmp: Path, name: str, sync: str) -> App:
    settings = load_settings(storage={"url": f"sqlite:///{tmp / name}.db", "sqlite_synchronous": sync},
                             recsys={"artifact_dir": str(tmp / "models")})
    app = build_app(settings)
    app.store.create_schema()
    app.start()
    return app


def summary(label: str, n: int, elapsed: float, latencies: list[float]) -> str:
    lat = sorted(latencies)
    p50 = statistics.median(lat) * 1000
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
    return f"{label:<10} {n:>7} updates  {n / elapsed:>9.0f} updates/s   p50 {p50:>8.1f} ms   p99 {p99:>8.1f} ms"


async def release(t0: float, i: int, rate: float) -> float:
    """Wait until update ``i`` is due; returns the time it became available."""
    due = t0 + (i / rate if rate else 0.0)
    delay = due - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)
    return due


async def run_raw(app: App, events: list[Event], in_flight: int, rate: float) -> tuple[float, list[float]]:
    messenger = NullMessenger()
    slots = asyncio.Semaphore(in_flight)
    latencies: list[float] = []

    async def one(event: Event, available: float) -> None:
        try:
            await app.dispatch(event, messenger)  # type: ignore[arg-type]
        finally:
            latencies.append(time.monotonic() - available)
            slots.release()

    tasks = []
    t0 = time.monotonic()
    for i, event in enumerate(events):
        available = await release(t0, i, rate)
        await slots.acquire()  # same back-pressure as the adapter; tasks start in order
        tasks.append(asyncio.create_task(one(event, available)))
    await asyncio.gather(*tasks)
    return time.monotonic() - t0, latencies


async def run_telegram(app: App, updates: list[dict[str, Any]], key_to_update: dict[str, int],
                       in_flight: int, rate: float, *, sends: bool) -> tuple[float, list[float], dict[str, int]]:
    done: dict[str, float] = {}
    all_done = asyncio.Event()
    null = NullMessenger()

    class Timed:
        """The router, noting when each event's handlers are done."""

        async def record(self, event: Event) -> Outcome:
            return await app.router.record(event)

        async def react(self, event: Event, messenger: Any, outcome: Outcome) -> None:
            await app.router.react(event, messenger if sends else null, outcome)  # type: ignore[arg-type]
            done[event.dedup_key] = time.monotonic()
            if len(done) >= len(key_to_update):
                all_done.set()

    async with FakeTelegram() as fake:
        settings = app.settings.model_copy(update={
            "telegram": TelegramSettings(base_url=fake.base_url),
            "telegram_token": __import__("pydantic").SecretStr(TOKEN),
        })
        # Sends go to the fake: no need to respect Telegram's flood limits here.
        adapter = TelegramAdapter(settings, Timed(), overall_rate=0, group_rate_per_minute=0,
                                  max_in_flight=in_flight, poll_timeout=1)
        await adapter.start()
        t0 = time.monotonic()
        available: dict[int, float] = {}
        if rate:
            for i, u in enumerate(updates):
                available[u["update_id"]] = await release(t0, i, rate)
                fake.push_update(u)
        else:
            fake.push_updates(updates)
            available = dict.fromkeys(key_to_update.values(), t0)
        await asyncio.wait_for(all_done.wait(), timeout=600)
        elapsed = max(done.values()) - t0
        await adapter.stop()
        latencies = [done[k] - available[u] for k, u in key_to_update.items()]
        calls = {m: len(fake.calls_to(m)) for m in ("getUpdates", "sendMessage")}
    return elapsed, latencies, calls


async def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--updates", type=int, default=5000)
    parser.add_argument("--in-flight", type=int, default=64, help="dispatches in flight (adapter's max_in_flight)")
    parser.add_argument("--rate", type=float, default=0.0, help="updates per second (0: all at once)")
    parser.add_argument("--sync", default="FULL", choices=["OFF", "NORMAL", "FULL"], help="SQLite synchronous")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    updates = make_updates(args.updates)
    key_to_update: dict[str, int] = {}
    events: list[Event] = []
    for u in updates:
        evs = to_events(u, BOT_USERNAME, BOT_ID)
        assert len(evs) == 1, u
        events.append(evs[0])
        key_to_update[evs[0].dedup_key] = u["update_id"]

    with tempfile.TemporaryDirectory(prefix="cohort-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        raw_app = new_app(tmp, "raw", args.sync)
        try:
            raw_elapsed, raw_lat = await run_raw(raw_app, events, args.in_flight, args.rate)
        finally:
            raw_app.stop()
        runs = []
        for sends in (False, True):
            tg_app = new_app(tmp, f"telegram-{sends}", args.sync)
            try:
                runs.append(await run_telegram(tg_app, updates, key_to_update, args.in_flight, args.rate,
                                               sends=sends))
            finally:
                tg_app.stop()

    pace = f"{args.rate:g}/s" if args.rate else "all at once"
    print(f"telegram ingest: {args.updates} updates ({pace}), {args.in_flight} in flight, "
          f"SQLite synchronous={args.sync}")
    print(summary("raw", len(events), raw_elapsed, raw_lat))
    (ingest_elapsed, ingest_lat, ingest_calls), (full_elapsed, full_lat, full_calls) = runs
    print(summary("telegram", len(updates), ingest_elapsed, ingest_lat)
          + f"   ({ingest_calls['getUpdates']} getUpdates; handler sends discarded, as in raw)")
    print(summary("+ sends", len(updates), full_elapsed, full_lat)
          + f"   (handlers' {full_calls['sendMessage']} sendMessage go to the fake over HTTP)")
    print(f"adapter overhead: {ingest_elapsed / raw_elapsed:.2f}× raw wall time for ingest alone, "
          f"{full_elapsed / raw_elapsed:.2f}× with the handlers' sends")


if __name__ == "__main__":
    asyncio.run(main())
