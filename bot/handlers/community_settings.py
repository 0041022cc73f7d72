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

from sqlalchemy.orm import Session

from bot.markup import esc
from bot.modules import Catalog, Module, text
from bot.ports import Role
from bot.router import CommandContext, CommandSpec, Router, UsageError
from bot.settings import Settings
from bot.settings_schema import SettingSpec, SettingsSchema
from engine.members.moderation import write_audit
from engine.points.days import DEFAULT_ZONE, EXAMPLE_ZONES, ZoneError, parse_zone
from engine.store.community_settings import store_setting
from engine.store.store import Store

LANGUAGES = ("en", "zh")
# A section whose keys another module validates: section → that module's command.
SECTION_COMMANDS = {"points": "pointsconfig", "moderation": "modconfig"}

MESSAGES: Catalog = {
    "config.title": {"en": "<b>Community settings</b>", "zh": "<b>社区设置</b>"},
    "config.hint": {"en": "Change one: /config language zh · /config timezone Asia/Shanghai · /config points.KEY VALUE",
                    "zh": "修改：/config language zh · /config timezone Asia/Shanghai · /config points.键 值"},
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
        _ = ctx.community_id  # an unknown community is refused, not shown as defaults
        shown: dict[str, object] = dict(ctx.settings.items())
        for section in SECTION_COMMANDS:
            if ctx.settings.section(section):
                shown[section] = ctx.settings.section(section)
        await ctx.reply(ctx.t("config.title") + "\n<pre>" + esc(json.dumps(shown, ensure_ascii=False, indent=1))
                        + "</pre>\n" + ctx.t("config.hint"))
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
