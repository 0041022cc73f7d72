"""dpytest harness: the real discord.py client of a DiscordAdapter, Cohort's real app behind it.

dpytest replaces the client's HTTP client and connection state with fakes and drives
``state.parse_*`` with gateway-shaped dicts, which is exactly where the adapter's tap
sits - so these tests run discord.py's parsing, views and CommandTree for real, and
never reach Discord.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import discord
import discord.ext.test as dpytest
import pytest
from discord.ext.test import backend
from discord.webhook.async_ import AsyncWebhookAdapter

from bot.adapters.discord import DiscordAdapter, reachability_hook
from bot.bootstrap import App

_ids = itertools.count(1_280_000_000_000_000_001)


@dataclass
class WebhookCall:
    method: str
    url: str
    payload: dict[str, Any] | None


@dataclass
class Env:
    """What a Discord test works with."""

    app: App
    adapter: DiscordAdapter
    guild: discord.Guild
    channel: discord.TextChannel
    alice: discord.Member
    bob: discord.Member
    mod: discord.Member
    owner: discord.Member
    webhook_calls: list[WebhookCall] = field(default_factory=list)

    @property
    def client(self) -> discord.Client:
        return self.adapter.client

    async def settle(self) -> None:
        """Let discord.py's event tasks and Cohort's dispatches finish."""
        await dpytest.run_all_events()
        await self.adapter.drain()


def _fill_reaction_fields(parse: Any) -> Any:
    # dpytest 0.7 builds MESSAGE_REACTION_ADD without ``burst`` / ``type`` / ``burst_colors``,
    # which discord.py 2.4+ reads unconditionally; Discord always sends them.
    def parse_with_defaults(data: dict[str, Any]) -> Any:
        data.setdefault("burst", False)
        data.setdefault("type", 0)
        data.setdefault("burst_colors", [])
        return parse(data)

    return parse_with_defaults


def _fake_webhook_message(route: Any, payload: dict[str, Any] | None, client: discord.Client) -> dict[str, Any]:
    """What Discord answers to a followup ``POST /webhooks/{app}/{token}?wait=true``."""
    user = client.user
    assert user is not None
    return {
        "id": str(next(_ids)), "type": 0, "channel_id": "0", "content": (payload or {}).get("content") or "",
        "author": {"id": str(user.id), "username": user.name, "discriminator": "0001", "avatar": None, "bot": True},
        "timestamp": "2024-05-01T10:00:00+00:00", "edited_timestamp": None, "tts": False,
        "mention_everyone": False, "mentions": [], "mention_roles": [], "attachments": [], "embeds": [],
        "pinned": False, "flags": 0, "components": (payload or {}).get("components", []),
        "webhook_id": str(client.application_id or user.id),
    }


@pytest.fixture
async def env(app: App, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Env]:
    """A dpytest guild with #general, alice, bob, a moderator and an owner; DMs unpaced."""
    adapter = DiscordAdapter(
        app.settings, app.dispatch, commands=app.router.commands,
        on_reachability=reachability_hook(app.store), dm_interval=0,
    )
    dpytest.configure(adapter.client, guilds=["Learners"], text_channels=["general"], voice_channels=0,
                      members=["alice", "bob", "mod", "owner"])
    state = adapter.client._connection
    state.parse_message_reaction_add = _fill_reaction_fields(state.parse_message_reaction_add)
    state.parse_message_reaction_remove = _fill_reaction_fields(state.parse_message_reaction_remove)
    adapter.attach()
    # Client.login() sets the loop in production; dpytest never logs in, and the
    # CommandTree schedules its invocations on client.loop.
    adapter.client.loop = asyncio.get_running_loop()

    config = dpytest.get_config()
    guild = config.guilds[0]
    alice, bob, mod, owner = config.members
    mods = backend.make_role("Moderators", guild, permissions=discord.Permissions(manage_messages=True).value)
    await dpytest.add_role(mod, mods)
    guild.owner_id = owner.id  # dpytest has no way to make a member the owner
    backend.make_role("Level 5", guild)

    calls: list[WebhookCall] = []

    async def webhook_request(self: AsyncWebhookAdapter, route: Any, session: Any, *,
                              payload: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        # Interaction responses and followups go to Discord's webhook endpoints; answer
        # them here as Discord would (a message for followups, nothing for the rest).
        calls.append(WebhookCall(route.method, route.url, payload))
        if route.method == "POST" and "/webhooks/" in route.url:
            return _fake_webhook_message(route, payload, adapter.client)
        if route.url.endswith("/callback"):  # ?with_response=true: the interaction callback object
            iid = route.url.split("/interactions/")[1].split("/")[0]
            return {"interaction": {"id": iid, "type": 2}, "resource": {"type": (payload or {}).get("type", 5)}}
        return None

    monkeypatch.setattr(AsyncWebhookAdapter, "request", webhook_request)
    e = Env(app, adapter, guild, config.channels[0], alice, bob, mod, owner, calls)
    try:
        yield e
    finally:
        await e.settle()
        await dpytest.empty_queue()


def slash_payload(env: Env, member: discord.Member, name: str, *,
                  options: list[dict[str, Any]] | None = None,
                  resolved: dict[str, Any] | None = None) -> dict[str, Any]:
    """An INTERACTION_CREATE (application command) as Discord sends it for ``member``."""
    user = {"id": str(member.id), "username": member.name, "discriminator": "0001", "avatar": None}
    data: dict[str, Any] = {"id": "1", "name": name, "type": 1}
    if options:
        data["options"] = options
    if resolved:
        data["resolved"] = resolved
    iid = str(next(_ids))
    return {
        "id": iid, "application_id": str(env.client.user.id), "type": 2,  # type: ignore[union-attr]
        "token": f"token-{iid}", "version": 1,
        "guild_id": str(env.guild.id), "channel_id": str(env.channel.id),
        "channel": {"id": str(env.channel.id), "type": 0, "name": env.channel.name, "guild_id": str(env.guild.id)},
        "member": {"user": user, "roles": [str(r.id) for r in member.roles[1:]], "joined_at": "2024-01-01T00:00:00+00:00",
                   "deaf": False, "mute": False, "flags": 0, "permissions": str(member.guild_permissions.value)},
        "data": data, "locale": "en-US", "guild_locale": "en-US", "app_permissions": "0",
        "entitlements": [], "authorizing_integration_owners": {}, "context": 0, "attachment_size_limit": 10_485_760,
    }


def member_resolved(member: discord.Member) -> dict[str, Any]:
    """The ``resolved`` block Discord adds for a member option."""
    uid = str(member.id)
    return {
        "users": {uid: {"id": uid, "username": member.name, "discriminator": "0001", "avatar": None}},
        "members": {uid: {"roles": [], "joined_at": "2024-01-01T00:00:00+00:00", "deaf": False, "mute": False,
                          "flags": 0, "permissions": "0"}},
    }
