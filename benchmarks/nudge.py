"""Nudges: a campaign through the real PTB adapter against the loopback fake Bot API that
enforces Telegram's flood limits, and a simulated A/B on the simulator's community.

    .venv/bin/python benchmarks/nudge.py --members 10000          # delivery (≈6 minutes)
    .venv/bin/python benchmarks/nudge.py --ab                      # A/B recovery only

Delivery: ``--members`` treated members (plus the control group, 20 % of the flagged:
12,500 flagged for 10,000 nudges) are planned by the real campaign code, composed, and
sent through the outbox Notifier → TelegramMessenger (PTB's HTTP stack, its rate limiter)
→ the fake, which answers 429 with ``retry_after`` beyond 30 sends in any sliding second
overall or more than one per chat per second. Printed: sends per second between the
first and the last accepted send, as a share of the allowed 30/s, the 429 count, and
duplicates or losses counted from the fake's received log against the campaign.

A/B: the simulator's community (engine/sim), scored by recency, one campaign, the real
history afterwards, and an injected effect (each treated member who did not come back on
their own returns with probability p); the report's interval must cover the true sample
effect, and 0 when p = 0.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pydantic import SecretStr  # noqa: E402
from sqlalchemy import select  # noqa: E402

from bot.bootstrap import build_adapters, build_app  # noqa: E402
from bot.nudges.service import NudgeService  # noqa: E402
from bot.settings import TelegramSettings, load_settings  # noqa: E402
from engine.nudge.tables import NudgeAssignment  # noqa: E402
from engine.store.models import Account  # noqa: E402
from tests.fakes.telegram_api import TOKEN, FakeTelegram, SendLimits  # noqa: E402
from tests.nudge.world import seed_at_risk  # noqa: E402

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ALLOWED = 30.0


class _CpuMeter:
    """CPU seconds of the event loop's thread (PTB, httpx, the Notifier's coroutines) and of
    the store's writer thread (the outbox's claims and commits); with ``profile``, cProfile
    of both, written as two .pstats files."""

    def __init__(self, app: Any, profile: Path | None) -> None:
        import cProfile
        self.profile = profile
        self.loop = cProfile.Profile()
        self.writer = cProfile.Profile()
        self.writer_cpu = 0.0
        writer = app.store.writer
        original = writer._run_batch

        def measured(batch: Any) -> None:
            t0 = time.thread_time()
            if profile is not None:
                self.writer.enable()
            try:
                original(batch)
            finally:
                if profile is not None:
                    self.writer.disable()
                self.writer_cpu += time.thread_time() - t0

        writer._run_batch = measured
        self.loop_cpu = time.thread_time()
        if profile is not None:
            self.loop.enable()

    def stop(self) -> None:
        self.loop_cpu = time.thread_time() - self.loop_cpu
        if self.profile is not None:
            self.loop.disable()
            self.loop.dump_stats(f"{self.profile}.loop.pstats")
            self.writer.dump_stats(f"{self.profile}.writer.pstats")
            print(f"  profiles: {self.profile}.loop.pstats, {self.profile}.writer.pstats")


def _serve_fake(conn: Connection) -> None:
    """The fake Bot API in its own process (Telegram is not inside the bot's process either):
    sends its port, serves until told to stop, then sends back what it received."""

    async def serve() -> None:
        async with FakeTelegram(limits=SendLimits(per_second=int(ALLOWED), per_chat_interval=1.0)) as fake:
            conn.send(fake.base_url)
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, conn.recv)
            conn.send(([(c.params.get("chat_id"), c.at) for c in fake.accepted_sends], len(fake.too_many)))

    asyncio.run(serve())


async def delivery(members: int, interval: float | None, profile: Path | None) -> bool:
    logging.basicConfig(level=logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="cohort-nudge-bench-"))
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    server = multiprocessing.get_context("spawn").Process(target=_serve_fake, args=(theirs,), daemon=True)
    server.start()
    base_url = ours.recv()
    settings = load_settings(storage={"url": f"sqlite:///{tmp / 'bench.db'}"},
                             recsys={"artifact_dir": str(tmp / "models")},
                             notifier={} if interval is None else {"telegram_interval": interval})
    settings = settings.model_copy(update={"telegram": TelegramSettings(base_url=base_url),
                                           "telegram_token": SecretStr(TOKEN)})
    app = build_app(settings)  # the app's own Notifier and nudge service, as `cohort run` builds them
    app.store.create_schema()
    app.start()
    cid, flagged = seed_at_risk(app.store.engine, members, 0.2, NOW)
    (adapter,) = build_adapters(app)  # as `cohort run`: PTB with Cohort's hooks, attached to the Notifier
    await adapter.start()
    service = app.deps.nudges
    assert isinstance(service, NudgeService)
    meter = _CpuMeter(app, profile)
    cpu, started = time.process_time(), time.monotonic()
    result = await service.run(cid, now=NOW)
    elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
    meter.stop()
    await adapter.stop()
    with app.store.engine.connect() as conn:
        rows = conn.execute(select(NudgeAssignment.member_id, NudgeAssignment.arm, NudgeAssignment.delivery)).all()
        ext = dict(conn.execute(select(Account.member_id, Account.external_id)).all())
    app.stop()
    ours.send("stop")
    accepted, too_many = ours.recv()
    server.join(10)
    treated = {int(ext[m]) for m, arm, _ in rows if arm == "treated"}
    control = {int(ext[m]) for m, arm, _ in rows if arm == "control"}
    received = Counter(int(chat) for chat, _ in accepted)
    duplicates = sum(n - 1 for n in received.values() if n > 1)
    lost = len(treated - set(received))
    to_control = len(control & set(received))
    times = [at for _, at in accepted]
    span = max(times) - min(times) if len(times) > 1 else float("nan")
    rate = (len(times) - 1) / span if len(times) > 1 else 0.0
    ordered, busiest, j = sorted(times), 0, 0
    for i, t in enumerate(ordered):  # most accepted sends the fake saw in any sliding second
        while ordered[j] <= t - 1.0:
            j += 1
        busiest = max(busiest, i - j + 1)
    print("nudge delivery through PTB → fake Bot API (30/s global, 1/s per chat, 429 beyond)")
    print(f"  flagged {flagged}, treated {len(treated)}, control {len(control)} (status {result.plan.status})")
    print(f"  sent {len(times)} in {span:.1f} s: {rate:.2f} msg/s = {rate / ALLOWED:.1%} of the allowed {ALLOWED:.0f}/s"
          f" (campaign wall time {elapsed:.1f} s incl. planning)")
    print(f"  notifier.telegram_interval {app.settings.notifier.telegram_interval:.5f} s; "
          f"most sends the fake saw in any one second: {busiest}")
    print(f"  CPU in the bot process: {cpu:.1f} s = {cpu / max(1, len(times)) * 1000:.1f} ms per DM "
          f"(wall {elapsed:.1f} s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    per = 1000 / max(1, len(times))
    print(f"    of which the event loop (PTB/httpx + the Notifier) {meter.loop_cpu * per:.1f} ms, "
          f"the writer (outbox claims/commits, deliveries) {meter.writer_cpu * per:.1f} ms, "
          f"other threads (reads) {(cpu - meter.loop_cpu - meter.writer_cpu) * per:.1f} ms")
    print(f"  429 answers: {too_many}; duplicates {duplicates}; lost {lost}; DMs to control {to_control}")
    ok = rate >= 0.95 * ALLOWED and not too_many and not duplicates and not lost and not to_control
    print("  target (≥ 95 % of the allowed rate, zero 429s, exactly once):", "MET" if ok else "NOT MET")
    return ok


def ab(seeds: list[int], members: int) -> bool:
    from tests.nudge.helpers import schema_engine
    from tests.nudge.simab import run_ab
    ok = True
    print(f"simulated A/B on engine/sim ({members} members, campaign on day 30, top 50 % by recency flagged)")
    print(f"  {'seed':>4} {'p':>4} {'treated':>7} {'control':>7} {'true':>7} {'estimate':>8}  95 % CI (Newcombe)   covers")
    for seed in seeds:
        for p in (0.5, 0.3, 0.0):
            d = Path(tempfile.mkdtemp(prefix="cohort-ab-"))
            r = run_ab(schema_engine(d), p=p, seed=seed, members=members)
            o = r.report.overall
            assert o is not None
            covers = o.ci_low <= r.true_effect <= o.ci_high
            ok &= covers
            print(f"  {seed:>4} {p:>4} {o.treated:>7} {o.control:>7} {r.true_effect:>+7.3f} {o.uplift:>+8.3f}  "
                  f"[{o.ci_low:+.3f}, {o.ci_high:+.3f}]  {'yes' if covers else 'NO'}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=10_000, help="treated members to nudge")
    parser.add_argument("--ab", action="store_true", help="only the simulated A/B")
    parser.add_argument("--no-ab", action="store_true", help="only the delivery run")
    parser.add_argument("--ab-members", type=int, default=800)
    parser.add_argument("--interval", type=float, default=None,
                        help="notifier.telegram_interval: seconds between DMs (default: the shipped setting, 1/30)")
    parser.add_argument("--profile", type=Path, help="write cProfile stats of the event loop and the writer here")
    args = parser.parse_args()
    ok = True
    if not args.ab:
        ok &= asyncio.run(delivery(args.members, args.interval, args.profile))
    if not args.no_ab:
        ok &= ab([3, 8, 13], args.ab_members)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
