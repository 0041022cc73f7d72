"""The scheduled sweep lifts a timed ban the platform keeps for good (Discord), once."""

from __future__ import annotations

from dataclasses import dataclass

from bot.bootstrap import App
from bot.handlers import moderation
from bot.ports import Capability, Role
from engine.events import Platform
from tests.members.fakes import Clock, ModeratingMessenger, cmd, msg


@dataclass
class Adapter:
    messenger: ModeratingMessenger
    name: str = "fake"


async def test_the_sweep_lifts_due_bans_once(app: App, clock: Clock) -> None:
    m = ModeratingMessenger(Platform.TELEGRAM, roles={"max": Role.ADMIN})
    m.capabilities = m.capabilities | {Capability.MODERATE}
    m.timed_bans = False
    for user in ("max", "bob"):
        await app.dispatch(msg(user, "hi"), m)
    await app.dispatch(cmd("max", "ban", "@bob", "1h", "spam"), m)
    app.adapters = [Adapter(m)]  # type: ignore[list-item]
    [job] = moderation.jobs(app)
    await job.work()
    assert [a[0] for a in m.actions] == ["ban"]
    clock.advance(hours=1, minutes=1)
    await job.work()
    await job.work()
    assert [a[0] for a in m.actions] == ["ban", "unban"]
