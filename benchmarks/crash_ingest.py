"""Crash test with real processes: kill -9 the bot under load, restart, count what was lost.

    .venv/bin/python benchmarks/crash_ingest.py                      # 10 kills per mode
    .venv/bin/python benchmarks/crash_ingest.py --kills 20 --updates 4000 --mode webhook

The bot is the real ``cohort run`` (``python -m bot.cli run``) in its own process, on a
SQLite file, talking to the loopback fake Bot API (``tests/fakes/telegram_api.py``) that
this script hosts.

* webhook: senders post updates to the bot's webhook as fast as it acknowledges them (a
  200); a refused connection or a 5xx is sent again later, as Telegram does.
* polling: the fake serves every update through getUpdates; an update is acknowledged
  once the bot asks for an offset past it, as on Telegram.

The bot is killed with SIGKILL at a random moment while updates flow, and restarted, ``--kills``
times; then it runs until everything is acknowledged and is stopped with SIGTERM. Printed per
mode: updates acknowledged, stored, lost (acknowledged but never stored) and stored twice.
Target: 0 lost, 0 stored twice. Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.telegram_api import TOKEN, FakeTelegram  # noqa: E402

SECRET = "crash-test-secret_1"
GROUPS = (-1001000000011, -1001000000012, -1001000000013)


@dataclass
class Result:
    mode: str
    updates: int
    kills: int
    acknowledged: int
    stored: int
    lost: int
    duplicated: int
    seconds: float

    def line(self) -> str:
        return (f"{self.mode:<8} {self.updates:>6} updates  {self.kills:>3} kills  acknowledged {self.acknowledged:>6}  "
                f"stored {self.stored:>6}  lost {self.lost:>3}  stored twice {self.duplicated:>3}  ({self.seconds:.0f} s)")


def make_update(uid: int) -> dict[str, Any]:
    chat = GROUPS[uid % len(GROUPS)]
    author = 7000 + uid % 97
    return {"update_id": uid, "message": {
        "message_id": uid, "date": 1_735_689_600 + uid, "text": f"crash test message {uid} thanks",
        "chat": {"id": chat, "type": "supergroup", "title": f"Group {chat}"},
        "from": {"id": author, "is_bot": False, "first_name": f"U{author}"}}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Bot:
    """``cohort run`` as a child process."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], cwd=ROOT, env=self.env,
                                     stdout=log, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def terminate(self, timeout: float = 60) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def bot_env(tmp: Path, fake: FakeTelegram, mode: str, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COHORT_", "TELEGRAM_", "DISCORD_"))}
    env.update({
        "TELEGRAM_TOKEN": TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "COHORT_STORAGE__URL": f"sqlite:///{tmp / 'crash.db'}",
        "COHORT_RECSYS__ARTIFACT_DIR": str(tmp / "models"),
        "COHORT_TELEGRAM__BASE_URL": fake.base_url,
        "COHORT_TELEGRAM__MODE": mode,
        "COHORT_TELEGRAM__LISTEN": "127.0.0.1",
        "COHORT_TELEGRAM__PORT": str(port),
        "COHORT_TELEGRAM__WEBHOOK_URL": "https://bot.example.test/hook",
        "COHORT_SCHEDULER__ENABLED": "false",
        "COHORT_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    })
    return env


def count_stored(db: Path, n: int) -> tuple[set[int], int]:
    """(update ids whose message is stored, how many were stored more than once)."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute("SELECT external_id, COUNT(*) FROM messages GROUP BY chat_id, external_id").fetchall()
        interactions = con.execute(
            "SELECT message_id, COUNT(*) FROM interactions WHERE kind = 'message' GROUP BY message_id").fetchall()
    finally:
        con.close()
    stored = {int(ext) for ext, _ in rows if ext.isdigit() and 1 <= int(ext) <= n}
    twice = sum(1 for _, c in rows if c > 1) + sum(1 for _, c in interactions if c > 1)
    return stored, twice


async def send_webhook(url: str, pending: asyncio.Queue[dict[str, Any]], acked: set[int],
                       stop: asyncio.Event) -> None:
    """One sender: post, and on anything but a 200 put the update back for later."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        while not stop.is_set():
            try:
                update = pending.get_nowait()
            except asyncio.QueueEmpty:
                await asyncio.sleep(0.01)
                continue
            try:
                async with session.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as r:
                    ok = r.status == 200
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            if ok:
                acked.add(update["update_id"])
            else:
                pending.put_nowait(update)
                await asyncio.sleep(0.05)  # the bot is down or failing: Telegram backs off too


async def wait_until(check: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def run_mode(mode: str, updates: int, kills: int, seed: int, keep: Path | None) -> Result:
    rng = random.Random(seed)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"cohort-crash-{mode}-") as tmp_dir:
        tmp = Path(tmp_dir)
        async with FakeTelegram(max_poll_wait=0.5) as fake:
            port = free_port()
            bot = Bot(bot_env(tmp, fake, mode, port), tmp / "bot.log")
            acked: set[int] = set()
            stop = asyncio.Event()
            senders: list[asyncio.Task[None]] = []
            pending: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
            all_updates = [make_update(uid) for uid in range(1, updates + 1)]
            if mode == "webhook":
                for u in all_updates:
                    pending.put_nowait(u)
                url = f"http://127.0.0.1:{port}/hook"
                senders = [asyncio.create_task(send_webhook(url, pending, acked, stop)) for _ in range(8)]
            else:
                fake.push_updates(all_updates)

            def progress() -> int:
                return len(acked) if mode == "webhook" else fake.confirmed_below

            done_kills = 0
            for _ in range(kills):
                before, polls = progress(), len(fake.calls_to("getUpdates"))
                bot.start()
                # Running and taking updates (a new ack, or a poll from this process).
                started = await wait_until(
                    lambda b=before, p=polls: progress() > b or (mode == "polling" and len(fake.calls_to("getUpdates")) > p),
                    timeout=120)
                if not started or not bot.alive:
                    break
                await asyncio.sleep(rng.uniform(0.05, 1.2))
                bot.kill()
                done_kills += 1
                if (mode == "webhook" and len(acked) == updates) or (mode == "polling" and fake.confirmed_below > updates):
                    break  # everything went through already: more kills would test nothing
            bot.start()
            finished = await wait_until(
                (lambda: len(acked) == updates) if mode == "webhook" else (lambda: fake.confirmed_below > updates),
                timeout=600)
            bot.terminate()
            stop.set()
            await asyncio.gather(*senders)
            if mode == "polling":
                acked = set(range(1, min(fake.confirmed_below, updates + 1)))
            stored, twice = count_stored(tmp / "crash.db", updates)
            if not finished or keep is not None:
                target = keep or Path(f"crash-{mode}.log")
                target.write_bytes((tmp / "bot.log").read_bytes())
                print(f"{mode}: bot log kept in {target}" + ("" if finished else " (did not finish)"))
    return Result(mode, updates, done_kills, len(acked), len(stored), len(acked - stored), twice,
                  time.monotonic() - t0)


async def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--updates", type=int, default=3000, help="updates per mode")
    ap.add_argument("--kills", type=int, default=10, help="kill -9 per mode")
    ap.add_argument("--mode", choices=["webhook", "polling", "both"], default="both")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep-log", type=Path, default=None, help="copy the bot's log here")
    args = ap.parse_args(argv)
    modes = ["webhook", "polling"] if args.mode == "both" else [args.mode]
    results = [await run_mode(m, args.updates, args.kills, args.seed, args.keep_log) for m in modes]
    print("crash ingest: `cohort run` killed with SIGKILL at random moments under load, restarted; SQLite")
    for r in results:
        print(r.line())
    return 0 if all(r.lost == 0 and r.duplicated == 0 and r.acknowledged == r.updates for r in results) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
