"""``/config``: one command for a community's settings, whichever capability owns them.

``/config`` shows them; ``/config language en|zh`` sets the reply language;
``/config points.KEY VALUE`` is handed to the points module's own validated setter.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.markup import esc
from bot.ports import Role
from bot.router import CommandContext, Router, UsageError
from engine.events import Event
from engine.members.lookup import community_id_of, home_community, member_of_account
from engine.members.moderation import write_audit
from engine.store.models import Community

LANGUAGES = ("en", "zh")
# A section whose keys another module validates: section → that module's command.
SECTION_COMMANDS = {"points": "pointsconfig"}


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
            raise UsageError("I don't know this community yet: say something first.")
        shown = {"language": settings.get("language", app.settings.language), **settings}
        await ctx.reply("<b>Community settings</b>\n<pre>" + esc(json.dumps(shown, ensure_ascii=False, indent=1))
                        + "</pre>\nChange one: /config language zh · /config points.KEY VALUE")
        return
    key = ctx.args[0].lower()
    section = key.split(".", 1)[0]
    if "." in key and section in SECTION_COMMANDS:
        spec = router.spec(SECTION_COMMANDS[section])
        if spec is None:
            raise UsageError(f"The {esc(section)} module is not running here.")
        await spec.handler(ctx=ctx)
        return
    if key != "language":
        raise UsageError("Settings you can change: language (en|zh), "
                         + ", ".join(f"{s}.KEY" for s in SECTION_COMMANDS) + ". Send /config to see them.")
    value = ctx.args[1].lower() if len(ctx.args) > 1 else ""
    if value not in LANGUAGES:
        raise UsageError("Usage: /config language en|zh")
    done = await app.store.write(lambda s: _set_language(s, event, value, app.services.get("points")))
    if not done:
        raise UsageError("I don't know this community yet: say something first.")
    await ctx.reply("Language set to English." if value == "en" else "语言已设为中文。")


def _read(session: Session, event: Event) -> dict[str, Any] | None:
    cid = _community(session, event)
    if cid is None:
        return None
    return dict(session.execute(select(Community.settings).where(Community.id == cid)).scalar_one() or {})


def _set_language(session: Session, event: Event, value: str, points: Any) -> bool:
    cid = _community(session, event)
    if cid is None:
        return False
    if points is not None:  # it caches community settings in the writer (announcement language)
        points.invalidate(cid)
    current = dict(session.execute(select(Community.settings).where(Community.id == cid)).scalar_one() or {})
    previous = current.get("language")
    current["language"] = value
    session.execute(update(Community).where(Community.id == cid).values(settings=current))
    write_audit(session, action="config.language", at=event.at, community_id=cid,
                actor_id=member_of_account(session, str(event.platform), event.user_id),
                details={"value": value, "previous": previous})
    return True


def register(router: Router, app: Any) -> None:
    router.command("config", config_command, min_role=Role.MODERATOR,
                   summary="show or change this community's settings",
                   usage="/config [language en|zh | points.KEY VALUE]")
