"""Moderation in the console: /mute, /ban, /kick, /unmute, /unban, /purge work there too —
recorded in the database, shown in the chat and enforced on what the muted member types."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from bot.adapters.console import ConsoleAdapter, ConsoleState
from bot.bootstrap import App
from bot.ports import Role
from engine.moderation.tables import Restriction
from engine.store.models import AuditEntry, Message
from tests.members.fakes import T0, Clock


async def session(app: App, tmp_path: Path, lines: list[str], clock: Clock | None = None) -> tuple[list[str], ConsoleState]:
    out: list[str] = []
    state = ConsoleState(user="owen", roles={"owen": Role.OWNER}, clock=clock or Clock(T0))
    console = ConsoleAdapter(app.dispatch, state, write=out.append, files_dir=tmp_path)
    for line in lines:
        await console.handle_line(line)
    return out, state


async def test_console_moderation_round_trip(app: App, tmp_path: Path, clock: Clock) -> None:
    out, state = await session(app, tmp_path, [
        "hello", "/as bob", "hi, I'm bob", "/as carol", "hi, I'm carol", "/as mia moderator", "mia here",
        "/mute @bob 10m flooding",
        "/as bob", "can I still talk?",
        "/as mia", "/unmute @bob", "/as bob", "yes I can",
        "/as mia", "/ban @carol 1d spam", "/kick @bob", "/unban @carol",
        "/mute @owen", "/purge 2",
    ], clock)
    text = "\n".join(out)
    assert "cohort (to mia): bob is muted until 2026-03-02 10:10 UTC." in text
    assert "bob is muted until 2026-03-02 10:10 UTC; nothing was posted" in text
    assert "bob can speak again" in text and "carol is banned until 2026-03-03 10:00 UTC" in text
    assert "bob was removed" in text and "carol is no longer banned" in text
    assert "owen is an owner here" in text  # the rank rule holds in the console too
    assert "deleted [18], [9], [4]" in text and "Deleted 3 messages" in text  # the command, "yes I can", "mia here"
    assert "can I still talk?" not in [m for m in await app.store.read(
        lambda s: list(s.scalars(select(Message.text))))]
    actions = await app.store.read(lambda s: list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.id))))
    assert actions == ["mute", "unmute", "ban", "kick", "unban", "purge"]
    rows = await app.store.read(lambda s: [(r.kind, r.lifted_at is not None)
                                           for r in s.scalars(select(Restriction).order_by(Restriction.id))])
    assert rows == [("mute", True), ("ban", True)]
    assert state.restricted == {}


async def test_a_timed_console_mute_runs_out_by_itself(app: App, tmp_path: Path, clock: Clock) -> None:
    state_clock = Clock(T0)
    out, state = await session(app, tmp_path, ["/as bob", "hi", "/as owen", "/mute @bob 5m"], state_clock)
    console = ConsoleAdapter(app.dispatch, state, write=out.append, files_dir=tmp_path)
    await console.handle_line("/as bob")
    await console.handle_line("still muted?")
    assert "nothing was posted" in out[-1]
    state_clock.advance(minutes=6)
    await console.handle_line("free again")
    assert "free again" in await app.store.read(lambda s: list(s.scalars(select(Message.text))))
