"""Real processes (slow): a 2,000-member campaign through ``cohort run``-style processes
killed with SIGKILL mid-campaign and restarted, and two processes firing the same
campaign on one PostgreSQL database. Counted from the fake Bot API's received log.

The one window the outbox cannot close (see :mod:`bot.notifier`): a DM the platform
accepted whose ``sent`` was not committed when the process died is sent again after
the restart (Telegram takes no idempotency key). Such a row is ``sending`` at the kill;
at most ``2 × notifier concurrency`` rows are ``sending`` at once (two chunks of the
campaign in flight, each through ``notify_all``'s gate). The kill test asserts that every
repeated DM is one of those rows, seen at the kill, and nothing else.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from bot.notifier import NotifierOptions
from engine.nudge.tables import NudgeAssignment, NudgeCampaign
from engine.outbox.tables import OutboxEntry
from engine.store import migrate
from engine.store.db import make_engine
from engine.store.models import Account
from tests.fakes.telegram_api import TOKEN, FakeTelegram
from tests.nudge.world import seed_at_risk

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
AT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
IN_FLIGHT = 2 * NotifierOptions().concurrency  # rows ``sending`` at once, at most
STALE_AFTER = 5.0


def bot_env(url: str, fake: FakeTelegram, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COHORT_", "TELEGRAM_", "DISCORD_"))}
    env.update({
        "TELEGRAM_TOKEN": TOKEN,
        "COHORT_STORAGE__URL": url,
        "COHORT_RECSYS__ARTIFACT_DIR": str(tmp / "models"),
        "COHORT_TELEGRAM__BASE_URL": fake.base_url,
        "COHORT_TELEGRAM__MODE": "polling",
        "COHORT_SCHEDULER__ENABLED": "false",  # the test fires the daily job itself, at AT
        "COHORT_NOTIFIER__STALE_AFTER": str(STALE_AFTER),
        "COHORT_NOTIFIER__SWEEP_INTERVAL": "0.5",
        "COHORT_NOTIFIER__TELEGRAM_INTERVAL": "0.002",
        "COHORT_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    })
    return env


async def spawn(env: dict[str, str], cid: int, *flags: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.nudge.procs", str(cid), AT.isoformat(), *flags, cwd=ROOT, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)


async def line_starting(proc: asyncio.subprocess.Process, wanted: str, timeout: float) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while True:
        raw = await asyncio.wait_for(proc.stdout.readline(), max(0.1, deadline - time.monotonic()))
        if not raw:
            raise AssertionError(f"the bot exited before printing {wanted!r}")
        if raw.decode().startswith(wanted):
            return raw.decode().strip()


async def until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll a condition of the outside world (the fake's log, the database)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not in time: {what}"
        await asyncio.sleep(0.05)


def draw(engine: Engine) -> dict[int, str]:
    with engine.connect() as conn:
        return {int(m): str(a) for m, a in conn.execute(select(NudgeAssignment.member_id, NudgeAssignment.arm))}


def campaigns(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(NudgeCampaign)).scalar_one())


def users(engine: Engine) -> dict[int, int]:
    with engine.connect() as conn:
        return {int(m): int(e) for m, e in conn.execute(select(Account.member_id, Account.external_id))}


def sending(engine: Engine) -> set[int]:
    with engine.connect() as conn:
        return {int(m) for m in conn.execute(select(OutboxEntry.member_id).where(OutboxEntry.state == "sending"))
                .scalars()}


def received(fake: FakeTelegram) -> Counter[int]:
    return Counter(int(m["chat"]["id"]) for m in fake.delivered)


async def test_a_campaign_killed_mid_way_and_restarted_sends_each_treated_member_one_dm(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nudge.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    cid, _ = seed_at_risk(engine, treated=2000, control_fraction=0.2, now=AT)
    ext = users(engine)
    rng = random.Random(14)
    in_window: Counter[int] = Counter()  # user id → kills that found its DM accepted, row still 'sending'
    kills, drawn = 0, None
    async with FakeTelegram() as fake:
        env = bot_env(url, fake, tmp_path)
        proc = await spawn(env, cid)
        try:
            for _ in range(4):
                target = len(fake.delivered) + rng.randint(100, 350)
                running = proc

                def reached(t: int = target, p: asyncio.subprocess.Process = running) -> bool:
                    return len(fake.delivered) >= t or p.returncode is not None

                await until(reached, 300, f"{target} DMs")
                assert proc.returncode is None, "the campaign finished before the kill"
                proc.kill()  # SIGKILL, mid-campaign
                await proc.wait()
                kills += 1
                got = received(fake)
                in_window.update(ext[m] for m in sending(engine) if got[ext[m]])
                if drawn is None:
                    drawn = draw(engine)  # stored before the first DM went out
                    assert len(drawn) == 2500
                proc = await spawn(env, cid)
            done = json.loads((await line_starting(proc, "done", 600)).removeprefix("done "))
            assert await asyncio.wait_for(proc.wait(), 60) == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    got = received(fake)
    final = draw(engine)
    treated = {ext[m] for m, arm in final.items() if arm == "treated"}
    control = {ext[m] for m, arm in final.items() if arm == "control"}
    repeated = {u for u, n in got.items() if n > 1}
    print(f"kills {kills}, DMs {sum(got.values())}, treated {len(treated)}, repeated {len(repeated)} "
          f"(in the in-flight window: {len(in_window)}), deliveries {done}")
    assert kills == 4
    assert final == drawn and campaigns(engine) == 1  # the control draw did not change
    assert len(treated) == 2000 and len(control) == 500
    assert treated <= set(got)  # nobody lost
    assert not control & set(got)  # no control member got a DM
    assert set(got) <= treated
    assert repeated <= set(in_window)  # only the documented window repeats...
    assert all(got[u] <= 1 + in_window[u] for u in repeated)  # ...once per kill that caught it
    assert sum(in_window.values()) <= kills * IN_FLIGHT
    assert done == {"sent": 2000}


@pytest.fixture
def pg(fresh_pg: tuple[str, Engine]) -> tuple[str, Engine]:
    return fresh_pg


async def test_two_processes_on_one_postgresql_database_run_one_campaign(pg: tuple[str, Engine],
                                                                        tmp_path: Path) -> None:
    url, engine = pg
    cid, _ = seed_at_risk(engine, treated=300, control_fraction=0.2, now=AT)
    ext = users(engine)
    async with FakeTelegram() as fake:
        env = bot_env(url, fake, tmp_path)
        procs = [await spawn(env, cid, "--wait-go") for _ in range(2)]
        try:
            for p in procs:
                await line_starting(p, "ready", 120)
            for p in procs:  # both fire the day's job at once, as two leaders would
                assert p.stdin is not None
                p.stdin.write(b"go\n")
                await p.stdin.drain()
            outs = [json.loads((await line_starting(p, "done", 300)).removeprefix("done ")) for p in procs]
            assert [await asyncio.wait_for(p.wait(), 60) for p in procs] == [0, 0]
        finally:
            for p in procs:
                if p.returncode is None:
                    p.kill()
                    await p.wait()
    got = received(fake)
    final = draw(engine)
    treated = {ext[m] for m, arm in final.items() if arm == "treated"}
    assert campaigns(engine) == 1
    assert len(treated) == 300
    assert set(got) == treated and max(got.values()) == 1  # each member at most once, none lost
    assert outs == [{"sent": 300}, {"sent": 300}]
