"""start / stop / doctor / sync without Discord: discord.py's login and connect replaced."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import discord
import pytest

from bot.adapters.base import Severity
from bot.adapters.discord import DiscordAdapter, DiscordSetupError, make_client, sync_commands
from bot.adapters.discord import adapter as adapter_module
from bot.adapters.discord.doctor import (
    INTENTS_FIX,
    INVITE_PERMISSIONS,
    TOKEN_FIX,
    check_application_flags,
    check_channel_permissions,
    check_guild,
    finding_for_exception,
    run_doctor,
)
from bot.settings import Settings, load_settings
from tests.discord.conftest import Env

MESSAGE_CONTENT_LIMITED = 1 << 19
GUILD_MEMBERS_LIMITED = 1 << 15


@pytest.fixture
def tokened(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("DISCORD_TOKEN", "not-a-real-token")
    return load_settings(storage={"url": f"sqlite:///{tmp_path / 'c.db'}"},
                         discord={"guild_ids": [1100000000000000001]})


async def nothing(*_: Any) -> None:
    return None


def test_client_and_intents(tokened: Settings) -> None:
    client = make_client(tokened)
    assert type(client) is discord.Client
    i = client.intents
    assert i.guilds and i.members and i.guild_messages and i.message_content and i.guild_reactions
    assert i.dm_messages and i.dm_reactions and not i.presences and not i.typing
    sharded = make_client(tokened.model_copy(update={"discord": tokened.discord.model_copy(update={"sharded": True})}))
    assert isinstance(sharded, discord.AutoShardedClient)


async def test_start_with_a_bad_token_says_how_to_fix_it(tokened: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    async def refuse(self: discord.Client, token: str) -> None:
        raise discord.LoginFailure("Improper token has been passed.")

    monkeypatch.setattr(discord.Client, "login", refuse)
    adapter = DiscordAdapter(tokened, nothing)
    with pytest.raises(DiscordSetupError, match="Reset Token"):
        await adapter.start()
    findings = await adapter.doctor()
    assert findings[0].severity is Severity.ERROR and findings[0].fix == TOKEN_FIX


async def test_start_without_privileged_intents(tokened: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    async def login(self: discord.Client, token: str) -> None:
        await self._async_setup_hook()  # what the real login does first

    async def connect(self: discord.Client, *, reconnect: bool = True) -> None:
        raise discord.PrivilegedIntentsRequired(None)

    async def rest_doctor(client: Any, token: str) -> list[Any]:
        return []

    monkeypatch.setattr(discord.Client, "login", login)
    monkeypatch.setattr(discord.Client, "connect", connect)
    monkeypatch.setattr(adapter_module, "run_doctor", rest_doctor)
    adapter = DiscordAdapter(tokened, nothing)
    with pytest.raises(DiscordSetupError, match="MESSAGE CONTENT INTENT"):
        await adapter.start()
    (finding,) = await adapter.doctor()
    assert finding.check == "discord intents" and finding.fix == INTENTS_FIX
    await adapter.stop()


@pytest.fixture
async def running(tokened: Settings, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[DiscordAdapter, list[Any]]]:
    synced: list[Any] = []

    async def login(self: discord.Client, token: str) -> None:
        await self._async_setup_hook()

    async def connect(self: discord.Client, *, reconnect: bool = True) -> None:
        self._ready.set()  # READY arrived
        while not self.is_closed():
            await asyncio.sleep(0.01)

    async def sync(self: discord.app_commands.CommandTree[Any], *, guild: Any = None) -> list[Any]:
        synced.append(guild.id if guild else None)
        return list(self.get_commands(guild=guild))

    monkeypatch.setattr(discord.Client, "login", login)
    monkeypatch.setattr(discord.Client, "connect", connect)
    monkeypatch.setattr(discord.app_commands.CommandTree, "sync", sync)
    adapter = DiscordAdapter(tokened, nothing, commands=[SimpleNamespace(name="help", summary="help", usage="/help",
                                                                         hidden=False, aliases=())])
    await adapter.start()
    yield adapter, synced
    await adapter.stop()


async def test_start_registers_commands_per_guild_and_stop_closes(running: tuple[DiscordAdapter, list[Any]]) -> None:
    adapter, synced = running
    assert synced == [1100000000000000001]
    assert adapter.client.is_ready()
    await adapter.stop()
    assert adapter.client.is_closed()


async def test_cli_sync(tokened: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[Any] = []

    async def login(self: discord.Client, token: str) -> None:
        return None

    async def sync(self: discord.app_commands.CommandTree[Any], *, guild: Any = None) -> list[Any]:
        synced.append(guild.id if guild else None)
        return [1, 2]

    monkeypatch.setattr(discord.Client, "login", login)
    monkeypatch.setattr(discord.app_commands.CommandTree, "sync", sync)
    spec = SimpleNamespace(name="help", summary="help", usage="/help", hidden=False)
    assert await sync_commands(tokened, [spec]) == {"1100000000000000001": 2}
    assert await sync_commands(tokened, [spec], guild_ids=[]) == {"global": 2}
    assert synced == [1100000000000000001, None]


async def test_cli_sync_without_token(settings: Settings) -> None:
    with pytest.raises(DiscordSetupError, match="DISCORD_TOKEN"):
        await sync_commands(settings, [])


async def test_doctor_without_token(settings: Settings) -> None:
    (finding,) = await DiscordAdapter(settings, nothing).doctor()
    assert finding.severity is Severity.ERROR and "DISCORD_TOKEN" in finding.detail


def test_findings_for_exceptions() -> None:
    assert finding_for_exception(discord.LoginFailure("x")).fix == TOKEN_FIX
    assert finding_for_exception(discord.PrivilegedIntentsRequired(None)).fix == INTENTS_FIX
    assert finding_for_exception(OSError("no route")).check == "discord api"


def test_application_flags() -> None:
    none = check_application_flags(discord.ApplicationFlags._from_value(0))
    assert [f.severity for f in none] == [Severity.ERROR, Severity.ERROR]
    assert none[0].fix == INTENTS_FIX
    both = check_application_flags(discord.ApplicationFlags._from_value(MESSAGE_CONTENT_LIMITED | GUILD_MEMBERS_LIMITED))
    assert [f.severity for f in both] == [Severity.OK, Severity.OK]


def test_channel_permissions() -> None:
    full = discord.Permissions(INVITE_PERMISSIONS)
    assert check_channel_permissions("G", "general", full) is None
    assert check_channel_permissions("G", "secret", discord.Permissions.none()) is None  # cannot see: deliberate
    found = check_channel_permissions("G", "general", discord.Permissions(view_channel=True, send_messages=True))
    assert found is not None and found.severity is Severity.WARNING
    assert "read_message_history" in found.detail and "attach_files" in found.fix
    assert check_channel_permissions("G", "x", discord.Permissions(administrator=True)) is None


def test_invite_permission_integer() -> None:
    perms = discord.Permissions(INVITE_PERMISSIONS)
    assert perms.manage_roles and perms.send_messages and perms.read_message_history and not perms.administrator
    assert perms.moderate_members and perms.ban_members  # /mute and /ban
    assert perms.kick_members and perms.manage_messages  # /kick; /purge, filters, antiflood deletes
    assert INVITE_PERMISSIONS == 1374658096198


class RestStub:
    """The REST calls run_doctor makes, answered from a dpytest guild."""

    def __init__(self, guild: discord.Guild, flags: int) -> None:
        self.guild = guild
        self.user = guild.me
        self.flags = flags
        self.closed = False

    async def login(self, token: str) -> None:
        return None

    async def application_info(self) -> Any:
        return SimpleNamespace(flags=discord.ApplicationFlags._from_value(self.flags))

    async def fetch_guilds(self, *, limit: Any = None) -> AsyncIterator[discord.Guild]:
        yield self.guild

    async def fetch_guild(self, guild_id: int) -> Any:
        guild = self.guild

        async def fetch_member(member_id: int) -> discord.Member:
            return guild.me

        async def fetch_channels() -> list[Any]:
            return list(guild.channels)

        return SimpleNamespace(name=guild.name, fetch_member=fetch_member, fetch_channels=fetch_channels,
                               _guild=guild)

    async def close(self) -> None:
        self.closed = True


async def test_doctor_over_rest(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    captured: list[Any] = []

    def check(guild: Any, me: discord.Member, channels: Any) -> list[Any]:
        captured.append(channels)
        return check_guild(guild._guild, me, channels)

    monkeypatch.setattr("bot.adapters.discord.doctor.check_guild", check)
    stub = RestStub(env.guild, 0)
    findings = await run_doctor(stub, "token")  # type: ignore[arg-type]
    assert stub.closed and captured
    by_check = {f.check: f for f in findings}
    assert by_check["discord message content intent"].severity is Severity.ERROR
    roles = by_check[f"discord server permissions in {env.guild.name}"]
    assert roles.severity is Severity.WARNING and "Manage Roles" in roles.fix
    assert "Moderate Members" in roles.fix and "Ban Members" in roles.fix and "/mute" in roles.detail
    assert "Kick Members" in roles.fix and "Manage Messages" in roles.fix and "/purge" in roles.detail
    channel = by_check[f"discord #general in {env.guild.name}"]
    assert channel.severity is Severity.WARNING and "send_messages_in_threads" in channel.detail
