"""Telegram, through python-telegram-bot. Only this package imports ``telegram``."""

from engine.members.reachability import reachability_hook, record_reachability

from .adapter import TelegramAdapter
from .chats import known_chats_reader, known_group_chats
from .messenger import TelegramMessenger
from .updates import ALLOWED_UPDATES, to_events

__all__ = [
    "ALLOWED_UPDATES",
    "TelegramAdapter",
    "TelegramMessenger",
    "known_chats_reader",
    "known_group_chats",
    "reachability_hook",
    "record_reachability",
    "to_events",
]
