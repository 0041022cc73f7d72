"""Link rules on Discord through discord.py and dpytest: a link in an embed (a bot's or
webhook's card, a preview) counts like one in the text; moderators are exempt."""

from __future__ import annotations

import discord
from discord.ext.test import backend

from tests.discord.test_moderation_actions import more_routes
from tests.discord.test_moderation_platform import Env, Routes, known, one_with, routes, say

__all__ = ["more_routes", "routes"]  # the fixtures, re-used


async def test_links_off_the_allow_list_in_text_or_embeds_are_deleted(env: Env, more_routes: Routes) -> None:
    await known(env, env.alice, env.bob, env.mod)
    one_with(await say(env, env.mod, "!filter links allow https://example.com/x"), "not a link")
    one_with(await say(env, env.mod, "!filter links allow example.com"), "Allowed: `example.com`")
    channel = env.guild.text_channels[0]
    card = backend.make_message("look", env.alice, channel,
                                embeds=[discord.Embed(title="card", url="https://EVIL.example.net/card")])
    await env.settle()
    fine = await say(env, env.bob, "docs: https://docs.example.com/start")
    bare = backend.make_message("visit discord.gg/raid now", env.bob, channel)
    await env.settle()
    await say(env, env.mod, "moderators may: https://anything.org")
    deleted = [c.path.rsplit("/", 1)[1] for c in more_routes.calls if c.method == "DELETE"]
    assert deleted == [str(card.id), str(bare.id)], (deleted, fine)
