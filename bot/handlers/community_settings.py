"""``/config``: one command for a community's settings, whichever capability owns them.

``/config`` shows them; ``/config language en|zh`` sets the reply language;
``/config timezone ZONE`` (an IANA name such as ``Asia/Shanghai``, or ``UTC``; admins
only) sets where the community's days begin for streaks, daily caps and weeks, from
then on; ``/config points.KEY VALUE`` is handed to the points module's own validated
setter; any other ``section.KEY`` a capability declares (``Module.settings``, e.g.
``nudge.threshold``, ``digest.send_at``) is checked by its ``SettingSpec`` and stored.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.markup import esc
from bot.modules import SettingSpec
from bot.ports import Role
from bot.router import CommandContext, Router, UsageError
from engine.events import Event
from engine.members.lookup import community_id_of, home_community, member_of_account
from engine.members.moderation import write_audit
from engine.points.days import DEFAULT_ZONE, EXAMPLE_ZONES, ZoneError, parse_zone
from engine.store.community_settings import store_value
from engine.store.models import Community

LANGUAGES = ("en", "zh")
# A section whose keys another module validates: section → that module's command.
SECTION_COMMANDS = {"points": "pointsconfig", "moderation": "modconfig"}
# Settings that need more than /config's own minimum role: the timezone moves every
# member's day (streaks, daily caps), so it is the community admins' call.
SETTING_ROLES = {"timezone": Role.ADMIN}
UNKNOWN_COMMUNITY = "I don't know this community yet: say something first."


def _community(session: Session, event: Event) -> int | None:
    platform = str(event.platform)
    if event.is_private or not event.community_id:
        return home_community(session, platform, event.user_id)
    return community_id_of(session, platform, event.community_id)


async def config_command(ctx: CommandContext, app: Any, router: Router) -> None:
    event = ctx.event
    if not ctx.args:
        settings = await app.store.read(lambda s: _read(s, event))
        if settings is None:
            raise UsageError(UNKNOWN_COMMUNITY)
        shown = {"language": settings.get("language", app.settings.language),
                 "timezone": settings.get("timezone", DEFAULT_ZONE), **settings}
        await ctx.reply("<b>Community settings</b>\n<pre>" + esc(json.dumps(shown, ensure_ascii=False, indent=1))
                        + "</pre>\nChange one: /config language zh · /config timezone Asia/Shanghai"
                        " · /config points.KEY VALUE · /config nudge.KEY VALUE")
        return
    key = ctx.args[0].lower()
    section = key.split(".", 1)[0]
    if "." in key and section in SECTION_COMMANDS:
        spec = router.spec(SECTION_COMMANDS[section])
        if spec is None:
            raise UsageError(f"The {esc(section)} module is not running here.")
        await spec.handler(ctx=ctx)
        return
    declared = {spec.key: spec for module in app.modules for spec in module.settings}
    if key in declared:
        await _declared_command(ctx, app, declared[key])
        return
    if key not in ("language", "timezone"):
        sections = sorted({*SECTION_COMMANDS, *(k.split(".", 1)[0] for k in declared)})
        keys = sorted(k for k in declared if k.split(".", 1)[0] == section)
        raise UsageError((f"Unknown setting {esc(key)}; {esc(section)} settings: {esc(', '.join(keys))}."
                          if keys else "Settings you can change: language (en|zh), timezone (e.g. Asia/Shanghai), "
                          + ", ".join(f"{s}.KEY" for s in sections) + ".") + " Send /config to see them.")
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


async def _declared_command(ctx: CommandContext, app: Any, spec: SettingSpec) -> None:
    """``/config KEY VALUE`` for a key a capability declared (its ``SettingSpec``):
    the spec's role, its validation (the refusal says why), stored and audited."""
    if ctx.role < spec.min_role:
        raise UsageError(f"/config {esc(spec.key)} is for {spec.min_role.name.lower()}s and above.")
    if len(ctx.args) < 2:
        raise UsageError(f"Usage: /config {esc(spec.key)} VALUE — {esc(spec.help)}")
    raw = " ".join(ctx.args[1:])
    try:
        value = spec.clean(raw)
    except ValueError as exc:
        raise UsageError(f"{esc(spec.key)} not changed: {esc(str(exc))}.") from None
    event = ctx.event

    def store(session: Session) -> bool:
        cid = _community(session, event)
        if cid is None:
            return False
        previous = store_value(session, cid, spec.key, value)
        write_audit(session, action=f"config.{spec.key}", at=event.at, community_id=cid,
                    actor_id=member_of_account(session, str(event.platform), event.user_id),
                    details={"value": value, "previous": previous})
        return True

    if not await app.store.write(store):
        raise UsageError(UNKNOWN_COMMUNITY)
    shown = "none" if value is None else str(value)
    await ctx.reply(f"{esc(spec.key)} set to {esc(shown)}.")


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


def _read(session: Session, event: Event) -> dict[str, Any] | None:
    cid = _community(session, event)
    if cid is None:
        return None
    return dict(session.execute(select(Community.settings).where(Community.id == cid)).scalar_one() or {})


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
                   usage="/config [language en|zh | timezone ZONE | SECTION.KEY VALUE]")
