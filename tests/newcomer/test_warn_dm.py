"""A /warn DM names the community the member was warned in, not the channel."""

from __future__ import annotations

from typing import Any

from bot.bootstrap import App
from bot.ports import Role
from engine.events import MessagePosted, Platform
from tests.doubles.events import at, command
from tests.doubles.messenger import RecordingMessenger


async def test_the_warning_dm_names_the_community(app: App) -> None:
    dc = RecordingMessenger(platform=Platform.DISCORD, roles={"1": Role.MODERATOR})
    app.notifier.attach(dc)  # warnings by DM go through the Notifier
    guild: dict[str, Any] = {"platform": Platform.DISCORD, "community_id": "111"}
    # the guild's own name arrives with guild-level events; messages carry their channel's name
    await app.dispatch(MessagePosted(**guild, chat_id="111", chat_title="Python Cohort", user_id="2",
                                     user_name="Chen Wei", message_id="9", at=at(0), text="hi"), dc)
    await app.dispatch(MessagePosted(**guild, chat_id="222", chat_title="general", user_id="2",
                                     user_name="Chen Wei", message_id="10", at=at(1), text="spam spam spam"), dc)
    await app.dispatch(command("1", "warn", "<@2>", "please", "stop", platform=Platform.DISCORD,
                               community="111", chat="222", chat_title="general"), dc)
    [dm] = [s for s in dc.said if s.kind == "dm"]
    assert dm.target == "2"
    assert "from the moderators of Python Cohort" in dm.text and "general" not in dm.text, dm.text
