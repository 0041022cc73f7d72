"""Real processes for the slow multi-process tests (``python -m tests.notify.procs ...``).

``scheduler URL POLL``: the app's scheduler with one 1-second job that records a tick
(its fire time and this pid); prints ``leading`` or ``standby`` and keeps running.

``outbox URL BASE_URL KEYS...``: one nudge per ``member_id:key`` to Telegram members
through the real Notifier and TelegramMessenger (PTB against the fake Bot API at
BASE_URL); its sweep resumes what an earlier (killed) process left. Prints ``planned``
then ``done`` and the outcomes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from datetime import datetime

from bot.bootstrap import build_app, build_scheduler
from bot.modules import Every, JobSpec, Module
from bot.settings import load_settings
from engine.members.moderation import write_audit
from engine.store.store import Store


async def tick(store: Store, now: datetime) -> None:
    pid = os.getpid()
    await store.write(lambda s: write_audit(s, action="tick", at=now, details={"pid": pid, "at": now.isoformat()}))


async def run_scheduler(url: str, poll: float) -> None:
    settings = load_settings(storage={"url": url}, scheduler={"leader_poll": poll})
    app = build_app(settings, modules=[Module("ticks", jobs=(JobSpec("ticks.every", Every(seconds=1), tick),))])
    app.start()
    scheduler = build_scheduler(app)
    await scheduler.start()
    print("leading" if scheduler.is_leader else "standby", flush=True)
    await scheduler.leading.wait()
    print("leading", flush=True)
    await asyncio.Event().wait()


async def run_outbox(url: str, base_url: str, specs: list[str]) -> None:
    from pydantic import SecretStr

    from bot.adapters.telegram import TelegramAdapter
    from bot.notify import Notification, Purpose
    from tests.fakes.telegram_api import TOKEN

    settings = load_settings(storage={"url": url}, telegram={"base_url": base_url, "request_timeout": 90.0},
                             notifier={"stale_after": 0.5, "sweep_interval": 0.1, "max_attempts": 1})
    settings = settings.model_copy(update={"telegram_token": SecretStr(TOKEN)})
    app = build_app(settings)
    app.start()
    adapter = TelegramAdapter(settings, app.dispatch, retry_delay=0.001, max_attempts=1)
    await adapter._app.initialize()  # the Bot API client only: no polling in this process
    app.notifier.attach(adapter.messenger)
    await app.notifier.start()  # resumes planned rows now, stale 'sending' rows once stale
    notes = [Notification(key, int(mid), None, Purpose.NUDGE, f"come back ({key})")
             for mid, key in (s.split(":", 1) for s in specs)]
    print("planned", flush=True)
    outcomes = await app.notifier.notify_all(notes)
    print("done " + " ".join(str(o) for o in outcomes), flush=True)
    await app.notifier.stop()
    await adapter._app.shutdown()
    app.stop()


def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    kind, url, *rest = sys.argv[1:]
    if kind == "scheduler":
        asyncio.run(run_scheduler(url, float(rest[0])))
    else:
        asyncio.run(run_outbox(url, rest[0], rest[1:]))


if __name__ == "__main__":
    main()
