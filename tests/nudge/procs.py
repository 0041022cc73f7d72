"""A bot process for the slow nudge tests: ``python -m tests.nudge.procs COMMUNITY_ID AT [--wait-go]``.

What ``cohort run`` does (settings from the environment, :func:`bot.bootstrap.build_app`,
the adapters whose tokens are set, started; the outbox resumed by
:func:`bot.cli.start_outbound`), then it fires the nudges module's daily job for the
community as the scheduler would at the local hour — with ``AT`` (ISO 8601) as the job's
``now``, so the test owns the clock. Prints ``ready``, then ``done <counts>`` when the job
returned, and exits cleanly. ``--wait-go`` waits for a line on stdin before firing (two
processes fire together).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from datetime import datetime

from bot.bootstrap import build_adapters, build_app
from bot.cli import start_outbound, stop_outbound
from bot.deps import call_with
from bot.modules import CommunityRef
from bot.settings import load_settings
from engine.store.community_settings import group_communities


async def fire(community_id: int, at: datetime, wait_go: bool) -> None:
    settings = load_settings()
    app = build_app(settings)
    app.start()
    adapters = build_adapters(app)
    for adapter in adapters:
        await adapter.start()
    scheduler = await start_outbound(app)
    job = next(j for m in app.modules for j in m.jobs if j.name == "nudge.daily")
    row = next(c for c in await app.store.read(group_communities) if c.id == community_id)
    ref = CommunityRef(row.id, row.platform, row.external_id, "UTC", at.date())
    print("ready", flush=True)
    if wait_go:
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    await call_with(job.work, app.deps, community=ref, now=at)
    counts = await app.store.read(lambda s: _deliveries(s, community_id))
    print("done " + json.dumps(counts), flush=True)
    await stop_outbound(app, scheduler)
    for adapter in reversed(adapters):
        await adapter.stop()
    app.stop()


def _deliveries(session: object, community_id: int) -> dict[str, int]:
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from engine.nudge.tables import NudgeAssignment
    assert isinstance(session, Session)
    rows = session.execute(select(NudgeAssignment.delivery, func.count()).where(
        NudgeAssignment.community_id == community_id, NudgeAssignment.arm == "treated")
        .group_by(NudgeAssignment.delivery)).all()
    return {str(d): int(n) for d, n in rows}


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    community_id, at, *flags = sys.argv[1:]
    asyncio.run(fire(int(community_id), datetime.fromisoformat(at), "--wait-go" in flags))


if __name__ == "__main__":
    main()
