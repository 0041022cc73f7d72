"""``cohort discord ...``: Discord chores that need no running bot.

Mounted by its ``MODULE`` in ``bot.bootstrap.capabilities``.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import discord
import typer

from bot.modules import Module

CLI_NAME = "discord"
cli = typer.Typer(no_args_is_help=True, help="Discord: slash commands and setup.")


@cli.command("sync")
def sync(
    guild: Annotated[list[int] | None, typer.Option("--guild", "-g", help="a guild id (repeatable)")] = None,
    all_guilds: Annotated[bool, typer.Option("--global", help="register globally instead of per guild")] = False,
) -> None:
    """Register Cohort's slash commands with Discord (per guild: instant; global: slower)."""
    from bot.adapters.discord.adapter import DiscordSetupError, sync_commands
    from bot.bootstrap import build_app
    from bot.cli_setup import settings_or_exit

    settings = settings_or_exit()
    commands = build_app(settings).router.commands
    guild_ids: list[int] | None = [] if all_guilds else (list(guild) if guild else None)
    try:
        synced = asyncio.run(sync_commands(settings, commands, guild_ids))
    except DiscordSetupError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from exc
    except discord.HTTPException as exc:
        typer.secho(f"Discord refused: HTTP {exc.status} {exc.text}", fg="red", err=True)
        raise typer.Exit(1) from exc
    for where, count in synced.items():
        typer.echo(f"{where}: {count} commands")


# ``cohort discord ...``: a command-line capability of its own (no chat commands).
MODULE = Module(name="discord", cli=cli, cli_name=CLI_NAME)
