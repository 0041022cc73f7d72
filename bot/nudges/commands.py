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

from bot.handlers.catalog import Caller, caller_of
from bot.markup import bold, esc
from bot.nudges.service import NudgeService
from bot.nudges.texts import format_report
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
from engine.nudge.policy import SETTINGS, format_quiet, set_flag
from engine.nudge.report import nudge_report
from engine.store.store import Store

USAGE = "/nudge [on|off|pause|resume|preview @member|report|unreachable] · settings: /config nudge.KEY VALUE"
ADMIN_ACTIONS = {"on", "off", "resume"}


def _need(ctx: CommandContext, role: Role, what: str) -> None:
    if ctx.role < role:
        raise UsageError(f"/nudge {esc(what)} is for {role.name.lower()}s and above.")


async def nudge_command(ctx: CommandContext, store: Store, nudges: NudgeService) -> None:
    """Dispatch ``/nudge`` sub-commands; replies, never raises past UsageError."""
    action = ctx.args[0].lower() if ctx.args else "status"
    where = await caller_of(store, ctx.event)
    if action in ADMIN_ACTIONS:
        _need(ctx, Role.ADMIN, action)
    if action == "status":
        await ctx.reply(await _status(store, where.community_id))
    elif action in ("on", "off", "pause", "resume"):
        flag, value = {"on": ("enabled", True), "off": ("enabled", False),
                       "pause": ("paused", True), "resume": ("paused", False)}[action]
        await _set(store, ctx, where, lambda stored: set_flag(stored, flag, value), f"nudge.{action}")
        await ctx.reply({"on": "Nudges are on: each day at the local hour members at churn risk get one DM, "
                               "and a random control group does not (so the effect is measured). "
                               "/nudge preview @member shows what they would get.",
                         "off": "Nudges are off. Nothing is sent; past results stay in /nudge report.",
                         "pause": "Nudges are paused: nothing more is sent until an admin sends /nudge resume.",
                         "resume": "Nudges resume at the next local run hour."}[action])
    elif action == "set":  # settings go through /config, like every capability's
        keys = ", ".join(f"nudge.{s.key}" for s in SETTINGS)
        raise UsageError(f"Use /config nudge.KEY VALUE (admins) — keys: {esc(keys)}")
    elif action == "preview":
        await _preview(ctx, store, nudges, where)
    elif action == "report":
        report = await store.read(lambda s: nudge_report(s, where.community_id, now=ctx.event.at,
                                                         min_per_arm=_policy(s, where.community_id).min_outcomes_per_arm))
        await ctx.reply(format_report(report))
    elif action == "unreachable":
        await _unreachable(ctx, store, where)
    else:
        raise UsageError(f"Usage: {esc(USAGE)}")


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


async def _status(store: Store, community_id: int) -> str:
    conf = await store.read(lambda s: community_nudge_settings(s, community_id))
    p = conf.policy
    state = "on" if p.active else "paused" if p.enabled and p.paused else "off"
    return (f"<b>Nudges: {state}</b>\n"
            f"who: {esc(p.describe_selection())}, at most {p.daily_cap} a day, each member at most once every "
            f"{p.cooldown_days} days\n"
            f"when: {p.local_hour:02d}:00 local, quiet hours {esc(format_quiet(p.quiet_hours))}\n"
            f"control group: {p.control_fraction:.0%} of flagged members (not messaged, for measuring)\n"
            f"ranking: {esc(p.ranking)} (uplift once {p.min_outcomes_per_arm} outcomes per arm)"
            + (f"\n⚠ the daily run at {p.local_hour:02d}:00 falls inside the quiet hours, so nothing is sent: "
               "change nudge.local_hour or nudge.quiet_hours" if p.quiet_at(p.local_hour) else "")
            + "\nchange: /config nudge.KEY VALUE")


async def _preview(ctx: CommandContext, store: Store, nudges: NudgeService, where: Caller) -> None:
    if len(ctx.args) != 2:
        raise UsageError("Usage: /nudge preview @member")
    token = ctx.args[1]
    platform = str(ctx.event.platform)
    member = await store.read(lambda s: resolve_member_in(s, platform, where.community_id, token))
    if member is None:
        raise UsageError(f"I don't know {esc(token)} in this community.")
    now = ctx.event.at
    msg = await nudges.preview(where.community_id, member, now=now)

    def eligibility(session: Session) -> str:
        conf = community_nudge_settings(session, where.community_id)
        reason = exclusions(session, where.community_id, [member], now, conf.policy.cooldown_days).get(member)
        return "would be skipped today: " + reason.replace("_", " ") if reason else "can be nudged"

    status = await store.read(eligibility)
    brief = await store.read(lambda s: member_brief(s, member, platform))
    name = bold(brief.display_name if brief else token)
    await ctx.reply(f"Preview for {name} ({esc(status)}; nothing sent):\n\n{msg.text}",
                    buttons=[Button(b.label, url=b.url) if b.url else Button(b.label, data="nudge:0:stop")
                             for b in msg.buttons])


async def _unreachable(ctx: CommandContext, store: Store, where: Caller) -> None:
    since = ctx.event.at - timedelta(days=30)
    platform = str(ctx.event.platform)

    def read(session: Session) -> list[str]:
        names = []
        for m in unreachable_members(session, where.community_id, since)[:50]:
            brief = member_brief(session, m, platform)
            names.append(brief.display_name if brief else f"member {m}")
        return names

    names = await store.read(read)
    if not names:
        await ctx.reply("No nudge bounced in the last 30 days.")
        return
    await ctx.reply("<b>Members a nudge could not reach</b> (DMs closed or the bot blocked; not retried):\n"
                    + "\n".join(f"• {esc(n)}" for n in names))


async def nudges_command(ctx: CommandContext, store: Store) -> None:
    """``/nudges off|on``: a member's own choice, for every community."""
    if len(ctx.args) != 1 or ctx.args[0].lower() not in ("on", "off"):
        raise UsageError("Usage: /nudges off (no more reminders from me) or /nudges on")
    off = ctx.args[0].lower() == "off"
    where = await caller_of(store, ctx.event)
    at = ctx.event.at
    changed = await store.write(lambda s: set_opt_out(s, where.member_id, off, at))
    if off:
        await ctx.reply("Done: I won't send you nudges any more" if changed else "You had already turned nudges off."
                        " /nudges on brings them back.")
    else:
        await ctx.reply("Nudges are on again for you." if changed else "Nudges were already on for you.")


async def confirm_stop(event: Event, messenger: Any) -> None:
    """After a 🔕 click is stored (by the projection), confirm it in the chat."""
    if not isinstance(event, ButtonClicked):
        return
    parsed = parse_click(event.data)
    if parsed is None or parsed[1] != "stop":
        return
    await messenger.reply(event, "OK — no more nudges from me. Send /nudges on any time to get them back.")


COMMANDS = (
    CommandSpec("nudge", nudge_command, Role.MODERATOR, "nudges to members at churn risk (status, preview, report)",
                USAGE),
    CommandSpec("nudges", nudges_command, Role.MEMBER, "turn my nudges off or on", "/nudges off|on"),
)
