"""The scheduled sweep lifts a timed ban the platform keeps for good (Discord), once."""

from __future__ import annotations

from bot.bootstrap import App
from bot.deps import call_with
from bot.handlers import moderation
from bot.ports import Capability, Role
from engine.events import Platform
from tests.members.fakes import Clock, ModeratingMessenger, cmd, msg


async def test_the_sweep_lifts_due_bans_once(app: App, clock: Clock) -> None:
    m = ModeratingMessenger(Platform.TELEGRAM, roles={"max": Role.ADMIN})
    m.capabilities = m.capabilities | {Capability.MODERATE}
    m.timed_bans = False
    for user in ("max", "bob"):
        await app.dispatch(msg(user, "hi"), m)
    await app.dispatch(cmd("max", "ban", "@bob", "1h", "spam"), m)
    app.notifier.attach(m)  # the running messengers, as the adapters attach them
    [job] = [j for j in moderation.module().jobs if j.name == "moderation-lift-due"]

    async def run() -> None:
        await call_with(job.work, app.deps, now=clock.now)

    await run()
    assert [a[0] for a in m.actions] == ["ban"]
    clock.advance(hours=1, minutes=1)
    await run()
    await run()
    assert [a[0] for a in m.actions] == ["ban", "unban"]
