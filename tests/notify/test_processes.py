"""Real processes (slow): one scheduler per PostgreSQL database with take-over after a
``kill -9``, and a Notifier killed between planned and sent that delivers exactly once
after a restart."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from bot.bootstrap import build_app
from bot.settings import load_settings
from engine.events import Platform
from engine.jobs.tables import JobRun
from engine.members.lookup import member_of_account
from engine.outbox.tables import OutboxEntry
from engine.store import migrate
from engine.store.db import make_engine
from engine.store.models import AuditEntry
from tests.fakes.telegram_api import BLOCKED, FakeTelegram
from tests.members.fakes import FakeMessenger, msg

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "tests.notify.procs", *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)})


def wait_line(proc: subprocess.Popen[str], wanted: str, timeout: float = 60.0) -> str:
    """The first stdout line starting with ``wanted`` (blocking reads; fails on EOF)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"process ended before printing {wanted!r}")
        if line.startswith(wanted):
            return line.strip()
    raise AssertionError(f"no {wanted!r} in time")


def poll(check: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


@pytest.fixture
def pg(fresh_pg: tuple[str, Engine]) -> tuple[str, Engine]:
    return fresh_pg


def ticks(engine: Engine) -> list[tuple[int, str]]:
    with engine.connect() as conn:
        rows = conn.execute(select(AuditEntry.details).where(AuditEntry.action == "tick")).scalars().all()
    return [(int(d["pid"]), str(d["at"])) for d in rows]


def test_one_scheduler_per_postgresql_database_and_take_over_after_kill(pg: tuple[str, Engine]) -> None:
    url, engine = pg
    first = spawn("scheduler", url, "0.3")
    second = None
    try:
        assert wait_line(first, "leading") == "leading"
        second = spawn("scheduler", url, "0.3")
        assert wait_line(second, "standby") == "standby"
        # Several firings, all by the leader; the standby runs none.
        poll(lambda: len(ticks(engine)) >= 4)
        before = ticks(engine)
        assert {pid for pid, _ in before} == {first.pid}
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        assert wait_line(second, "leading", timeout=60) == "leading"
        poll(lambda: sum(1 for pid, _ in ticks(engine) if pid == second.pid) >= 4)
        second.send_signal(signal.SIGKILL)
        second.wait()
        after = ticks(engine)
        assert {pid for pid, _ in after} == {first.pid, second.pid}
        # Each firing ran exactly once across both processes.
        repeated = [at for at, n in Counter(at for _, at in after).items() if n > 1]
        assert repeated == []
        with engine.connect() as conn:
            runs = conn.execute(select(JobRun.run_key, JobRun.holder)).all()
        assert len(runs) == len(after)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()


async def test_a_kill_between_planned_and_sent_delivers_exactly_once_after_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'outbox.db'}"
    app = build_app(load_settings(storage={"url": url}))
    migrate.upgrade(app.store.engine)
    app.start()
    for uid in ("2001", "2002", "2003"):
        await app.dispatch(msg(uid, "hello", platform=Platform.TELEGRAM, community="-1002"), FakeMessenger())
    ids = [await app.store.read(lambda s, u=u: member_of_account(s, "telegram", u)) for u in ("2001", "2002", "2003")]
    app.stop()
    specs = [f"{mid}:nudge:c1:{mid}" for mid in ids]

    def state(key: str) -> str | None:
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                return conn.execute(select(OutboxEntry.state).where(OutboxEntry.key == key)).scalar_one_or_none()
        finally:
            engine.dispose()

    async def until(check: Any, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while not await asyncio.to_thread(check):
            assert time.monotonic() < deadline, f"not met in time: {[state(f'nudge:c1:{m}') for m in ids]}"
            await asyncio.sleep(0.05)

    async with FakeTelegram() as fake:
        # 2002's send hangs at the platform (never answered); 2003 blocked the bot.
        hang = fake.fail("sendMessage", status=500, chat_id=2002, delay=20)  # far longer than the kill takes
        fake.fail("sendMessage", status=403, description=BLOCKED, chat_id=2003, times=100)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.notify.procs", "outbox", url, fake.base_url, *specs, cwd=ROOT,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)})
        await until(lambda: state(f"nudge:c1:{ids[0]}") == "sent" and state(f"nudge:c1:{ids[2]}") == "unreachable"
                    and state(f"nudge:c1:{ids[1]}") == "sending")
        await fake.wait_for("sendMessage", count=3)
        proc.kill()  # SIGKILL while 2002's message is in flight: planned, claimed, not sent
        await proc.wait()
        hang.times = 0  # the platform answers again
        restarted = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.notify.procs", "outbox", url, fake.base_url, *specs, cwd=ROOT,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert restarted.stdout is not None
        out = (await asyncio.wait_for(restarted.stdout.read(), 60)).decode()
        assert await restarted.wait() == 0
        assert "done sent sent unreachable" in out
        assert [len(fake.delivered_to(u)) for u in (2001, 2002, 2003)] == [1, 1, 0]
        assert [c.params["chat_id"] for c in fake.calls_to("sendMessage")].count(2003) == 1
