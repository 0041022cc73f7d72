"""Per-community moderation settings: declared once here with defaults and bounds; stored in
``Community.settings["moderation"]`` (fetched and stored through
:mod:`engine.store.community_settings`); read through :func:`moderation_settings` only."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.members.moderation import write_audit
from engine.refusal import Refusal
from engine.store.community_settings import store_setting, stored_settings

SECTION = "moderation"


@dataclass(frozen=True, slots=True)
class ModerationSettings:
    warn_expiry_days: int = 30      # a warning counts for this many days
    warn_mute_at: int = 3           # this many active warnings mute automatically; 0 = never
    warn_mute_minutes: int = 1440   # for this long
    flood_messages: int = 0         # more than this many messages ...; 0 = antiflood off
    flood_seconds: int = 10         # ... within this many seconds ...
    flood_mute_minutes: int = 10    # ... mute for this long
    flood_action: str = "mute"      # what antiflood does: mute | warn | delete
    filter_mute_minutes: int = 60   # a filter whose action is mute mutes for this long


# key → (least, most): every setting is a whole number in these bounds.
BOUNDS: dict[str, tuple[int, int]] = {
    "warn_expiry_days": (1, 3650),
    "warn_mute_at": (0, 100),
    "warn_mute_minutes": (1, 525_600),
    "flood_messages": (0, 100),
    "flood_seconds": (1, 3600),
    "flood_mute_minutes": (1, 525_600),
    "filter_mute_minutes": (1, 525_600),
}
# key → the words it accepts: the settings that are a choice, not a number.
CHOICES: dict[str, tuple[str, ...]] = {
    "flood_action": ("mute", "warn", "delete"),
}
KEYS = tuple(f.name for f in fields(ModerationSettings))


class SettingError(Refusal, ValueError):
    """A bad key or value; the message says what is accepted."""


def from_stored(stored: dict[str, Any] | None) -> ModerationSettings:
    """Settings from a community's settings dict; bad or missing values take defaults."""
    section = stored.get(SECTION) if isinstance(stored, dict) else None
    if not isinstance(section, dict):
        return ModerationSettings()
    values: dict[str, Any] = {}
    for key, (low, high) in BOUNDS.items():
        value = section.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            values[key] = value
    for key, words in CHOICES.items():
        if section.get(key) in words:
            values[key] = section[key]
    return ModerationSettings(**values)


def moderation_settings(session: Session, community_id: int) -> ModerationSettings:
    return from_stored(stored_settings(session, community_id))


def parse_value(key: str, raw: str) -> int | str:
    """The validated value for ``key``; raises SettingError."""
    if key in CHOICES:
        word = raw.strip().lower()
        if word not in CHOICES[key]:
            raise SettingError(f"{key} is one of: {', '.join(CHOICES[key])}")
        return word
    if key not in BOUNDS:
        raise SettingError(f"unknown setting {key!r}; settings: {', '.join(KEYS)}")
    low, high = BOUNDS[key]
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 7 or not low <= int(text) <= high:
        raise SettingError(f"{key} takes a whole number from {low} to {high}")
    return int(text)


def set_setting(session: Session, community_id: int, key: str, raw: str, *,
                actor_id: int | None, at: datetime) -> int | str:
    """Validate and store one setting with an audit entry; returns the stored value.
    Raises SettingError for a bad key or value (nothing written)."""
    value = parse_value(key, raw)
    previous = asdict(from_stored(stored_settings(session, community_id)))[key]
    store_setting(session, community_id, f"{SECTION}.{key}", value)
    write_audit(session, action=f"config.{SECTION}.{key}", at=at, community_id=community_id,
                actor_id=actor_id, details={"value": value, "previous": previous})
    return value
