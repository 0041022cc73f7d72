"""Self-checks for the Discord setup: token, privileged intents, channel permissions.

The checks are pure functions over what discord.py reports (an exception, application
flags, a Permissions value); :func:`run_doctor` gathers those facts over REST, so it
works whether or not the gateway connection is up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import aiohttp
import discord

from bot.adapters.base import Finding, Severity

log = logging.getLogger(__name__)

TOKEN_FIX = "DISCORD_TOKEN is invalid: reset it in the Developer Portal → Bot → Reset Token"
INTENTS_FIX = (
    "Developer Portal → your app → Bot → Privileged Gateway Intents → turn on MESSAGE CONTENT "
    "INTENT and SERVER MEMBERS INTENT; without it text arrives empty and points silently break"
)

# What Cohort needs in a channel it reads and writes, with why (shown to the operator).
CHANNEL_PERMISSIONS: dict[str, str] = {
    "view_channel": "see the channel",
    "send_messages": "reply",
    "send_messages_in_threads": "reply in threads and forum posts",
    "read_message_history": "reply to messages",
    "add_reactions": "react",
    "embed_links": "show links",
    "attach_files": "post charts",
}
GUILD_PERMISSIONS: dict[str, str] = {
    "manage_roles": "grant level-reward roles",
    "moderate_members": "/mute, antiflood and filter mutes (Discord's timeout)",
    "ban_members": "/ban",
    "kick_members": "/kick",
    "manage_messages": "/purge, filters, antiflood deletes and the welcome's delete-after",
}

# The invite permission integer: the permissions above, as Discord's bit field.
INVITE_PERMISSIONS = discord.Permissions(
    **{name: True for name in (*CHANNEL_PERMISSIONS, *GUILD_PERMISSIONS)}
).value


def finding_for_exception(exc: BaseException) -> Finding:
    """The finding for an error raised while logging in or connecting."""
    if isinstance(exc, discord.LoginFailure):
        return Finding("discord token", Severity.ERROR, "Discord rejected the token", TOKEN_FIX)
    if isinstance(exc, discord.PrivilegedIntentsRequired):
        return Finding("discord intents", Severity.ERROR,
                       "Discord refused the connection: privileged intents are not enabled", INTENTS_FIX)
    if isinstance(exc, discord.HTTPException):
        return Finding("discord api", Severity.ERROR, f"Discord answered HTTP {exc.status}: {exc.text}",
                       "check https://discordstatus.com and try again")
    if isinstance(exc, aiohttp.ClientError | OSError | TimeoutError):
        return Finding("discord api", Severity.ERROR, f"cannot reach Discord: {exc}",
                       "check this host's internet connection / proxy")
    return Finding("discord", Severity.ERROR, f"{type(exc).__name__}: {exc}")


def check_application_flags(flags: discord.ApplicationFlags) -> list[Finding]:
    """Message content and server members intents, as the application's flags show them.

    Discord sets the ``*_limited`` flag for bots under 100 servers and the plain one for
    verified bots; either means the toggle is on.
    """
    findings: list[Finding] = []
    if flags.gateway_message_content or flags.gateway_message_content_limited:
        findings.append(Finding("discord message content intent", Severity.OK, "enabled"))
    else:
        findings.append(Finding("discord message content intent", Severity.ERROR, "not enabled", INTENTS_FIX))
    if flags.gateway_guild_members or flags.gateway_guild_members_limited:
        findings.append(Finding("discord server members intent", Severity.OK, "enabled"))
    else:
        findings.append(Finding("discord server members intent", Severity.ERROR,
                                "not enabled: joins and leaves are not seen", INTENTS_FIX))
    return findings


def _missing(perms: discord.Permissions, wanted: dict[str, str]) -> list[str]:
    if perms.administrator:
        return []
    return [name for name in wanted if not getattr(perms, name)]


def check_channel_permissions(guild: str, channel: str, perms: discord.Permissions) -> Finding | None:
    """A warning naming what Cohort lacks in a channel it can see; None when all is there.

    A channel Cohort cannot see at all is treated as deliberately private: no finding.
    """
    if not (perms.view_channel or perms.administrator):
        return None
    missing = _missing(perms, CHANNEL_PERMISSIONS)
    if not missing:
        return None
    why = ", ".join(f"{name} ({CHANNEL_PERMISSIONS[name]})" for name in missing)
    return Finding(
        f"discord #{channel} in {guild}", Severity.WARNING, f"missing {why}",
        f"Server Settings → Channels → #{channel} → Permissions → give Cohort's role: "
        + ", ".join(missing),
    )


def check_guild_permissions(guild: str, perms: discord.Permissions) -> Finding:
    """Guild-wide permissions: Manage Roles (level rewards), Timeout and Ban Members (/mute, /ban)."""
    missing = _missing(perms, GUILD_PERMISSIONS)
    if not missing:
        return Finding(f"discord server permissions in {guild}", Severity.OK,
                       "Cohort can manage roles and messages, time out, kick and ban members")
    return Finding(
        f"discord server permissions in {guild}", Severity.WARNING,
        "missing " + ", ".join(f"{name} ({GUILD_PERMISSIONS[name]})" for name in missing),
        "Server Settings → Roles → Cohort → turn on "
        + ", ".join(name.replace("_", " ").title() for name in missing)
        + "; drag Cohort's role above the members and reward roles it acts on",
    )


def check_guild(guild: discord.Guild, me: discord.Member, channels: Iterable[Any]) -> list[Finding]:
    """Findings for one guild: its roles and each text-like channel Cohort can see."""
    findings = [check_guild_permissions(guild.name, me.guild_permissions)]
    for channel in channels:
        if not isinstance(channel, discord.TextChannel | discord.ForumChannel):
            continue
        found = check_channel_permissions(guild.name, channel.name, channel.permissions_for(me))
        if found is not None:
            findings.append(found)
    return findings


async def run_doctor(client: discord.Client, token: str) -> list[Finding]:
    """Log in over REST (no gateway), then check intents and every guild's permissions.

    Never raises: every failure is a finding. Closes ``client`` when done.
    """
    findings: list[Finding] = []
    try:
        if client.user is None:
            await client.login(token)
        findings.append(Finding("discord token", Severity.OK, f"logged in as {client.user}"))
        app = await client.application_info()
        findings.extend(check_application_flags(app.flags))
        me_id = client.user.id if client.user else 0
        seen = 0
        async for partial in client.fetch_guilds(limit=None):
            seen += 1
            guild = await client.fetch_guild(partial.id)
            me = await guild.fetch_member(me_id)
            findings.extend(check_guild(guild, me, await guild.fetch_channels()))
        if not seen:
            findings.append(Finding("discord guilds", Severity.WARNING, "Cohort is in no server yet",
                                    "invite it with the URL in the README (Discord section)"))
    except Exception as exc:  # the doctor reports, it never crashes
        findings.append(finding_for_exception(exc))
    finally:
        try:
            await client.close()
        except Exception:
            log.debug("discord: closing the doctor's client failed", exc_info=True)
    return findings
