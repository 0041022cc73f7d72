"""Messenger pieces that need no client: splitting, views, errors, roles, pacing, reachability."""

from __future__ import annotations

from typing import Any

import discord
import pytest

from bot.adapters.discord.messenger import (
    DiscordMessenger,
    make_view,
    platform_error,
    role_from_permissions,
    split_text,
)
from bot.bootstrap import App
from bot.ports import Button, Messenger, Role
from engine.members.reachability import record_reachability


def test_short_text_is_one_piece() -> None:
    assert split_text("hi") == ["hi"]
    assert split_text("") == []


def test_split_on_lines_within_the_limit() -> None:
    text = "\n".join("word " * 30 for _ in range(40))
    parts = split_text(text)
    assert len(parts) > 1 and all(len(p) <= 2000 for p in parts)
    assert "".join(parts) == text


def test_one_enormous_line_is_hard_cut() -> None:
    parts = split_text("x" * 4500)
    assert [len(p) for p in parts] == [1992, 1992, 516]


def test_code_block_closed_and_reopened_across_a_cut() -> None:
    text = "intro\n```\n" + "\n".join(f"print({i})" for i in range(400)) + "\n```\nafter"
    parts = split_text(text)
    assert len(parts) >= 2 and all(len(p) <= 2000 for p in parts)
    for part in parts:
        assert part.count("```") % 2 == 0, part[-40:]


def test_view_is_persistent_with_data_as_custom_id() -> None:
    view = make_view([Button("Yes", data="rec:1:yes"), Button("Docs", url="https://x.org")])
    assert view is not None and view.timeout is None and view.is_persistent()
    yes, docs = view.children
    assert isinstance(yes, discord.ui.Button) and yes.custom_id == "rec:1:yes"
    assert isinstance(docs, discord.ui.Button) and docs.url == "https://x.org"
    assert make_view([]) is None


class FakeResponse:
    def __init__(self, status: int) -> None:
        self.status = status
        self.reason = ""


def test_platform_errors_name_the_cause() -> None:
    limited = discord.HTTPException(FakeResponse(429), {"code": 0, "message": "slow down"})
    assert "rate limited" in str(platform_error(limited, "send"))
    assert "HTTP 502" in str(platform_error(discord.DiscordServerError(FakeResponse(502), "bad gateway"), "send"))
    assert "120s" in str(platform_error(discord.RateLimited(120.0), "dm"))


@pytest.mark.parametrize(("owner", "perms", "role"), [
    (True, discord.Permissions.none(), Role.OWNER),
    (False, discord.Permissions(administrator=True), Role.ADMIN),
    (False, discord.Permissions(manage_guild=True), Role.ADMIN),
    (False, discord.Permissions(moderate_members=True), Role.MODERATOR),
    (False, discord.Permissions(manage_messages=True), Role.MODERATOR),
    (False, discord.Permissions(send_messages=True, kick_members=True), Role.MEMBER),
])
def test_role_from_permissions(owner: bool, perms: discord.Permissions, role: Role) -> None:
    assert role_from_permissions(owner, perms) is role


async def test_dms_are_paced(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(round(seconds, 3))

    messenger = DiscordMessenger(discord.Client(intents=discord.Intents.none()), dm_interval=1.5)
    monkeypatch.setattr("bot.adapters.discord.messenger.asyncio.sleep", fake_sleep)
    clock = [100.0]
    loop_time = lambda: clock[0]  # noqa: E731  (a frozen clock: no timing in the test)
    import asyncio

    monkeypatch.setattr(asyncio.get_running_loop(), "time", loop_time)
    for _ in range(3):
        await messenger._pace()
    assert waits == [1.5, 3.0]  # the first goes at once, then one slot per 1.5 s


def test_messenger_satisfies_the_port() -> None:
    assert isinstance(DiscordMessenger(discord.Client(intents=discord.Intents.none())), Messenger)


async def test_reachability_of_an_unknown_account_changes_nothing(app: App) -> None:
    assert await record_reachability(app.store, "discord", "999", False) is False


async def test_failing_reachability_hook_does_not_fail_the_dm(monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*_: Any) -> None:
        raise RuntimeError("db down")

    messenger = DiscordMessenger(discord.Client(intents=discord.Intents.none()), on_reachability=broken)
    await messenger._report("1", True)  # logged, not raised
