"""Per-community settings, declared by the capability that owns them (Red's ``Config``):
a :class:`SettingSpec` per key with its type, default, validation and who may change it,
and :class:`CommunitySettings`, the typed read of one community's stored values.

Nobody else interprets ``Community.settings``: the stored JSON is fetched through
:mod:`engine.store.community_settings` and read here, key by declared key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.ports import Role
from engine.store.community_settings import MISSING, lookup


@dataclass(frozen=True, slots=True)
class SettingSpec:
    """One per-community setting: ``key`` (``section.name``), its type and default, a
    validator that returns the normalised value or raises ValueError with the reason a
    user reads, and the least role that may change it."""

    key: str
    type: type
    default: Any
    validate: Callable[[Any], Any] | None = None
    min_role: Role = Role.ADMIN
    help: str = ""

    def clean(self, value: Any) -> Any:
        """``value`` checked and normalised; raises ValueError with a readable reason."""
        if self.type is bool and isinstance(value, str):
            lowered = value.strip().lower()
            if lowered not in ("on", "off", "true", "false", "yes", "no", "1", "0"):
                raise ValueError(f"{self.key} is on or off")
            value = lowered in ("on", "true", "yes", "1")
        elif self.type in (int, float) and isinstance(value, str):
            text = value.strip()
            if not text.isascii() or len(text) > 18:
                raise ValueError(f"{self.key} must be a number")
            try:
                value = self.type(text)
            except ValueError as exc:
                raise ValueError(f"{self.key} must be a number") from exc
        if not isinstance(value, self.type) or (self.type is int and isinstance(value, bool)):
            raise ValueError(f"{self.key} must be a {self.type.__name__}")
        return self.validate(value) if self.validate is not None else value


class SettingsSchema:
    """Every declared setting, by key (built once by the composition root)."""

    def __init__(self, specs: Iterable[SettingSpec] = ()) -> None:
        self.specs: dict[str, SettingSpec] = {}
        for spec in specs:
            if spec.key in self.specs:
                raise ValueError(f"setting {spec.key!r} is declared twice")
            self.specs[spec.key] = spec

    def view(self, stored: Mapping[str, Any]) -> CommunitySettings:
        return CommunitySettings(self, stored)


class CommunitySettings:
    """One community's settings, typed: a declared key gives its stored value when that
    value is valid, else the declared default (a hand-edited bad value never breaks a
    command). Reading an undeclared key is a programming error (KeyError)."""

    def __init__(self, schema: SettingsSchema, stored: Mapping[str, Any]) -> None:
        self._schema = schema
        self._stored = dict(stored)

    def __getitem__(self, key: str) -> Any:
        spec = self._schema.specs[key]
        raw = lookup(self._stored, key, MISSING)
        if raw is MISSING or raw is None:
            return spec.default
        try:
            return spec.clean(raw)
        except (ValueError, TypeError):
            return spec.default

    def items(self) -> list[tuple[str, Any]]:
        """Every declared setting with its effective value, by key."""
        return [(key, self[key]) for key in sorted(self._schema.specs)]

    def section(self, name: str) -> dict[str, Any]:
        """The stored sub-dict ``name`` as is (for engines that parse their own section)."""
        value = self._stored.get(name)
        return dict(value) if isinstance(value, dict) else {}


EMPTY_SCHEMA = SettingsSchema()
