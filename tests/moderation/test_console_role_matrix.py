"""The role matrix in the console (`/as NAME ROLE`): every moderator, admin and owner command
as a member, a moderator, an admin and an owner, then the acting commands aimed at each
rank. A refusal writes nothing; nobody acts on a member who ranks at or above them."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.adapters.console import ConsoleAdapter, ConsoleState
from bot.bootstrap import App
from bot.ports import Role
from engine.moderation.tables import Filter, Restriction, Warning_
from engine.points.tables import PointsEntry
from engine.store.models import AuditEntry, Community
from tests.members.fakes import T0, Clock

RANKS = {"member": Role.MEMBER, "moderator": Role.MODERATOR, "admin": Role.ADMIN, "owner": Role.OWNER}
COMMANDS: list[tuple[str, Role]] = [
    ("/warn @bob rude", Role.MODERATOR), ("/warns @bob", Role.MODERATOR), ("/unwarn @bob", Role.MODERATOR),
    ("/mute @bob 10m", Role.MODERATOR), ("/unmute @bob", Role.MODERATOR), ("/ban @bob 1d spam", Role.MODERATOR),
    ("/unban @bob", Role.MODERATOR), ("/kick @bob", Role.MODERATOR), ("/purge 1", Role.MODERATOR),
    ("/filter add word spam", Role.MODERATOR), ("/modlog", Role.MODERATOR), ("/points give @bob 1 x", Role.MODERATOR),
    ("/config moderation.flood_messages 5", Role.MODERATOR), ("/filter links newcomers 3d", Role.MODERATOR),
    ("/mod add @bob", Role.ADMIN),
    ("/welcome on", Role.ADMIN),
]
ACTING = ["/warn @{t} rude", "/mute @{t} 10m", "/ban @{t} 1d x", "/kick @{t}", "/points give @{t} 1 x"]


class Console:
    def __init__(self, app: App, tmp_path: Path) -> None:
        self.out: list[str] = []
        self.clock = Clock(T0)
        self.state = ConsoleState(user="owner", roles={"owner": Role.OWNER}, clock=self.clock)
        self.console = ConsoleAdapter(app.dispatch, self.state, write=self.out.append, files_dir=tmp_path)
        self.app = app

    async def line(self, text: str) -> str:
        """Type a line 3 s after the previous one; what the bot answered."""
        self.clock.advance(seconds=3)
        before = len(self.out)
        await self.console.handle_line(text)
        return "\n".join(self.out[before:])

    async def written(self) -> tuple[Any, ...]:
        def read(s: Session) -> tuple[Any, ...]:
            counts = tuple(int(s.execute(select(func.count()).select_from(t)).scalar_one())
                           for t in (AuditEntry, Warning_, Restriction, Filter, PointsEntry))
            return (*counts, json.dumps(s.execute(select(Community.settings)).scalars().all(), default=str))
        return await self.app.store.read(read)


async def people(c: Console) -> None:
    for name, rank in RANKS.items():
        await c.line(f"/as {name} {rank.name.lower()}" if rank else f"/as {name}")
        await c.line(f"hi, I'm {name}")
    await c.line("/as bob")
    await c.line("hi, I'm bob")


async def test_who_may_run_each_command_in_the_console(app: App, tmp_path: Path) -> None:
    c = Console(app, tmp_path)
    await people(c)
    for caller, rank in RANKS.items():
        await c.line(f"/as {caller}")
        for text, needs in COMMANDS:
            before = await c.written()
            reply = await c.line(text)
            refused = "and above" in reply or "Only moderators" in reply
            assert refused == (rank < needs), (caller, text, reply)
            if refused:
                assert await c.written() == before, (caller, text)


async def test_nobody_acts_on_a_member_who_ranks_at_or_above_them_in_the_console(app: App, tmp_path: Path) -> None:
    c = Console(app, tmp_path)
    await people(c)
    for actor, target in itertools.product(["moderator", "admin", "owner"], RANKS):
        await c.line(f"/as {actor}")
        for template in ACTING:
            before = await c.written()
            reply = await c.line(template.format(t=target))
            allowed = RANKS[target] < RANKS[actor]
            assert (await c.written() != before) == allowed, (actor, target, template, reply)
            if actor != target and not allowed:
                assert "rank at or above" in reply, (actor, target, template, reply)
            if allowed and template.startswith(("/ban", "/kick")):
                await c.line(f"/unban @{target}")  # let them back for the next command
