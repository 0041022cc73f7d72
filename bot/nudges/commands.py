"""``/nudge`` for the community's staff and ``/nudges off|on`` for members.

Who may do what (checked once: the router checks ``/nudge``'s minimum, moderator; the
sub-commands that need more say so):

* admins: ``/nudge on|off``, ``/nudge resume`` and ``/config nudge.KEY VALUE`` — turning
  nudges on, restarting them and changing the policy (threshold, cap, control fraction,
  ...) are the community owner's decisions;
* moderators: ``/nudge`` (status), ``/nudge pause`` (the emergency brake),
  ``/nudge preview @member``, ``/nudge report``, ``/nudge unreachable``;
* every member: ``/nudges off`` / ``/nudges on`` (also the 🔕 button on every nudge).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from bot.handlers.catalog import Caller, caller, locate
from bot.markup import bold, esc
from bot.nudges.service import NudgeService
from bot.nudges.texts import MESSAGES, format_report, say
from bot.ports import Button, Role
from bot.router import CommandContext, CommandSpec, UsageError
from engine.events import ButtonClicked, Event
from engine.members.lookup import member_brief, resolve_member_in
from engine.members.moderation import write_audit
from engine.nudge.campaign import (
    community_nudge_settings,
    exclusions,
    set_opt_out,
    store_nudge_settings,
    stored_nudge_settings,
    unreachable_members,
)
from engine.nudge.message import parse_click
from engine.nudge.policy import SETTINGS, NudgePolicy, format_quiet, set_flag
from engine.nudge.report import nudge_report
from engine.store.store import Store

USAGE = MESSAGES["nudge.usage"]["en"].removeprefix("Usage: ")
ADMIN_ACTIONS = {"on", "off", "resume"}


async def _language(store: Store, nudges: NudgeService, community_id: int) -> str:
    conf = await store.read(lambda s: community_nudge_settings(s, community_id, nudges.default_language))
    return conf.language


def _need(ctx: CommandContext, role: Role, what: str, lang: str) -> None:
    if ctx.role < role:
        raise UsageError(say(lang, "need_role", what=esc(what), role=say(lang, f"role_{role.name.lower()}")))


async def nudge_command(ctx: CommandContext, store: Store, nudges: NudgeService) -> None:
    """Dispatch ``/nudge`` sub-commands; replies, never raises past UsageError."""
    action = ctx.args[0].lower() if ctx.args else "status"
    where = caller(ctx)
    lang = await _language(store, nudges, where.community_id)
    if action in ADMIN_ACTIONS:
        _need(ctx, Role.ADMIN, action, lang)
    if action == "status":
        await ctx.reply(await _status(store, nudges, where.community_id, lang))
    elif action in ("on", "off", "pause", "resume"):
        flag, value = {"on": ("enabled", True), "off": ("enabled", False),
                       "pause": ("paused", True), "resume": ("paused", False)}[action]
        await _set(store, ctx, where, lambda stored: set_flag(stored, flag, value), f"nudge.{action}")
        await ctx.reply(say(lang, action))
    elif action == "set":  # settings go through /config, like every capability's
        raise UsageError(say(lang, "use_config", keys=esc(", ".join(f"nudge.{s.key}" for s in SETTINGS))))
    elif action == "preview":
        await _preview(ctx, store, nudges, where, lang)
    elif action == "report":
        report = await store.read(lambda s: nudge_report(s, where.community_id, now=ctx.event.at,
                                                         min_per_arm=_policy(s, where.community_id).min_outcomes_per_arm))
        await ctx.reply(format_report(report))
    elif action == "unreachable":
        await _unreachable(ctx, store, where, lang)
    else:
        raise UsageError(say(lang, "usage"))


def _policy(session: Session, community_id: int) -> Any:
    return community_nudge_settings(session, community_id).policy


async def _set(store: Store, ctx: CommandContext, where: Caller, change: Any, action: str) -> None:
    at = ctx.event.at

    def fn(session: Session) -> None:
        before = stored_nudge_settings(session, where.community_id)
        after = change(before)
        store_nudge_settings(session, where.community_id, after)
        write_audit(session, action=action, at=at, community_id=where.community_id, actor_id=where.member_id,
                    details={"before": before, "after": after})

    await store.write(fn)


def _selection(p: NudgePolicy, lang: str) -> str:
    if p.top_percent is not None:
        return say(lang, "by_top", value=f"{p.top_percent:g}")
    return say(lang, "by_threshold", value=f"{p.threshold:g}")


async def _status(store: Store, nudges: NudgeService, community_id: int, lang: str) -> str:
    conf = await store.read(lambda s: community_nudge_settings(s, community_id, nudges.default_language))
    p = conf.policy
    state = "on" if p.active else "paused" if p.enabled and p.paused else "off"
    lines = [say(lang, "status", state=say(lang, f"state_{state}"), who=esc(_selection(p, lang)), cap=p.daily_cap,
                 cooldown=p.cooldown_days, hour=f"{p.local_hour:02d}", quiet=esc(format_quiet(p.quiet_hours)),
                 control=f"{p.control_fraction:.0%}", ranking=esc(p.ranking), minimum=p.min_outcomes_per_arm)]
    if p.quiet_at(p.local_hour):
        lines.append(say(lang, "quiet_run", hour=f"{p.local_hour:02d}"))
    lines.append(say(lang, "change"))
    return "\n".join(lines)


async def _preview(ctx: CommandContext, store: Store, nudges: NudgeService, where: Caller, lang: str) -> None:
    if len(ctx.args) != 2:
        raise UsageError(say(lang, "preview_usage"))
    token = ctx.args[1]
    platform = str(ctx.event.platform)
    member = await store.read(lambda s: resolve_member_in(s, platform, where.community_id, token))
    if member is None:
        raise UsageError(say(lang, "unknown_member", who=esc(token)))
    now = ctx.event.at
    msg = await nudges.preview(where.community_id, member, now=now)

    def eligibility(session: Session) -> str:
        conf = community_nudge_settings(session, where.community_id)
        reason = exclusions(session, where.community_id, [member], now, conf.policy.cooldown_days).get(member)
        return say(lang, "skipped", reason=say(lang, f"reason_{reason}")) if reason else say(lang, "can_nudge")

    status = await store.read(eligibility)
    brief = await store.read(lambda s: member_brief(s, member, platform))
    name = bold(brief.display_name if brief else token)
    await ctx.reply(say(lang, "preview", name=name, status=esc(status), message=msg.text),
                    buttons=[Button(b.label, url=b.url) if b.url else Button(b.label, data="nudge:0:stop")
                             for b in msg.buttons])


async def _unreachable(ctx: CommandContext, store: Store, where: Caller, lang: str) -> None:
    since = ctx.event.at - timedelta(days=30)
    platform = str(ctx.event.platform)

    def read(session: Session) -> list[str]:
        names = []
        for m in unreachable_members(session, where.community_id, since)[:50]:
            brief = member_brief(session, m, platform)
            names.append(brief.display_name if brief else say(lang, "member_n", id=m))
        return names

    names = await store.read(read)
    if not names:
        await ctx.reply(say(lang, "no_bounces"))
        return
    await ctx.reply("\n".join([say(lang, "bounced"), *(f"• {esc(n)}" for n in names)]))


async def nudges_command(ctx: CommandContext, store: Store, nudges: NudgeService) -> None:
    """``/nudges off|on``: a member's own choice, for every community."""
    where = caller(ctx)
    lang = await _language(store, nudges, where.community_id)
    if len(ctx.args) != 1 or ctx.args[0].lower() not in ("on", "off"):
        raise UsageError(say(lang, "nudges_usage"))
    off = ctx.args[0].lower() == "off"
    at = ctx.event.at
    changed = await store.write(lambda s: set_opt_out(s, where.member_id, off, at))
    if off:
        await ctx.reply(say(lang, "opted_out" if changed else "already_out"))
    else:
        await ctx.reply(say(lang, "opted_in" if changed else "already_in"))


async def confirm_stop(event: Event, messenger: Any, store: Store, nudges: NudgeService) -> None:
    """After a 🔕 click is stored (by the projection), confirm it in the chat."""
    if not isinstance(event, ButtonClicked):
        return
    parsed = parse_click(event.data)
    if parsed is None or parsed[1] != "stop":
        return
    where = await store.read(lambda s: locate(s, event))
    lang = await _language(store, nudges, where.community_id) if where is not None else nudges.default_language
    await messenger.reply(event, say(lang, "stopped"))


COMMANDS = (
    CommandSpec("nudge", nudge_command, Role.MODERATOR, "nudges to members at churn risk (status, preview, report)",
                USAGE),
    CommandSpec("nudges", nudges_command, Role.MEMBER, "turn my nudges off or on", "/nudges off|on"),
)
