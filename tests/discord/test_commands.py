"""Slash commands: discord.py's CommandTree built from CommandSpecs, typed options rebuilt
into the args the prefix form gives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import discord
import discord.ext.test as dpytest
import pytest

from bot.adapters.discord.commands import add_commands, split_args
from engine.events import CommandInvoked, Event
from tests.discord.conftest import Env, member_resolved, slash_payload
from tests.discord.test_scenarios import settle_tree


@dataclass(frozen=True)
class Spec:
    name: str
    summary: str = ""
    usage: str = ""
    hidden: bool = False


TYPED_SPECS = [
    Spec("points", "points", "/points give @member N [reason]"),
    Spec("leaderboard", "top members", "/leaderboard [week|month|all]"),
    Spec("recommend", "what to read next", "/recommend [n]"),
    Spec("ask", "ask the community", "/ask QUESTION"),
]


@pytest.fixture
def seen(env: Env, monkeypatch: pytest.MonkeyPatch) -> list[Event]:
    """Events the adapter dispatched (still passed on to the real app)."""
    events: list[Event] = []
    real = env.adapter._dispatch

    async def capture(event: Event, messenger: Any) -> Any:
        events.append(event)
        return await real(event, messenger)

    monkeypatch.setattr(env.adapter, "_dispatch", capture)
    env.adapter.register_commands(TYPED_SPECS)
    return events


def option(name: str, value: Any, kind: int) -> dict[str, Any]:
    return {"name": name, "type": kind, "value": value}


async def invoke(env: Env, payload: dict[str, Any], seen: list[Event]) -> CommandInvoked:
    env.client._connection.parse_interaction_create(payload)
    await settle_tree(env)
    (event,) = [e for e in seen if isinstance(e, CommandInvoked) and e.message_id == payload["id"]]
    return event


async def test_points_give_with_member_and_amount(env: Env, seen: list[Event]) -> None:
    give = {"name": "give", "type": 1, "options": [
        option("member", str(env.bob.id), 6), option("amount", 5, 4), option("reason", "great answer", 3)]}
    payload = slash_payload(env, env.mod, "points", options=[give], resolved=member_resolved(env.bob))
    event = await invoke(env, payload, seen)
    assert event.name == "points"
    assert event.args == ("give", str(env.bob.id), "5", "great", "answer")
    assert event.mentions == (str(env.bob.id),)
    assert event.user_id == str(env.mod.id) and event.community_id == str(env.guild.id)
    assert event.chat_id == str(env.channel.id) and event.raw_text.startswith("/points give")


async def test_leaderboard_period_choice_and_recommend_n(env: Env, seen: list[Event]) -> None:
    board = await invoke(env, slash_payload(env, env.alice, "leaderboard",
                                            options=[option("period", "month", 3)]), seen)
    assert board.args == ("month",)
    rec = await invoke(env, slash_payload(env, env.alice, "recommend", options=[option("n", 3, 4)]), seen)
    assert rec.args == ("3",)
    bare = await invoke(env, slash_payload(env, env.alice, "recommend"), seen)
    assert bare.args == ()


async def test_generic_args_option(env: Env, seen: list[Event]) -> None:
    text = f"how do I pivot? cc <@{env.bob.id}>"
    event = await invoke(env, slash_payload(env, env.alice, "ask", options=[option("args", text, 3)]), seen)
    assert event.args == ("how", "do", "I", "pivot?", "cc", str(env.bob.id))
    assert event.mentions == (str(env.bob.id),)


async def test_silent_command_removes_the_thinking_placeholder(env: Env, seen: list[Event],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    async def quiet(event: Event, messenger: Any) -> None:
        seen.append(event)

    monkeypatch.setattr(env.adapter, "_dispatch", quiet)
    await invoke(env, slash_payload(env, env.alice, "ask"), seen)
    assert any(c.method == "DELETE" and "/messages/@original" in c.url for c in env.webhook_calls)


def test_tree_shape(env: Env) -> None:
    tree = env.adapter.tree
    assert tree is not None
    add_commands(tree, [*TYPED_SPECS, Spec("Bad Name"), Spec("secret", hidden=True)], env.adapter._on_slash)
    names = {c.name for c in tree.get_commands()}
    assert {"help", "points", "leaderboard", "recommend", "ask"} <= names
    assert "secret" not in names and "Bad Name" not in names and "start" not in names  # /start is hidden
    points = tree.get_command("points")
    assert isinstance(points, discord.app_commands.Group)
    give = points.get_command("give")
    assert give is not None and [p.name for p in give.parameters] == ["member", "amount", "reason"]
    help_cmd = tree.get_command("help")
    assert isinstance(help_cmd, discord.app_commands.Command) and help_cmd.parameters == []
    board = tree.get_command("leaderboard")
    assert isinstance(board, discord.app_commands.Command)
    assert [c.value for c in board.parameters[0].choices] == ["week", "month", "all"]


def test_split_args() -> None:
    assert split_args("give <@!12> 5") == (("give", "12", "5"), ("12",))
    assert split_args(None) == ((), ())


async def test_prefix_and_slash_give_the_same_args(env: Env, seen: list[Event]) -> None:
    await dpytest.message(f"!ask how do I pivot? cc <@{env.bob.id}>", member=env.alice)
    await env.settle()
    prefix = next(e for e in seen if isinstance(e, CommandInvoked))
    slash = await invoke(env, slash_payload(env, env.alice, "ask", options=[
        option("args", f"how do I pivot? cc <@{env.bob.id}>", 3)]), seen)
    assert prefix.args == slash.args and prefix.mentions == slash.mentions
