"""Application (slash) commands built from the router's CommandSpecs with discord.py's
``app_commands.CommandTree``, and their conversion into :class:`CommandInvoked`.

Every command becomes a slash command: most take one free ``args`` text option (only if
their usage shows arguments); a few that Cohort knows get typed options so Discord shows
a member picker or a choice list:

* ``/points give member amount [reason]`` and ``/points show [member]``
* ``/leaderboard [period: week|month|all]``
* ``/recommend [n: 1-20]``

Whatever the shape, the callback rebuilds the arguments the prefix form would have given
(``!points give <@123> 5 thanks`` → ``("give", "123", "5", "thanks")``: mentions as user
ids) and hands them to the adapter, which defers the interaction, dispatches the event
and answers through the interaction's followup.

Slash commands are visible to everyone (no ``default_permissions``): Cohort's own
moderator list is not a Discord permission, and the router checks the role anyway.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal, Protocol

import discord
from discord import app_commands

from bot.adapters.discord.gateway import GatewayContext, place
from engine.events import CommandInvoked, Platform

log = logging.getLogger(__name__)

Invoke = Callable[[discord.Interaction, str, tuple[str, ...], tuple[str, ...]], Awaitable[None]]
"""``invoke(interaction, name, args, mentions)``: the adapter's handling of one slash command."""

_NAME = re.compile(r"^[-_a-z0-9]{1,32}$")
_MENTION_TOKEN = re.compile(r"^<@!?(\d{1,21})>$")
Period = Literal["week", "month", "all"]


class SpecLike(Protocol):
    """What this module reads of :class:`bot.router.CommandSpec`."""

    @property
    def name(self) -> str: ...

    @property
    def summary(self) -> str: ...

    @property
    def usage(self) -> str: ...

    @property
    def hidden(self) -> bool: ...


def split_args(text: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Free text → (args, mentioned user ids), ``<@id>`` tokens turned into bare ids."""
    args: list[str] = []
    mentions: list[str] = []
    for token in (text or "").split():
        m = _MENTION_TOKEN.match(token)
        if m:
            args.append(m.group(1))
            if m.group(1) not in mentions:
                mentions.append(m.group(1))
        else:
            args.append(token)
    return tuple(args), tuple(mentions)


def _description(spec: SpecLike) -> str:
    return (spec.summary or spec.usage or spec.name).strip()[:100] or spec.name


def _takes_args(spec: SpecLike) -> bool:
    """Whether the usage line shows anything after the command's own name."""
    return len(spec.usage.split()) > 1


def generic_command(spec: SpecLike, invoke: Invoke) -> app_commands.Command[Any, Any, Any]:
    """``/name`` with one optional free-text ``args`` option when the usage shows arguments."""
    if _takes_args(spec):

        async def with_args(interaction: discord.Interaction, args: str | None = None) -> None:
            parsed, mentions = split_args(args)
            await invoke(interaction, spec.name, parsed, mentions)

        cmd: app_commands.Command[Any, Any, Any] = app_commands.Command(
            name=spec.name, description=_description(spec), callback=with_args
        )
        return app_commands.describe(args=spec.usage[:100])(cmd)

    async def bare(interaction: discord.Interaction) -> None:
        await invoke(interaction, spec.name, (), ())

    return app_commands.Command(name=spec.name, description=_description(spec), callback=bare)


def points_group(spec: SpecLike, invoke: Invoke) -> app_commands.Group:
    """``/points give member amount [reason]`` and ``/points show [member]``."""
    group = app_commands.Group(name=spec.name, description=_description(spec))

    @group.command(name="give", description="give points to a member")
    @app_commands.describe(member="who gets the points", amount="how many (negative takes away)",
                           reason="why, shown in the audit log")
    async def give(interaction: discord.Interaction, member: discord.Member, amount: int,
                   reason: str | None = None) -> None:
        uid = str(member.id)
        await invoke(interaction, spec.name, ("give", uid, str(amount), *(reason or "").split()), (uid,))

    @group.command(name="show", description="show a member's points (yours by default)")
    @app_commands.describe(member="whose points")
    async def show(interaction: discord.Interaction, member: discord.Member | None = None) -> None:
        ids = (str(member.id),) if member is not None else ()
        await invoke(interaction, spec.name, ids, ids)

    return group


def leaderboard_command(spec: SpecLike, invoke: Invoke) -> app_commands.Command[Any, Any, Any]:
    """``/leaderboard [period]`` with a week / month / all choice."""

    async def leaderboard(interaction: discord.Interaction, period: Period | None = None) -> None:
        await invoke(interaction, spec.name, (period,) if period else (), ())

    cmd: app_commands.Command[Any, Any, Any] = app_commands.Command(
        name=spec.name, description=_description(spec), callback=leaderboard
    )
    return app_commands.describe(period="which period to rank (default: the community's)")(cmd)


def recommend_command(spec: SpecLike, invoke: Invoke) -> app_commands.Command[Any, Any, Any]:
    """``/recommend [n]`` with n between 1 and 10 (what /recommend accepts)."""

    async def recommend(interaction: discord.Interaction,
                        n: app_commands.Range[int, 1, 10] | None = None) -> None:
        await invoke(interaction, spec.name, (str(n),) if n is not None else (), ())

    cmd: app_commands.Command[Any, Any, Any] = app_commands.Command(
        name=spec.name, description=_description(spec), callback=recommend
    )
    return app_commands.describe(n="how many suggestions")(cmd)


TYPED: dict[str, Callable[[SpecLike, Invoke], app_commands.Command[Any, Any, Any] | app_commands.Group]] = {
    "points": points_group,
    "leaderboard": leaderboard_command,
    "recommend": recommend_command,
}
"""Commands with typed options; every other command gets :func:`generic_command`."""


def add_commands(tree: app_commands.CommandTree[Any], specs: Sequence[SpecLike], invoke: Invoke) -> list[str]:
    """Add one global slash command per visible spec to ``tree``; returns their names.

    Hidden commands and names Discord would reject (upper case, spaces, > 32 chars) are
    skipped with a log line; they still work with the prefix.
    """
    names: list[str] = []
    for spec in specs:
        if spec.hidden or spec.name in names:
            continue
        if not _NAME.match(spec.name):
            log.warning("discord: /%s is not a valid slash command name; prefix only", spec.name)
            continue
        build = TYPED.get(spec.name, generic_command)
        tree.add_command(build(spec, invoke), override=True)
        names.append(spec.name)
    return names


def build_tree(client: discord.Client, specs: Sequence[SpecLike], invoke: Invoke) -> app_commands.CommandTree[Any]:
    """A CommandTree on ``client`` holding Cohort's commands. A client has at most one tree:
    raises ``discord.ClientException`` if this client already has one."""
    tree: app_commands.CommandTree[Any] = app_commands.CommandTree(client)

    async def on_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        log.error("discord: slash command failed: %s", error, exc_info=error)
        if not interaction.response.is_done():
            try:
                await interaction.response.send_message("Sorry, that did not work.", ephemeral=True)
            except discord.HTTPException:
                log.warning("discord: could not tell the user that the command failed")

    tree.on_error = on_error  # type: ignore[method-assign]
    add_commands(tree, specs, invoke)
    return tree


async def sync_tree(tree: app_commands.CommandTree[Any], guild_ids: Sequence[int]) -> dict[str, int]:
    """Register the tree's commands with Discord: per guild when ``guild_ids`` are given
    (instant), else globally (Discord may take a while to show them everywhere).

    Returns ``{guild id or "global": number of commands}``. Raises discord.HTTPException.
    """
    synced: dict[str, int] = {}
    if not guild_ids:
        synced["global"] = len(await tree.sync())
        return synced
    for gid in guild_ids:
        guild = discord.Object(id=gid)
        tree.copy_global_to(guild=guild)
        synced[str(gid)] = len(await tree.sync(guild=guild))
    return synced


def _channel_payload(channel: Any) -> dict[str, Any]:
    """The bits of an interaction's channel that ``gateway.place`` reads."""
    ctype = getattr(channel, "type", None)
    return {
        "type": getattr(ctype, "value", None),
        "parent_id": getattr(channel, "parent_id", None),
        "name": getattr(channel, "name", None) or "",
    }


def command_event(interaction: discord.Interaction, name: str, args: tuple[str, ...],
                  mentions: tuple[str, ...], ctx: GatewayContext) -> CommandInvoked:
    """The CommandInvoked for a slash command; ``message_id`` is the interaction id, so a
    redelivered interaction is stored once and replies find the interaction again."""
    channel_id = str(interaction.channel_id or "")
    guild_id = str(interaction.guild_id) if interaction.guild_id else None
    where = place(channel_id, guild_id, ctx, _channel_payload(interaction.channel))
    user = interaction.user
    return CommandInvoked(
        platform=Platform.DISCORD, community_id=where.community_id, chat_id=where.chat_id,
        thread_id=where.thread_id, user_id=str(user.id), at=interaction.created_at,
        message_id=str(interaction.id), user_name=user.display_name, username=user.name,
        is_bot=user.bot, is_private=where.is_private, chat_title=where.chat_title,
        name=name, args=args, raw_text=" ".join((f"/{name}", *args)), mentions=mentions,
    )
