"""No gap after downtime: messages posted while the bot was stopped are read from the
channel's history on READY / RESUMED and stored (points counted), with no replies to old
commands; a second session start stores nothing twice; the per-channel bound holds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import discord.ext.test as dpytest
from discord.ext.test import backend
from discord.ext.test import factories as facts
from sqlalchemy import func, select

from bot.adapters.discord.backfill import ResumePoint, backfill, resume_points, resume_points_reader
from bot.adapters.discord.gateway import GatewayContext
from engine.events import CommandInvoked, Event, MessagePosted
from engine.points.tables import PointsEntry
from engine.store.models import Account, Message
from tests.discord.conftest import Env


def while_stopped(env: Env, member: Any, content: str) -> dict[str, Any]:
    """A message that reached Discord while Cohort was down: in the channel's history
    (dpytest's backend), never delivered through the gateway."""
    data = facts.make_message_dict(env.channel, member, content=content, guild_id=env.guild.id)
    backend._cur_config.messages.setdefault(env.channel.id, []).append(data)  # type: ignore[union-attr]
    return data


async def texts(env: Env) -> list[str]:
    return await env.app.store.read(
        lambda s: list(s.execute(select(Message.text).order_by(Message.posted_at, Message.id)).scalars()))


async def points_of(env: Env, member: Any) -> int:
    def read(s: Any) -> int:
        mid = s.execute(select(Account.member_id).where(Account.external_id == str(member.id))).scalar_one()
        return int(s.execute(select(func.coalesce(func.sum(PointsEntry.amount), 0))
                             .where(PointsEntry.member_id == mid)).scalar_one())
    return await env.app.store.read(read)


def bot_said() -> list[str]:
    out = []
    while not dpytest.sent_queue.empty():
        out.append(dpytest.get_message().content or "")
    return out


async def test_messages_posted_while_stopped_are_stored_on_ready_without_replies(env: Env) -> None:
    await dpytest.message("hello, I am here before the bot goes down for maintenance", member=env.alice)
    await env.settle()
    bot_said()
    before = await points_of(env, env.bob) if await _has_account(env, env.bob) else 0

    missed = [
        while_stopped(env, env.bob, "while you were away: how do I profile a slow pandas groupby call?"),
        while_stopped(env, env.alice, "try df.groupby(...).agg with observed=True, and check the dtypes first"),
        while_stopped(env, env.bob, "!help"),
        while_stopped(env, env.mod, f"!points give <@{env.alice.id}> 50 for the answer"),
    ]
    known = await texts(env)
    assert all(m["content"] not in known for m in missed)

    env.adapter.resume_points = resume_points_reader(env.app.store)
    env.client.dispatch("ready")  # what discord.py does when a session starts
    await env.settle()
    assert env.adapter.last_backfill is not None

    stored = await texts(env)
    assert [m["content"] for m in missed] == stored[1:]
    assert env.adapter.last_backfill.stored == 4 and not env.adapter.last_backfill.capped
    assert bot_said() == []  # no help text, no "points given", no badge announcement
    assert await points_of(env, env.bob) > before  # the backlog counts for points …
    commands = await env.app.store.read(lambda s: s.execute(
        select(func.count()).select_from(Message).where(Message.is_command.is_(True))).scalar_one())
    assert commands == 0  # … but old commands were stored as messages, not run

    # A resumed session later finds nothing new: dedup, not a second copy.
    env.client.dispatch("resumed")
    await env.settle()
    assert env.adapter.last_backfill.stored == 0
    assert await texts(env) == stored


async def _has_account(env: Env, member: Any) -> bool:
    found = await env.app.store.read(lambda s: s.execute(
        select(Account.id).where(Account.external_id == str(member.id))).first())
    return found is not None


async def test_backfill_is_bounded_per_channel(env: Env) -> None:
    await dpytest.message("the last message Cohort saw before the outage began", member=env.alice)
    await env.settle()
    for i in range(12):
        while_stopped(env, env.bob, f"message number {i} posted during the outage, long enough")
    env.adapter.resume_points = resume_points_reader(env.app.store)
    env.adapter.backfill_limit = 5
    report = await env.adapter.backfill()
    # The history also holds the bot's own badge announcement: read, never stored.
    history = backend._cur_config.messages[env.channel.id]  # type: ignore[union-attr]
    last = next(i for i, m in enumerate(history) if m["content"].startswith("the last message"))
    window = history[last + 1:last + 6]
    human = [m["content"] for m in window if int(m["author"]["id"]) != env.client.user.id]  # type: ignore[union-attr]
    assert report.read == 5 and report.stored == len(human) and report.capped == [str(env.channel.id)]
    stored = await texts(env)
    assert stored[1:] == human == [f"message number {i} posted during the outage, long enough"
                                   for i in range(len(human))]


async def test_without_resume_points_nothing_is_read(env: Env) -> None:
    while_stopped(env, env.bob, "never fetched, backfill is off")
    env.client.dispatch("ready")
    await env.settle()
    assert env.adapter.last_backfill is None


# -- the pure part: threads, unreadable channels, page order ----------------------------------------
def _raw(mid: int, channel: int, text: str, author: int = 42) -> dict[str, Any]:
    return {"id": str(mid), "channel_id": str(channel), "type": 0, "content": text,
            "timestamp": datetime(2026, 1, 1, tzinfo=UTC).isoformat(),
            "author": {"id": str(author), "username": "ann", "global_name": "Ann"}}


async def test_thread_backlog_keeps_its_parent_and_pages_newest_first() -> None:
    history = {500: [_raw(i, 500, f"thread reply {i}") for i in range(101, 131)],
               600: []}
    calls: list[tuple[int, int, int]] = []

    async def fetch(channel: int, limit: int, after: int) -> list[dict[str, Any]]:
        calls.append((channel, limit, after))
        if channel == 700:
            raise PermissionError("Missing Access")
        newer = [m for m in history[channel] if int(m["id"]) > after][:limit]
        return list(reversed(newer))  # Discord answers newest first

    got: list[Event] = []

    async def deliver(event: Event) -> bool:
        got.append(event)
        return True

    points = [ResumePoint("1", "500", "100", parent_id="400"), ResumePoint("1", "600", "1"),
              ResumePoint("1", "700", "1")]
    report = await backfill(points, fetch, GatewayContext(bot_user_id="9"), deliver, limit=25)
    assert [e.message_id for e in got] == [str(i) for i in range(101, 126)]
    assert all(isinstance(e, MessagePosted) and e.chat_id == "400" and e.thread_id == "500" for e in got)
    assert report.capped == ["500"] and "Missing Access" in report.failed["700"]
    assert calls[:2] == [(500, 26, 100), (600, 26, 1)]  # one more than the bound tells a longer gap


async def test_prefix_commands_in_the_backlog_are_plain_messages() -> None:
    async def fetch(channel: int, limit: int, after: int) -> list[dict[str, Any]]:
        return [_raw(11, 5, "!help")] if after < 11 else []

    got: list[Event] = []

    async def deliver(event: Event) -> bool:
        got.append(event)
        return True

    await backfill([ResumePoint("1", "5", "10")], fetch, GatewayContext(command_names=frozenset({"help"})), deliver)
    assert len(got) == 1 and not isinstance(got[0], CommandInvoked) and got[0].text == "!help"  # type: ignore[attr-defined]


async def test_resume_points_are_the_newest_stored_message_per_channel(env: Env) -> None:
    for text in ("one message for the resume point", "and a second, newer one for it"):
        await dpytest.message(text, member=env.alice)
    await env.settle()
    history = backend._cur_config.messages[env.channel.id]  # type: ignore[union-attr]
    newest = max(int(m["id"]) for m in history if m["content"].startswith("and a second"))
    points = await env.app.store.read(resume_points)
    assert points == [ResumePoint(str(env.guild.id), str(env.channel.id), str(newest))]
