"""Moderation: Cohort's own moderator list (``/mod``), warnings (``/warn``, ``/warns``,
``/unwarn``), the audit log (``/audit`` = ``/modlog``), platform actions (``/mute``,
``/unmute``, ``/ban``, ``/unban``, ``/kick``, ``/purge``) and ``/modconfig``.

Members are named by ``@username``, a platform user id, a Discord mention, or by replying
to their message. Commands sent in a private chat act on the caller's home community.
Every named target goes through :meth:`bot.roles.RoleResolver.ensure_outranks` (the rank
rule) before anything is done; a refusal writes nothing.

Platform actions need a messenger declaring ``Capability.MODERATE`` (:class:`Moderating`);
the platform's refusal (no rights, ...) is replied as is and nothing is audited. A mute or
ban the platform will not end by itself (Discord has no timed bans) is recorded with
``cohort_lifts`` and lifted by :func:`lift_due` (a scheduled job).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.handlers import automod, filters, link_filters, welcome
from bot.handlers.moderation_messages import MESSAGES
from bot.handlers.privacy import caller_member, clock
from bot.markup import bold, esc
from bot.modules import EventHandler, Every, JobSpec, Module, legacy
from bot.notifier import OutboxNotifier
from bot.notify import Delivery, Notification, Notifier, Purpose
from bot.ports import (
    Capability,
    ChatRef,
    Messenger,
    Moderating,
    PlatformError,
    Role,
    Unsupported,
)
from bot.roles import RoleResolver
from bot.router import CommandContext, Router, UsageError
from engine.args import ArgError, excerpt, is_ascii_id, looks_like_duration, parse_duration, parse_int
from engine.events import ButtonClicked, CommandInvoked, MemberJoined, MessagePosted
from engine.members.lookup import (
    MemberBrief,
    community_ext_of,
    community_id_of,
    home_community,
    member_brief,
    resolve_member_in,
)
from engine.members.moderation import (
    MEMBER_ROLE,
    MODERATOR_ROLE,
    AuditLine,
    moderators,
    recent_audit,
    set_role,
    write_audit,
)
from engine.moderation import service
from engine.moderation.settings import KEYS, SettingError, moderation_settings, set_setting
from engine.points.days import zone_of
from engine.store.models import Chat, Community, CommunityMember, Message, Thread
from engine.store.store import Store

log = logging.getLogger(__name__)

AUDIT_DEFAULT = 10
AUDIT_MAX = 50
PURGE_MAX = 100
# Telegram keeps restrictions up to 366 days; a year is the longest anyone is asked for.
LONGEST = timedelta(days=365)

# Cohort's stored role ints must match the bot's Role values.
assert MODERATOR_ROLE == Role.MODERATOR and MEMBER_ROLE == Role.MEMBER


async def _community(store: Store, ctx: CommandContext) -> int:
    """The community the command acts on; raises UsageError when there is none."""
    ev = ctx.event
    platform = str(ev.platform)
    if ev.is_private:
        found = await store.read(lambda s: home_community(s, platform, ev.user_id))
    else:
        found = await store.read(lambda s: community_id_of(s, platform, ev.community_id))
    if found is None:
        raise UsageError("Use this in your community's chat.")
    return found


def _is_member_token(token: str) -> bool:
    is_id = is_ascii_id(token)
    return token.startswith("@") or is_id or (token.startswith("<@") and token.endswith(">"))


def _split_target(ctx: CommandContext, args: tuple[str, ...]) -> tuple[str | None, tuple[str, ...]]:
    """(member token, remaining args): an explicit token first, else the replied-to user."""
    if args and _is_member_token(args[0]):
        return args[0], args[1:]
    if ctx.event.reply_to_user_id:
        return ctx.event.reply_to_user_id, args
    if args and not looks_like_duration(args[0]):  # another platform's id format (the console's names)
        return args[0], args[1:]
    return None, args


async def _target(store: Store, roles: RoleResolver, ctx: CommandContext, community_id: int,
                  token: str | None, verb: str) -> MemberBrief:
    """The named member, or UsageError for nobody named, unknown, a bot, oneself, or
    someone who ranks at or above the caller (the rank rule, :mod:`bot.roles`)."""
    if not token:
        raise UsageError(f"Who? Name a member (@username or user id) or reply to their message to {verb} them.")
    platform = str(ctx.event.platform)

    def find(session: Session) -> MemberBrief | None:
        member_id = resolve_member_in(session, platform, community_id, token)
        return member_brief(session, member_id, platform) if member_id is not None else None

    target = await store.read(find)
    if target is None:
        raise UsageError(f"I don't know {esc(excerpt(token))} in this community.")
    if target.is_bot:
        raise UsageError(f"{esc(target.display_name)} is a bot; I can't {verb} bots.")
    me = await caller_member(store, ctx.event)
    if target.member_id == me:
        raise UsageError(f"You can't {verb} yourself.")
    await roles.ensure_outranks(ctx, community_id, target.member_id, target.display_name, actor_member_id=me)
    return target


def _zone(store_settings: dict[str, Any] | None) -> ZoneInfo:
    zone = zone_of(store_settings)
    return zone if isinstance(zone, ZoneInfo) else ZoneInfo("UTC")


async def _local(store: Store, community_id: int, at: datetime) -> str:
    """``at`` in the community's timezone, e.g. ``2026-03-02 18:00 Asia/Shanghai``."""
    stored = await store.read(lambda s: s.execute(
        select(Community.settings).where(Community.id == community_id)).scalar_one_or_none())
    zone = _zone(stored)
    return f"{at.astimezone(zone):%Y-%m-%d %H:%M} {zone.key}"


async def _when(store: Store, community_id: int, at: datetime) -> str:
    """``at`` in UTC, and in the community's timezone when that is another."""
    local = await _local(store, community_id, at)
    utc = f"{at.astimezone(ZoneInfo('UTC')):%Y-%m-%d %H:%M} UTC"
    return utc if local == utc else f"{utc} ({local})"


_TOLD = {
    Delivery.SENT: "I've told them privately.",
    Delivery.OPTED_OUT: "They opted out of private messages, so I didn't message them.",
    Delivery.UNREACHABLE: "I couldn't message them privately (they have not opened a chat with me).",
    Delivery.FAILED: "Messaging them privately failed.",
}


async def _tell_member(notifier: Notifier, target: MemberBrief, community_id: int, key: str, text: str) -> str:
    """DM the member through the Notifier (opt-out, reachability and pacing respected; the
    key makes a retried warning one DM); returns a note for the moderator."""
    delivery = await notifier.notify(Notification(key, target.member_id, community_id, Purpose.MODERATION, text))
    return _TOLD[delivery]


# -- /mod -------------------------------------------------------------------------------------
async def mod(ctx: CommandContext, store: Store, roles: RoleResolver, app: Any) -> None:
    sub = ctx.args[0].lower() if ctx.args else "list"
    community_id = await _community(store, ctx)
    if sub == "list":
        mods = await store.read(lambda s: moderators(s, community_id))
        if not mods:
            await ctx.reply("Cohort's moderator list is empty. Add someone with /mod add @member.")
            return
        await ctx.reply("<b>Cohort moderators</b>\n" + "\n".join(f"• {esc(name)}" for _, name in mods))
        return
    if sub not in ("add", "remove"):
        raise UsageError("Usage: /mod add @member, /mod remove @member or /mod list")
    token, _ = _split_target(ctx, ctx.args[1:])
    target = await _target(store, roles, ctx, community_id, token, "change the role of")
    actor = await caller_member(store, ctx.event)
    role = MODERATOR_ROLE if sub == "add" else MEMBER_ROLE
    now = clock(app)
    changed = await store.write(
        lambda s: set_role(s, community_id, target.member_id, role, actor_id=actor, at=now)
    )
    name = bold(target.display_name)
    if sub == "add":
        await ctx.reply(f"{name} is now a Cohort moderator." if changed else f"{name} is already a moderator.")
    else:
        await ctx.reply(f"{name} is no longer a Cohort moderator." if changed
                        else f"{name} isn't on Cohort's moderator list.")


# -- platform actions ---------------------------------------------------------------------------
def _moderating(ctx: CommandContext, verb: str) -> Moderating:
    messenger = ctx.messenger
    if Capability.MODERATE not in messenger.capabilities or not isinstance(messenger, Moderating):
        raise UsageError(f"I can't {verb} members on {esc(ctx.event.platform)}. Please use its own "
                         "moderation tools; /warn records a warning in Cohort's audit log.")
    return messenger


async def _where(store: Store, ctx: CommandContext, community_id: int) -> str:
    """The platform's id of the community (a command sent privately names none)."""
    where: str | None = ctx.event.community_id
    if ctx.event.is_private or not where:
        where = await store.read(lambda s: community_ext_of(s, community_id))
    if not where:
        raise UsageError("Use this in your community's chat.")
    return where


def _refused(exc: Exception) -> UsageError:
    return UsageError(f"The platform refused: {esc(exc)}. Nothing was changed.")


async def _audit(store: Store, app: Any, action: str, community_id: int, actor: int | None,
                 target: int | None, details: dict[str, Any]) -> None:
    now = clock(app)
    await store.write(lambda s: write_audit(s, action=action, at=now, community_id=community_id,
                                            actor_id=actor, target_member_id=target, details=details))


async def apply_mute(store: Store, app: Any, messenger: Moderating, community_id: int, where: str,
                     target: MemberBrief, *, until: datetime | None, reason: str, actor: int | None,
                     source: str = "moderator") -> datetime | None:
    """Mute on the platform, record the restriction and audit it; returns the real end.
    Raises PlatformError when the platform refuses (nothing recorded)."""
    assert target.user_ext is not None  # resolved on this platform, so it has an account here
    effective = await messenger.mute(where, target.user_ext, until=until, reason=reason)
    end = effective if isinstance(effective, datetime) else until
    now = clock(app)
    details: dict[str, Any] = {"reason": reason} if reason else {}
    if end is not None:
        details["until"] = end.isoformat()
    if source != "moderator":
        details["source"] = source

    def record(s: Session) -> None:
        service.record_restriction(s, community_id, target.member_id, "mute", at=now, until=end,
                                   cohort_lifts=False)
        write_audit(s, action="mute", at=now, community_id=community_id, actor_id=actor,
                    target_member_id=target.member_id, details=details)

    await store.write(record)
    return end


def _take_duration(rest: tuple[str, ...], verb: str) -> tuple[timedelta | None, tuple[str, ...]]:
    if rest and looks_like_duration(rest[0]):
        try:
            return parse_duration(rest[0], hi=LONGEST, what=f"the {verb} duration"), rest[1:]
        except ArgError as exc:
            raise UsageError(esc(_capital(str(exc))) + " Nothing was changed.") from None
    return None, rest


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


@dataclass(frozen=True, slots=True)
class _Aim:
    """A platform action's subject, checked: who acts, on whom, where, and the rest of the args."""

    messenger: Moderating
    community_id: int
    target: MemberBrief
    user_ext: str
    where: str
    length: timedelta | None
    rest: tuple[str, ...]

    @property
    def reason(self) -> str:
        return " ".join(self.rest).strip()[:500]


async def _aim(ctx: CommandContext, store: Store, roles: RoleResolver, verb: str, *,
               timed: bool = False) -> _Aim:
    """Everything a platform action checks before it acts (raises UsageError, nothing done):
    the platform can moderate, the community, the target and the rank rule, a duration."""
    messenger = _moderating(ctx, verb)
    community_id = await _community(store, ctx)
    token, rest = _split_target(ctx, ctx.args)
    length, rest = _take_duration(rest, verb) if timed else (None, rest)
    target = await _target(store, roles, ctx, community_id, token, verb)
    where = await _where(store, ctx, community_id)
    assert target.user_ext is not None  # resolved on this platform, so it has an account here
    return _Aim(messenger, community_id, target, target.user_ext, where, length, rest)


async def _lift(ctx: CommandContext, store: Store, roles: RoleResolver, app: Any, kind: str) -> MemberBrief:
    """``/unmute`` or ``/unban``: lift on the platform, then record and audit it."""
    aim = await _aim(ctx, store, roles, f"un{kind}")
    lift = aim.messenger.unmute if kind == "mute" else aim.messenger.unban
    try:
        await lift(aim.where, aim.user_ext)
    except (Unsupported, PlatformError) as exc:
        raise _refused(exc) from exc
    actor, now = await caller_member(store, ctx.event), clock(app)

    def record(s: Session) -> None:
        service.lift_restrictions(s, aim.community_id, aim.target.member_id, kind, at=now)
        write_audit(s, action=f"un{kind}", at=now, community_id=aim.community_id, actor_id=actor,
                    target_member_id=aim.target.member_id, details={})

    await store.write(record)
    return aim.target


async def _report_until(ctx: CommandContext, store: Store, aim: _Aim, end: datetime | None, state: str,
                        for_good: str) -> None:
    name = bold(aim.target.display_name)
    if end is None:
        await ctx.reply(f"{name} {for_good}")
    else:
        await ctx.reply(f"{name} is {state} until {await _when(store, aim.community_id, end)}.")


async def mute(ctx: CommandContext, store: Store, roles: RoleResolver, app: Any) -> None:
    aim = await _aim(ctx, store, roles, "mute", timed=True)
    until = clock(app) + aim.length if aim.length else None
    try:
        end = await apply_mute(store, app, aim.messenger, aim.community_id, aim.where, aim.target, until=until,
                               reason=aim.reason, actor=await caller_member(store, ctx.event))
    except (Unsupported, PlatformError) as exc:
        raise _refused(exc) from exc
    await _report_until(ctx, store, aim, end, "muted", "is muted until a moderator lifts it.")


async def unmute(ctx: CommandContext, store: Store, roles: RoleResolver, app: Any) -> None:
    target = await _lift(ctx, store, roles, app, "mute")
    await ctx.reply(f"{bold(target.display_name)} can speak again.")


async def ban(ctx: CommandContext, store: Store, roles: RoleResolver, app: Any) -> None:
    aim = await _aim(ctx, store, roles, "ban", timed=True)
    community_id, target = aim.community_id, aim.target
    now = clock(app)
    standing = await store.read(lambda s: service.active_restriction(s, community_id, target.member_id, "ban", now))
    if standing is not None and aim.length is None and standing.until is None:
        await ctx.reply(f"{bold(target.display_name)} is already banned. Nothing was changed.")
        return
    until = now + aim.length if aim.length else None
    try:
        ends = await aim.messenger.ban(aim.where, aim.user_ext, reason=aim.reason, until=until)
    except (Unsupported, PlatformError) as exc:
        raise _refused(exc) from exc
    end = ends if isinstance(ends, datetime) else until
    cohort_lifts = until is not None and ends is None  # the platform has no timed bans
    actor = await caller_member(store, ctx.event)
    details: dict[str, Any] = {"reason": aim.reason} if aim.reason else {}
    if end is not None:
        details["until"] = end.isoformat()

    def record(s: Session) -> None:
        service.record_restriction(s, community_id, target.member_id, "ban", at=now, until=end,
                                   cohort_lifts=cohort_lifts)
        write_audit(s, action="ban", at=now, community_id=community_id, actor_id=actor,
                    target_member_id=target.member_id, details=details)

    await store.write(record)
    await _report_until(ctx, store, aim, end, "banned", "is banned.")


async def unban(ctx: CommandContext, store: Store, roles: RoleResolver, app: Any) -> None:
    target = await _lift(ctx, store, roles, app, "ban")
    await ctx.reply(f"{bold(target.display_name)} is no longer banned and may join again.")


async def kick(ctx: CommandContext, store: Store, roles: RoleResolver, app: Any) -> None:
    aim = await _aim(ctx, store, roles, "kick")
    community_id, member_id = aim.community_id, aim.target.member_id
    left = await store.read(lambda s: s.execute(select(CommunityMember.left_at).where(
        CommunityMember.community_id == community_id, CommunityMember.member_id == member_id)).scalar_one_or_none())
    if left is not None:  # the platform would answer "done" for nobody, and the audit would say kicked
        raise UsageError(ctx.t("kick.left", name=bold(aim.target.display_name)))
    try:
        await aim.messenger.kick(aim.where, aim.user_ext, reason=aim.reason)
    except (Unsupported, PlatformError) as exc:
        raise _refused(exc) from exc
    await _audit(store, app, "kick", aim.community_id, await caller_member(store, ctx.event), aim.target.member_id,
                 {"reason": aim.reason} if aim.reason else {})
    await ctx.reply(f"{bold(aim.target.display_name)} was removed; they may come back with an invite.")


def _recent_messages(session: Session, ev: Any, limit: int) -> list[tuple[int, str, datetime]]:
    """The chat's (or topic's) latest ``limit`` stored messages, newest first: (row id, platform id, posted)."""
    query = (select(Message.id, Message.external_id, Message.posted_at)
             .join(Chat, Chat.id == Message.chat_id)
             .where(Chat.platform == str(ev.platform), Chat.external_id == ev.chat_id,
                    Message.deleted_at.is_(None)))
    if ev.thread_id:
        query = query.join(Thread, Thread.id == Message.thread_id).where(Thread.external_id == ev.thread_id)
    rows = session.execute(query.order_by(Message.posted_at.desc(), Message.id.desc()).limit(limit)).all()
    return [(int(r[0]), str(r[1]), r[2]) for r in rows]


async def purge(ctx: CommandContext, store: Store, app: Any) -> None:
    """``/purge N``: delete the last N messages before the command (and the command)."""
    messenger = _moderating(ctx, "delete messages of")
    ev = ctx.event
    if ev.is_private:
        raise UsageError("Use /purge in the chat to clean up.")
    if len(ctx.args) != 1:
        raise UsageError(f"Usage: /purge N — deletes the last N messages here (1 to {PURGE_MAX}).")
    try:
        count = parse_int(ctx.args[0], lo=1, hi=PURGE_MAX, what="N")
    except ArgError as exc:
        raise UsageError(esc(str(exc)) + " Nothing was deleted.") from None
    community_id = await _community(store, ctx)
    rows = [r for r in await store.read(lambda s: _recent_messages(s, ev, count + 1))
            if r[1] != ev.message_id][:count]
    command = [(ev.message_id, ev.at)] if ev.message_id else []  # commands are not stored as messages
    try:
        done = await messenger.delete_messages(ChatRef.of(ev), command + [(ext, at) for _, ext, at in rows])
    except (Unsupported, PlatformError) as exc:
        raise _refused(exc) from exc
    gone = [row_id for row_id, _, _ in rows[:max(0, done.deleted - len(command))]]  # too-old ones are oldest
    now = clock(app)
    actor = await caller_member(store, ev)

    def record(s: Session) -> None:
        if gone:
            s.execute(update(Message).where(Message.id.in_(gone)).values(deleted_at=now))
        write_audit(s, action="purge", at=now, community_id=community_id, actor_id=actor,
                    details={"chat": ev.chat_id, "asked": count, "deleted": done.deleted, "too_old": done.too_old})

    await store.write(record)
    note = f" {done.too_old} were too old for the platform to let me delete." if done.too_old else ""
    text = f"Deleted {done.deleted} message{'s' if done.deleted != 1 else ''} (your command included).{note}"
    try:
        await ctx.messenger.send(ChatRef.of(ev), text)  # the command itself is gone: no reply-to
    except PlatformError:
        log.warning("purge: could not confirm in %s", ev.chat_id)


# -- warnings ---------------------------------------------------------------------------------
async def warn(ctx: CommandContext, store: Store, roles: RoleResolver, messenger: Messenger, notifier: Notifier,
               app: Any) -> None:
    community_id = await _community(store, ctx)
    token, rest = _split_target(ctx, ctx.args)
    target = await _target(store, roles, ctx, community_id, token, "warn")
    reason = " ".join(rest).strip()
    if not reason:
        raise UsageError("Add a reason: /warn @member reason")
    actor = await caller_member(store, ctx.event)
    await issue_warning(ctx, store, app, messenger, notifier, community_id, target, reason, actor)


async def issue_warning(ctx: CommandContext | None, store: Store, app: Any, messenger: Messenger,
                        notifier: Notifier, community_id: int, target: MemberBrief, reason: str, actor: int | None,
                        *, where: str | None = None, source: str = "moderator", title: str = "") -> str:
    """Record a warning, mute at the community's threshold, tell the member; returns the
    moderator-facing summary (also replied when ``ctx`` is given)."""
    now = clock(app)
    settings = await store.read(lambda s: moderation_settings(s, community_id))
    warning_id, active = await store.write(lambda s: service.add_warning(
        s, community_id, target.member_id, actor, reason, at=now, settings=settings, source=source))
    if not title:  # the community's name, not the channel's
        named = await store.read(lambda s: s.execute(select(Community.title, Community.external_id).where(
            Community.id == community_id)).first())
        title = (named[0] or named[1]) if named else ""
    title = title or "your community"
    escalated = ""
    if settings.warn_mute_at and active >= settings.warn_mute_at and isinstance(messenger, Moderating) \
            and Capability.MODERATE in messenger.capabilities:
        place = where or (await _where(store, ctx, community_id) if ctx else None)
        if place:
            try:
                end = await apply_mute(store, app, messenger, community_id, place, target,
                                       until=now + timedelta(minutes=settings.warn_mute_minutes),
                                       reason=f"{active} active warnings", actor=None, source="warnings")
                escalated = (f" That is {active} active warnings: muted until "
                             f"{await _local(store, community_id, end) if end else 'lifted'}.")
            except (Unsupported, PlatformError) as exc:
                escalated = f" That is {active} active warnings, but muting failed: {esc(exc)}."
    note = await _tell_member(notifier, target, community_id, f"warn:{warning_id}",
                              f"You received a warning from the moderators of {esc(title)}:\n<i>{esc(reason)}</i>"
                              f"\nActive warnings: {active} (each expires after {settings.warn_expiry_days} days)."
                              + (f"\nAt {settings.warn_mute_at} you are muted automatically." if settings.warn_mute_at
                                 and not escalated else "") + escalated.replace(" That is", "\nThat is"))
    summary = (f"Warning recorded for {bold(target.display_name)} ({active} active).{escalated} {note}")
    if ctx is not None:
        await ctx.reply(summary)
    return summary


async def warns(ctx: CommandContext, store: Store, roles: RoleResolver, app: Any) -> None:
    """``/warns`` (yours) or ``/warns @member`` (moderators)."""
    community_id = await _community(store, ctx)
    token, _ = _split_target(ctx, ctx.args)
    platform = str(ctx.event.platform)
    if token is None:
        me = await caller_member(store, ctx.event)
        if me is None:
            raise UsageError("You have no warnings here.")
        target = await store.read(lambda s: member_brief(s, me, platform))
        assert target is not None
    else:
        if ctx.role < Role.MODERATOR:
            raise UsageError("Only moderators can see another member's warnings; /warns shows yours.")
        found = await store.read(lambda s: (lambda mid: member_brief(s, mid, platform) if mid else None)(
            resolve_member_in(s, platform, community_id, token)))
        if found is None:
            raise UsageError(f"I don't know {esc(excerpt(token))} in this community.")
        target = found
    now = clock(app)
    lines = await store.read(lambda s: service.active_warnings(s, community_id, target.member_id, now))
    if not lines:
        await ctx.reply(f"{bold(target.display_name)} has no active warnings.")
        return
    rows = [f"#{w.id} · {await _local(store, community_id, w.at)} · {esc(w.actor or 'system')}: "
            f"{esc(w.reason)} (expires {w.expires_at:%Y-%m-%d})" for w in lines]
    await ctx.reply(f"<b>Active warnings of {esc(target.display_name)}: {len(lines)}</b>\n" + "\n".join(rows))


async def unwarn(ctx: CommandContext, store: Store, roles: RoleResolver, app: Any) -> None:
    """``/unwarn @member [id]``: revoke one warning (the latest by default)."""
    community_id = await _community(store, ctx)
    token, rest = _split_target(ctx, ctx.args)
    target = await _target(store, roles, ctx, community_id, token, "unwarn")
    warning_id = None
    if rest:
        try:
            warning_id = parse_int(rest[0].lstrip("#"), lo=1, hi=10**9 - 1, what="The warning id")
        except ArgError as exc:
            raise UsageError(esc(str(exc)) + " See /warns @member for the ids.") from None
    actor, now = await caller_member(store, ctx.event), clock(app)
    revoked = await store.write(lambda s: service.revoke_warning(
        s, community_id, target.member_id, warning_id, actor_id=actor, at=now))
    if revoked is None:
        raise UsageError(f"{esc(target.display_name)} has no active warning"
                         + (f" #{warning_id}." if warning_id else "s.") + " Nothing was changed.")
    await ctx.reply(f"Warning #{revoked} of {bold(target.display_name)} revoked.")


# -- /audit, /modlog --------------------------------------------------------------------------
def _describe(line: AuditLine, zone: ZoneInfo) -> str:
    who = esc(line.actor) if line.actor else "<i>system</i>"
    whom = f" → {esc(line.target)}" if line.target else ""
    if line.target is None and line.details.get("redacted"):
        whom = " → <i>forgotten member</i>"
    why = line.details.get("reason")
    extra = f" — “{esc(why)}”" if why else ""
    if "value" in line.details:
        extra += f" = {esc(line.details['value'])}"
    return f"{line.at.astimezone(zone):%Y-%m-%d %H:%M} · {who}: {esc(line.action)}{whom}{extra}"


async def audit(ctx: CommandContext, store: Store) -> None:
    """``/audit [@member] [n]`` (also ``/modlog``): newest first, in the community's timezone."""
    args = list(ctx.args)
    limit = AUDIT_DEFAULT
    if args and (looks_like_duration(args[-1]) and not args[-1].startswith("<@")) and not (
            len(args) == 1 and len(args[0]) >= 15 and is_ascii_id(args[0])):  # a snowflake
        try:
            limit = parse_int(args.pop(), lo=1, hi=AUDIT_MAX, what="how many entries")
        except ArgError as exc:
            raise UsageError(esc(_capital(str(exc))) + " Usage: /modlog [@member] [n].") from None
    community_id = await _community(store, ctx)
    member_id = None
    if args:
        found = await store.read(lambda s: resolve_member_in(s, str(ctx.event.platform), community_id, args[0]))
        if found is None:
            raise UsageError(f"I don't know {esc(excerpt(args[0]))} in this community.")
        member_id = found
    lines = await store.read(lambda s: recent_audit(s, community_id, limit, member_id=member_id))
    if not lines:
        await ctx.reply("The audit log is empty." if member_id is None else "Nothing in the audit log about them.")
        return
    stored = await store.read(lambda s: s.execute(
        select(Community.settings).where(Community.id == community_id)).scalar_one_or_none())
    zone = _zone(stored)
    await ctx.reply(f"<b>Audit log (newest first, {esc(zone.key)})</b>\n"
                    + "\n".join(_describe(line, zone) for line in lines))


# -- /modconfig -------------------------------------------------------------------------------
async def modconfig(ctx: CommandContext, store: Store, app: Any) -> None:
    """``/config moderation.KEY VALUE`` (or ``/modconfig``): validated and audited. /config
    hands its ctx on; so it is registered bound to the store and app (see :func:`register`)."""
    community_id = await _community(store, ctx)
    if len(ctx.args) < 2:
        current = await store.read(lambda s: moderation_settings(s, community_id))
        shown = "\n".join(f"moderation.{k} = {getattr(current, k)}" for k in KEYS)
        await ctx.reply(f"<b>Moderation settings</b>\n{esc(shown)}\nChange one: /config moderation.KEY VALUE")
        return
    key = ctx.args[0].lower().removeprefix("moderation.")
    actor, now = await caller_member(store, ctx.event), clock(app)
    try:
        value = await store.write(lambda s: set_setting(s, community_id, key, ctx.args[1],
                                                         actor_id=actor, at=now))
    except SettingError as exc:
        raise UsageError(f"Not changed: {esc(str(exc))}.") from None
    watcher = app.deps.get("automod")
    if isinstance(watcher, automod.Automod):
        watcher.invalidate(community_id)
    await ctx.reply(f"moderation.{esc(key)} is now {value}.")


# -- the sweep: restrictions Cohort itself must lift --------------------------------------------
async def lift_due(store: Store, messenger: Messenger, now: datetime) -> int:
    """Lift every due restriction on ``messenger``'s platform that the platform will not
    end by itself; returns how many were lifted. Failures are logged and retried next time."""
    if not isinstance(messenger, Moderating):
        return 0
    due = await store.read(lambda s: service.due_lifts(s, now, str(messenger.platform)))
    lifted = 0
    for item in due:
        try:
            if item.kind == "ban":
                await messenger.unban(item.community_ext, item.user_ext)
            else:
                await messenger.unmute(item.community_ext, item.user_ext)
        except (PlatformError, Unsupported) as exc:
            log.warning("could not lift %s of %s in %s: %s", item.kind, item.user_ext, item.community_ext, exc)
            continue
        rid = item.restriction_id
        await store.write(lambda s, rid=rid: service.mark_lifted(s, rid, at=now))  # type: ignore[misc]
        lifted += 1
    return lifted


def register(router: Router, app: Any) -> None:
    mod_ = Role.MODERATOR
    router.command("mod", mod, min_role=Role.ADMIN, summary="manage Cohort's moderator list",
                   usage="/mod add|remove @member, /mod list")
    router.command("warn", warn, min_role=mod_, summary="warn a member (logged, by DM)",
                   usage="/warn @member reason")
    router.command("warns", warns, summary="active warnings",
                   usage="/warns [@member]")
    router.command("unwarn", unwarn, min_role=mod_, summary="revoke a warning", usage="/unwarn @member [id]")
    router.command("audit", audit, min_role=mod_, summary="moderation log",
                   usage="/modlog [@member] [n]", aliases=("modlog",))
    router.command("mute", mute, min_role=mod_, summary="mute a member",
                   usage="/mute @member [10m|2h|1d|1w] [reason]")
    router.command("unmute", unmute, min_role=mod_, summary="lift a mute", usage="/unmute @member")
    router.command("ban", ban, min_role=mod_, summary="ban, for good or a while",
                   usage="/ban @member [duration] reason")
    router.command("unban", unban, min_role=mod_, summary="lift a ban", usage="/unban @member")
    router.command("kick", kick, min_role=mod_, summary="remove a member",
                   usage="/kick @member [reason]")
    router.command("purge", purge, min_role=mod_, summary="delete the last N messages",
                   usage="/purge N")
    router.command("welcome", welcome.welcome, min_role=Role.ADMIN, summary="greet newcomers",
                   usage="/welcome show|on|off|set <text>|rules <text>|delete_after <minutes|off>")
    router.command("checklist", welcome.checklist, summary="your first-week checklist", usage="/checklist")
    router.command("filter", filters.filter_, min_role=mod_, summary="blocked words and patterns",
                   usage="/filter add word|regex <text> [delete|warn|mute], /filter remove <id>, /filter list, "
                         "/filter links allow|remove <domain>, /filter links newcomers <days> [delete|warn|mute], "
                         "/filter links off")
    router.gate_commands(automod.command_gate(app.deps["automod"], RoleResolver(app.store, app.settings.owner_ids)))

    async def credit_checklist(event: CommandInvoked, messenger: Messenger) -> None:
        # after the command: a /done has committed its completion, so the lesson step counts now
        await welcome.track_checklist(event, messenger, app.store, app.deps["automod"], app)

    router.after_commands(credit_checklist)

    async def modconfig_command(ctx: CommandContext) -> None:
        await modconfig(ctx, app.store, app)

    router.command("modconfig", modconfig_command, min_role=mod_, summary="moderation settings", hidden=True,
                   usage="/config moderation.KEY VALUE")


async def lift_due_everywhere(store: Store, notifier: OutboxNotifier, now: datetime) -> None:
    """Every minute: lift the due restrictions the platforms will not end by themselves
    (Discord's timed bans), through each running adapter's messenger."""
    for platform in sorted(notifier.platforms):
        messenger = notifier.messenger(platform)
        if messenger is None:
            continue
        try:
            await lift_due(store, messenger, now)
        except Exception:
            log.exception("moderation sweep failed on %s", platform)


def module() -> Module:
    """Moderation as a capability: its commands, automatic moderation on every message
    (antiflood, filters, the command budget) and the every-minute lifting sweep."""
    return legacy("moderation", register=register,
                  provides={"automod": automod.make_automod},
                  handlers=(EventHandler((MessagePosted, CommandInvoked), automod.watch),
                            EventHandler((MemberJoined,), welcome.greet),
                            EventHandler((MessagePosted,), welcome.track_checklist),
                            EventHandler((ButtonClicked,), welcome.on_dm_click)),
                  messages={**MESSAGES, **link_filters.MESSAGES},
                  settings=link_filters.SETTINGS,
                  jobs=(JobSpec("moderation-lift-due", Every(seconds=60), lift_due_everywhere,
                                summary="lift timed bans the platform keeps"),
                        JobSpec("moderation-welcome-delete", Every(seconds=60), welcome.delete_due_welcomes,
                                summary="delete welcomes whose delete-after has come")))
