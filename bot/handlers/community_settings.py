"""``/config``: one command for a community's settings, whichever capability owns them.

``/config`` shows every declared setting with its effective value; ``/config KEY VALUE``
sets one — the key's :class:`~bot.modules.SettingSpec` (declared by the capability that
owns it) validates the value and says who may change it. This module declares the two
settings every capability shares: ``language`` (``en``/``zh``: the reply language) and
``timezone`` (an IANA name such as ``Asia/Shanghai``, or ``UTC``; admins only: it moves
where every member's day begins for streaks, daily caps and weeks). ``points.KEY`` and
``moderation.KEY`` are handed to those modules' own validated setters.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.orm import Session

from bot.markup import esc
from bot.modules import Catalog, Module, text
from bot.ports import Role
from bot.router import CommandContext, CommandSpec, Router, UsageError
from bot.settings import Settings
from bot.settings_schema import SettingSpec, SettingsSchema
from engine.members.moderation import write_audit
from engine.points import rules as points_rules
from engine.points.days import DEFAULT_ZONE, EXAMPLE_ZONES, ZoneError, parse_zone
from engine.store.community_settings import MISSING, lookup, store_setting, stored_settings
from engine.store.models import Community
from engine.store.store import Store

LANGUAGES = ("en", "zh")
# A section whose keys another module validates: section → that module's command.
SECTION_COMMANDS = {"points": "pointsconfig", "moderation": "modconfig"}

MESSAGES: Catalog = {
    "config.title": {"en": "<b>Community settings — {community}</b> (✎ = changed here, default in brackets)",
                     "zh": "<b>社区设置 — {community}</b>（✎ = 本社区修改过，括号里是默认值）"},
    "config.overridden": {"en": "✎ {setting} = {value} (default {default})",
                          "zh": "✎ {setting} = {value}（默认 {default}）"},
    "config.default": {"en": "  {setting} = {value}", "zh": "  {setting} = {value}"},
    "config.none_changed": {"en": "Nothing is changed here: every setting has its default.",
                            "zh": "本社区没有修改过任何设置，全部为默认值。"},
    "config.hint": {"en": "Change one: /config language zh · /config timezone Asia/Shanghai · "
                          "/config points.KEY VALUE · /config moderation.KEY VALUE",
                    "zh": "修改：/config language zh · /config timezone Asia/Shanghai · "
                          "/config points.键 值 · /config moderation.键 值"},
    "config.keys": {"en": "Settings you can change: {keys}, {sections}. Send /config to see them.",
                    "zh": "可修改的设置：{keys}，{sections}。发送 /config 查看。"},
    "config.not_running": {"en": "The {section} module is not running here.", "zh": "这里没有运行 {section} 模块。"},
    "config.role": {"en": "/config {key} is for {role}s and above.", "zh": "/config {key} 仅限{role}及以上使用。"},
    "config.usage_key": {"en": "Usage: /config {key} {help}", "zh": "用法：/config {key} {help}"},
    "config.refused": {"en": "{key} not changed: {error}", "zh": "{key} 未修改：{error}"},
    "config.changed": {"en": "{key} is now <code>{value}</code>.", "zh": "{key} 已设为 <code>{value}</code>。"},
    "config.language_set": {"en": "Language set to English.", "zh": "语言已设为中文。"},
    "config.timezone_set": {"en": "Timezone set to {zone}: from now on days (streaks, daily caps) and weeks begin at "
                                  "midnight there. Points already earned stay as they are.",
                            "zh": "时区已设为 {zone}：从现在起，每天（连续天数、每日上限）和每周都从当地午夜开始。已获得的积分保持不变。"},
    "config.timezone_bad": {"en": "Timezone not changed: {error}. Offsets such as UTC+8 are not accepted (they "
                                  "ignore daylight saving time).",
                            "zh": "时区未修改：{error}。不接受 UTC+8 这样的偏移（它们忽略夏令时）。"},
    "sum.config": {"en": "show or change this community's settings", "zh": "查看或修改本社区的设置"},
}


@dataclass(frozen=True, slots=True)
class EffectiveSetting:
    """One setting as it applies to a community: its value, and whether the community set it."""

    key: str
    value: Any
    default: Any
    overridden: bool


def effective_settings(stored: dict[str, Any], specs: Iterable[SettingSpec]) -> list[EffectiveSetting]:
    """Every per-community setting — each capability's declared ``SettingSpec`` (language and
    timezone first, moderation's among them) and the points rules — with the defaults
    merged with what ``stored`` (a community's settings) overrides. Never raises."""
    schema = SettingsSchema(specs)
    view = schema.view(stored)
    first = [k for k in ("language", "timezone") if k in schema.specs]
    rows = [EffectiveSetting(key, view[key], schema.specs[key].default,
                             lookup(stored, key, MISSING) not in (MISSING, None))
            for key in first + sorted(k for k in schema.specs if k not in first)]
    raw_points = view.section("points")
    rules, defaults = asdict(points_rules.rules_from_settings(raw_points)), asdict(points_rules.PointsRules())
    for key in points_rules.valid_keys():
        rows.append(EffectiveSetting(f"points.{key}", rules.get(key, raw_points.get(key, {})), defaults.get(key, {}),
                                     key in raw_points))
    return rows


def _shown(value: Any) -> str:
    if value is None or value == {}:
        return "—"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple | list) and all(isinstance(v, tuple | list) and len(v) == 2 for v in value):
        return ",".join(f"{a}:{b}" for a, b in value)  # streak milestones: day:bonus
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def describe_settings(rows: list[EffectiveSetting], community: str, language: str) -> str:
    """The ``/config`` reply: every setting, the changed ones marked with their default."""
    lines = [text(MESSAGES, "config.title", language, community=esc(community))]
    for row in rows:
        key = "config.overridden" if row.overridden else "config.default"
        lines.append(text(MESSAGES, key, language, setting=esc(row.key), value=esc(_shown(row.value)),
                          default=esc(_shown(row.default))))
    if not any(row.overridden for row in rows):
        lines.append(text(MESSAGES, "config.none_changed", language))
    lines.append(text(MESSAGES, "config.hint", language))
    return "\n".join(lines)


def _named(session: Session, community_id: int) -> tuple[dict[str, Any], str]:
    """(stored settings, the community's title or platform id)."""
    row = session.get(Community, community_id)
    return stored_settings(session, community_id), (str(row.title or row.external_id) if row else "")


def _language(value: object) -> str:
    text = str(value).strip().lower()
    if text not in LANGUAGES:
        raise ValueError("use en or zh")
    return text


def _zone(value: object) -> str:
    try:
        return parse_zone(str(value))
    except ZoneError as exc:
        raise ValueError(str(exc)) from None


async def config_command(ctx: CommandContext, store: Store, router: Router, settings_schema: SettingsSchema) -> None:
    if not ctx.args:
        community_id = ctx.community_id  # an unknown community is refused, not shown as defaults
        stored, community = await store.read(lambda s: _named(s, community_id))
        rows = effective_settings(stored, settings_schema.specs.values())
        await ctx.reply(describe_settings(rows, community, ctx.language))
        return
    key = ctx.args[0].lower()
    section = key.split(".", 1)[0]
    if "." in key and section in SECTION_COMMANDS:
        if not await router.delegate(SECTION_COMMANDS[section], ctx):
            raise UsageError(ctx.t("config.not_running", section=esc(section)))
        return
    setting = settings_schema.specs.get(key)
    if setting is None:
        raise UsageError(ctx.t("config.keys", keys=", ".join(sorted(settings_schema.specs)),
                               sections=", ".join(f"{s}.KEY" for s in SECTION_COMMANDS)))
    if ctx.role < setting.min_role:
        raise UsageError(ctx.t("config.role", key=esc(key), role=ctx.t(f"role.{setting.min_role.name.lower()}")))
    if len(ctx.args) != 2:
        raise UsageError(ctx.t("config.usage_key", key=esc(key), help=esc(setting.help)))
    try:
        value = setting.clean(ctx.args[1])
    except ValueError as exc:
        if key == "timezone":
            raise UsageError(ctx.t("config.timezone_bad", error=esc(str(exc)))) from None
        if key == "language":
            raise UsageError(ctx.t("config.usage_key", key=key, help=esc(setting.help))) from None
        raise UsageError(ctx.t("config.refused", key=esc(key), error=esc(str(exc)))) from None
    community_id, actor, at = ctx.community_id, ctx.place.member_id, ctx.event.at

    def write(session: Session) -> None:
        previous = store_setting(session, community_id, key, value)
        write_audit(session, action=f"config.{key}", at=at, community_id=community_id,
                    actor_id=actor, details={"value": value, "previous": previous})

    await store.write(write)
    if key == "language":
        await ctx.reply(text(MESSAGES, "config.language_set", value))  # in the new language
    elif key == "timezone":
        await ctx.reply(ctx.t("config.timezone_set", zone=esc(value)))
    else:
        await ctx.reply(ctx.t("config.changed", key=esc(key), value=esc(str(value))))


def module(settings: Settings) -> Module:
    """``/config`` and the shared ``language`` / ``timezone`` settings (the language
    defaults to the operator's ``language`` setting)."""
    return Module(
        name="community_settings",
        commands=(CommandSpec("config", config_command, min_role=Role.MODERATOR,
                              summary="show or change this community's settings",
                              usage="/config [KEY VALUE | language en|zh | timezone ZONE | points.KEY VALUE]"),),
        settings=(
            SettingSpec("language", str, settings.language if settings.language in LANGUAGES else "en",
                        validate=_language, min_role=Role.MODERATOR, help="en|zh"),
            SettingSpec("timezone", str, DEFAULT_ZONE, validate=_zone, min_role=Role.ADMIN,
                        help=f"ZONE — an IANA name such as {EXAMPLE_ZONES}, or UTC."),
        ),
        messages=MESSAGES,
    )
