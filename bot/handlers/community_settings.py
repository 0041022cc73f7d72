"""``/config``: one command for a community's settings, whichever capability owns them.

``/config`` shows them; ``/config language en|zh`` sets the reply language;
``/config timezone ZONE`` (an IANA name such as ``Asia/Shanghai``, or ``UTC``; admins
only) sets where the community's days begin for streaks, daily caps and weeks, from
then on; ``/config points.KEY VALUE`` is handed to the points module's own validated
setter.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.markup import esc
from bot.modules import Catalog, SettingSpec, text
from bot.ports import Role
from bot.router import CommandContext, Router, UsageError
from engine.events import Event
from engine.members.lookup import community_id_of, home_community, member_of_account
from engine.members.moderation import write_audit
from engine.moderation.settings import SECTION as MODERATION
from engine.moderation.settings import ModerationSettings
from engine.moderation.settings import from_stored as moderation_from_stored
from engine.points import rules as points_rules
from engine.points.days import DEFAULT_ZONE, EXAMPLE_ZONES, ZoneError, parse_zone
from engine.store.community_settings import MISSING, lookup
from engine.store.models import Community

LANGUAGES = ("en", "zh")
# A section whose keys another module validates: section → that module's command.
SECTION_COMMANDS = {"points": "pointsconfig", "moderation": "modconfig"}
# Settings that need more than /config's own minimum role: the timezone moves every
# member's day (streaks, daily caps), so it is the community admins' call.
SETTING_ROLES = {"timezone": Role.ADMIN}
UNKNOWN_COMMUNITY = "I don't know this community yet: say something first."

MESSAGES: Catalog = {
    "config.title": {"en": "<b>Community settings — {community}</b> (✎ = changed here, default in brackets)",
                     "zh": "<b>社区设置 — {community}</b>（✎ = 本社区修改过，括号里是默认值）"},
    "config.changed": {"en": "✎ {setting} = {value} (default {default})", "zh": "✎ {setting} = {value}（默认 {default}）"},
    "config.default": {"en": "  {setting} = {value}", "zh": "  {setting} = {value}"},
    "config.none_changed": {"en": "Nothing is changed here: every setting has its default.",
                            "zh": "本社区没有修改过任何设置，全部为默认值。"},
    "config.hint": {"en": "Change one: /config language zh · /config timezone Asia/Shanghai · "
                          "/config points.KEY VALUE · /config moderation.KEY VALUE",
                    "zh": "修改：/config language zh · /config timezone Asia/Shanghai · "
                          "/config points.键 值 · /config moderation.键 值"},
}


@dataclass(frozen=True, slots=True)
class EffectiveSetting:
    """One setting as it applies to a community: its value, and whether the community set it."""

    key: str
    value: Any
    default: Any
    overridden: bool


def effective_settings(stored: dict[str, Any], default_language: str,
                       specs: Iterable[SettingSpec] = ()) -> list[EffectiveSetting]:
    """Every per-community setting Cohort knows — the top-level ones, the points rules, the
    moderation settings and each capability's declared ``SettingSpec`` — with the default
    merged with what ``stored`` (a community's settings) overrides. Never raises."""
    rows = [EffectiveSetting("language", stored.get("language", default_language), default_language,
                             "language" in stored),
            EffectiveSetting("timezone", stored.get("timezone", DEFAULT_ZONE), DEFAULT_ZONE, "timezone" in stored)]
    raw_points = _section(stored, "points")
    rules, defaults = asdict(points_rules.rules_from_settings(raw_points)), asdict(points_rules.PointsRules())
    for key in points_rules.valid_keys():
        value = rules.get(key, raw_points.get(key, {}))
        rows.append(EffectiveSetting(f"points.{key}", value, defaults.get(key, {}), key in raw_points))
    raw_moderation = _section(stored, MODERATION)
    moderation, mod_defaults = asdict(moderation_from_stored(stored)), asdict(ModerationSettings())
    for key, value in moderation.items():
        rows.append(EffectiveSetting(f"{MODERATION}.{key}", value, mod_defaults[key], key in raw_moderation))
    for spec in specs:
        found = lookup(stored, spec.key, MISSING)
        rows.append(EffectiveSetting(spec.key, spec.default if found is MISSING else found, spec.default,
                                     found is not MISSING))
    return rows


def _section(stored: dict[str, Any], name: str) -> dict[str, Any]:
    found = stored.get(name)
    return found if isinstance(found, dict) else {}


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
        if row.overridden:
            lines.append(text(MESSAGES, "config.changed", language, setting=esc(row.key), value=esc(_shown(row.value)),
                              default=esc(_shown(row.default))))
        else:
            lines.append(text(MESSAGES, "config.default", language, setting=esc(row.key), value=esc(_shown(row.value))))
    if not any(row.overridden for row in rows):
        lines.append(text(MESSAGES, "config.none_changed", language))
    lines.append(text(MESSAGES, "config.hint", language))
    return "\n".join(lines)


def _community(session: Session, event: Event) -> int | None:
    platform = str(event.platform)
    if event.is_private or not event.community_id:
        return home_community(session, platform, event.user_id)
    return community_id_of(session, platform, event.community_id)


async def config_command(ctx: CommandContext, app: Any, router: Router) -> None:
    event = ctx.event
    if not ctx.args:
        found = await app.store.read(lambda s: _read_named(s, event))
        if found is None:
            raise UsageError(UNKNOWN_COMMUNITY)
        stored, community = found
        specs = [spec for module in getattr(app, "modules", ()) for spec in module.settings]
        rows = effective_settings(stored, app.settings.language, specs)
        language = next(row.value for row in rows if row.key == "language")
        await ctx.reply(describe_settings(rows, community, str(language)))
        return
    key = ctx.args[0].lower()
    section = key.split(".", 1)[0]
    if "." in key and section in SECTION_COMMANDS:
        spec = router.spec(SECTION_COMMANDS[section])
        if spec is None:
            raise UsageError(f"The {esc(section)} module is not running here.")
        await spec.handler(ctx=ctx)
        return
    if key not in ("language", "timezone"):
        raise UsageError("Settings you can change: language (en|zh), timezone (e.g. Asia/Shanghai), "
                         + ", ".join(f"{s}.KEY" for s in SECTION_COMMANDS) + ". Send /config to see them.")
    needed = SETTING_ROLES.get(key)
    if needed is not None and ctx.role < needed:
        raise UsageError(f"/config {esc(key)} is for {needed.name.lower()}s and above.")
    if key == "timezone":
        await _timezone_command(ctx, app)
        return
    value = ctx.args[1].lower() if len(ctx.args) > 1 else ""
    if value not in LANGUAGES:
        raise UsageError("Usage: /config language en|zh")
    done = await app.store.write(lambda s: _set(s, event, "language", value, app.services.get("points")))
    if not done:
        raise UsageError(UNKNOWN_COMMUNITY)
    await ctx.reply("Language set to English." if value == "en" else "语言已设为中文。")


async def _timezone_command(ctx: CommandContext, app: Any) -> None:
    """``/config timezone ZONE``: validate an IANA name (or UTC) and store its canonical form."""
    if len(ctx.args) != 2:
        raise UsageError(f"Usage: /config timezone ZONE — an IANA name such as {EXAMPLE_ZONES}, or UTC.")
    try:
        value = parse_zone(ctx.args[1])
    except ZoneError as exc:
        raise UsageError(f"Timezone not changed: {esc(str(exc))}. Offsets such as UTC+8 are not "
                         "accepted (they ignore daylight saving time).") from None
    event = ctx.event
    done = await app.store.write(lambda s: _set(s, event, "timezone", value, app.services.get("points")))
    if not done:
        raise UsageError(UNKNOWN_COMMUNITY)
    await ctx.reply(f"Timezone set to {esc(value)}: from now on days (streaks, daily caps) and weeks "
                    "begin at midnight there. Points already earned stay as they are.")


def _read_named(session: Session, event: Event) -> tuple[dict[str, Any], str] | None:
    """(stored settings, the community's title or platform id) of the command's community."""
    cid = _community(session, event)
    if cid is None:
        return None
    row = session.execute(select(Community.settings, Community.title, Community.external_id)
                          .where(Community.id == cid)).one()
    return (dict(row[0]) if isinstance(row[0], dict) else {}), str(row[1] or row[2])


def _set(session: Session, event: Event, key: str, value: str, points: Any) -> bool:
    """Store a top-level community setting with an audit entry; False for an unknown community."""
    cid = _community(session, event)
    if cid is None:
        return False
    if points is not None:  # it caches community settings in the writer (language, timezone)
        points.invalidate(cid)
    current = dict(session.execute(select(Community.settings).where(Community.id == cid)).scalar_one() or {})
    previous = current.get(key)
    current[key] = value
    session.execute(update(Community).where(Community.id == cid).values(settings=current))
    write_audit(session, action=f"config.{key}", at=event.at, community_id=cid,
                actor_id=member_of_account(session, str(event.platform), event.user_id),
                details={"value": value, "previous": previous})
    return True


def register(router: Router, app: Any) -> None:
    router.command("config", config_command, min_role=Role.MODERATOR,
                   summary="show or change this community's settings",
                   usage="/config [language en|zh | timezone ZONE | points.KEY VALUE]")
