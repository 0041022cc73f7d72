"""The Discord adapter (discord.py 2.x). Only this package imports ``discord``."""

from bot.adapters.discord.adapter import DiscordAdapter, DiscordSetupError, make_client, sync_commands
from bot.adapters.discord.messenger import DiscordMessenger
from engine.members.reachability import reachability_hook, record_reachability

__all__ = [
    "DiscordAdapter",
    "DiscordMessenger",
    "DiscordSetupError",
    "make_client",
    "reachability_hook",
    "record_reachability",
    "sync_commands",
]
