"""The same member journey as on Telegram, through discord.py (dpytest): chat and get
thanked, /me and /leaderboard, a moderator gives points (a member may not), /recommend
with a button click, /done and /path."""

from __future__ import annotations

from typing import Any

import discord.ext.test as dpytest
from sqlalchemy import select

from engine.catalog import service
from engine.catalog.items import ItemSpec
from engine.catalog.projection import click_data
from engine.catalog.tables import RecommendationImpression
from engine.events import utcnow
from engine.points.tables import PointsEntry
from engine.store.models import Community
from tests.discord.conftest import Env
from tests.discord.test_scenarios import message_dict, post, raw_of, rows


def drain() -> list[Any]:
    """Everything the bot sent since the last drain (badge notices may come first)."""
    out = []
    while not dpytest.sent_queue.empty():
        out.append(dpytest.get_message())
    return out


async def say(env: Env, member: Any, text: str) -> list[Any]:
    await dpytest.message(text, member=member)
    await env.settle()
    return drain()


def one_with(sent: list[Any], needle: str) -> Any:
    found = [m for m in sent if needle in (m.content or "")]
    assert found, f"nothing sent contains {needle!r}: {[m.content for m in sent]}"
    return found[0]


async def add_course(env: Env) -> None:
    def write(session: Any) -> None:
        cid = session.execute(select(Community.id).where(Community.external_id == str(env.guild.id))).scalar_one()
        for key, prereq in (("setup", ()), ("basics", ("setup",)), ("asyncio", ("basics",))):
            service.add_item(session, cid, ItemSpec(key=key, title=f"Lesson {key}",
                                                    url=f"https://learn.example.com/{key}",
                                                    tags=("python",), prerequisites=prereq, points=10), at=utcnow())

    await env.app.store.write(write)


def click(env: Env, message: Any, member: Any, custom_id: str) -> dict[str, Any]:
    return {
        "id": "1270000000000000077", "application_id": str(env.client.user.id), "type": 3,  # type: ignore[union-attr]
        "token": "t", "version": 1, "guild_id": str(env.guild.id), "channel_id": str(env.channel.id),
        "member": {"user": {"id": str(member.id), "username": member.name, "discriminator": "0001", "avatar": None},
                   "roles": [], "joined_at": "2024-01-01T00:00:00+00:00", "deaf": False, "mute": False,
                   "flags": 0, "permissions": "0"},
        "message": raw_of(env, message), "data": {"custom_id": custom_id, "component_type": 2},
        "locale": "en-US", "entitlements": [], "authorizing_integration_owners": {}, "context": 0,
        "attachment_size_limit": 10_485_760,
    }


async def test_member_journey_through_discord(env: Env) -> None:
    question = await dpytest.message("How do I run two coroutines at once in asyncio?", member=env.alice)
    answer = post(env, message_dict(env, env.bob, "Use asyncio.gather(first(), second()) and await it", type=19,
                                    message_reference={"message_id": question.id, "channel_id": env.channel.id},
                                    referenced_message=raw_of(env, question)))
    await env.settle()
    assert answer is not None
    await dpytest.add_reaction(env.alice, answer, "👍")
    await env.settle()
    drain()

    me = one_with(await say(env, env.bob, "!me"), "points")
    assert "bob" in me.content.lower()

    one_with(await say(env, env.mod, f"!points give <@{env.bob.id}> 5 clear answer"), "Gave")
    manual = await rows(env, select(PointsEntry.amount).where(PointsEntry.rule == "manual"))
    assert manual == [(5,)]
    one_with(await say(env, env.alice, f"!points give <@{env.bob.id}> 5 sneaky"), "moderators and above")

    board = one_with(await say(env, env.alice, "!leaderboard all"), "Leaderboard")
    assert "bob" in board.content.lower()

    await add_course(env)
    rec = one_with(await say(env, env.alice, "!recommend 2"), "Recommended for you")
    # dpytest keeps no components on sent messages: the buttons' data is Cohort's own
    # format for the impressions /recommend just stored.
    shown = await rows(env, select(RecommendationImpression.id).order_by(RecommendationImpression.id))
    assert len(shown) == 2
    like = click_data(shown[0][0], "like")
    env.client._connection.parse_interaction_create(click(env, rec, env.alice, like))
    await env.settle()
    clicked = await rows(env, select(RecommendationImpression.id).where(
        RecommendationImpression.clicked_at.is_not(None)))
    assert len(clicked) == 1

    one_with(await say(env, env.alice, "!done setup"), "Done")
    path = one_with(await say(env, env.alice, "!path asyncio"), "Path to")
    assert "basics" in path.content
