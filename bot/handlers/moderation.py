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
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.handlers import automod, filters, link_filters, welcome
from bot.handlers.moderation_messages import MESSAGES, say
from bot.markup import bold, esc
from bot.modules import EventHandler, Every, JobSpec, Module, SettingSpec
from bot.notifier import OutboxNotifier
from bot.notify import Notification, Notifier, Purpose
from bot.ports import (
    Capability,
    ChatRef,
    Clock,
    Messenger,
    Moderating,
    PlatformError,
    Role,
    Unsupported,
)
from bot.roles import RoleResolver
from bot.router import CommandContext, CommandSpec, UsageError
from engine.args import ArgError, excerpt, is_ascii_id, looks_like_duration, parse_duration, parse_int
from engine.events import ButtonClicked, CommandInvoked, MemberJoined, MessagePosted
from engine.members.lookup import (
    MemberBrief,
    community_ext_of,
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
from engine.moderation.settings import (
    KEYS,
    SECTION,
    ModerationSettings,
    SettingError,
    moderation_settings,
    parse_value,
    set_setting,
)
from engine.points.days import zone_of
from engine.store.community_settings import stored_settings
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


def _community(ctx: CommandContext) -> int:
    """The community the command acts on (the router resolved it; a private chat acts on
    the caller's home community); raises UsageError when there is none."""
    if ctx.place.community_id is None:
        raise UsageError(ctx.t("mod.use_in_chat"))
    return ctx.place.community_id


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
        raise UsageError(ctx.t("mod.who", verb=_verb(ctx, verb)))
    platform = str(ctx.event.platform)

    def find(session: Session) -> MemberBrief | None:
        member_id = resolve_member_in(session, platform, community_id, token)
        return member_brief(session, member_id, platform) if member_id is not None else None

    target = await store.read(find)
    if target is None:
        raise UsageError(ctx.t("mod.unknown", who=esc(excerpt(token))))
    if target.is_bot:
        raise UsageError(ctx.t("mod.a_bot", name=esc(target.display_name), verb=_verb(ctx, verb)))
    me = ctx.member_id
    if target.member_id == me:
        raise UsageError(ctx.t("mod.yourself", verb=_verb(ctx, verb)))
    await roles.ensure_outranks(ctx, community_id, target.member_id, target.display_name, actor_member_id=me)
    return target


def _zone(store_settings: dict[str, Any] | None) -> ZoneInfo:
    zone = zone_of(store_settings)
    return zone if isinstance(zone, ZoneInfo) else ZoneInfo("UTC")


async def _local(store: Store, community_id: int, at: datetime) -> str:
    """``at`` in the community's timezone, e.g. ``2026-03-02 18:00 Asia/Shanghai``."""
    zone = _zone(await store.read(lambda s: stored_settings(s, community_id)))
    return f"{at.astimezone(zone):%Y-%m-%d %H:%M} {zone.key}"


async def _when(store: Store, community_id: int, at: datetime) -> str:
    """``at`` in UTC, and in the community's timezone when that is another."""
    local = await _local(store, community_id, at)
    utc = f"{at.astimezone(ZoneInfo('UTC')):%Y-%m-%d %H:%M} UTC"
    return utc if local == utc else f"{utc} ({local})"


def _verb(ctx: CommandContext, verb: str) -> str:
    return ctx.t(f"mod.verb.{verb}")


async def _tell_member(notifier: Notifier, target: MemberBrief, community_id: int, key: str, text: str,
                       language: str) -> str:
    """DM the member through the Notifier (opt-out, reachability and pacing respected; the
    key makes a retried warning one DM); returns a note for the moderator."""
    delivery = await notifier.notify(Notification(key, target.member_id, community_id, Purpose.MODERATION, text))
    return say(f"mod.told.{delivery.value}", language)


# -- /mod -------------------------------------------------------------------------------------
async def mod(ctx: CommandContext, store: Store, roles: RoleResolver, clock: Clock) -> None:
    sub = ctx.args[0].lower() if ctx.args else "list"
    community_id = _community(ctx)
    if sub == "list":
        mods = await store.read(lambda s: moderators(s, community_id))
        if not mods:
            await ctx.reply(ctx.t("mod.list_empty"))
            return
        await ctx.reply(ctx.t("mod.list") + "\n" + "\n".join(f"• {esc(name)}" for _, name in mods))
        return
    if sub not in ("add", "remove"):
        raise UsageError(ctx.t("mod.usage"))
    token, _ = _split_target(ctx, ctx.args[1:])
    target = await _target(store, roles, ctx, community_id, token, "change the role of")
    actor = ctx.member_id
    role = MODERATOR_ROLE if sub == "add" else MEMBER_ROLE
    now = clock()
    changed = await store.write(
        lambda s: set_role(s, community_id, target.member_id, role, actor_id=actor, at=now)
    )
    name = bold(target.display_name)
    if sub == "add":
        await ctx.reply(ctx.t("mod.added" if changed else "mod.already", name=name))
    else:
        await ctx.reply(ctx.t("mod.removed" if changed else "mod.not_listed", name=name))


# -- platform actions ---------------------------------------------------------------------------
def _moderating(ctx: CommandContext, verb: str) -> Moderating:
    messenger = ctx.messenger
    if Capability.MODERATE not in messenger.capabilities or not isinstance(messenger, Moderating):
        raise UsageError(ctx.t("mod.cannot", verb=_verb(ctx, verb), platform=esc(ctx.event.platform)))
    return messenger


async def _where(store: Store, ctx: CommandContext, community_id: int) -> str:
    """The platform's id of the community (a command sent privately names none)."""
    where: str | None = ctx.event.community_id
    if ctx.event.is_private or not where:
        where = await store.read(lambda s: community_ext_of(s, community_id))
    if not where:
        raise UsageError(ctx.t("mod.use_in_chat"))
    return where


def _refused(ctx: CommandContext, exc: Exception) -> UsageError:
    return UsageError(ctx.t("mod.refused", error=esc(exc)))


async def _audit(store: Store, clock: Clock, action: str, community_id: int, actor: int | None,
                 target: int | None, details: dict[str, Any]) -> None:
    now = clock()
    await store.write(lambda s: write_audit(s, action=action, at=now, community_id=community_id,
                                            actor_id=actor, target_member_id=target, details=details))


async def apply_mute(store: Store, clock: Clock, messenger: Moderating, community_id: int, where: str,
                     target: MemberBrief, *, until: datetime | None, reason: str, actor: int | None,
                     source: str = "moderator") -> datetime | None:
    """Mute on the platform, record the restriction and audit it; returns the real end.
    Raises PlatformError when the platform refuses (nothing recorded)."""
    assert target.user_ext is not None  # resolved on this platform, so it has an account here
    effective = await messenger.mute(where, target.user_ext, until=until, reason=reason)
    end = effective if isinstance(effective, datetime) else until
    now = clock()
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


def _take_duration(ctx: CommandContext, rest: tuple[str, ...], verb: str) -> tuple[timedelta | None, tuple[str, ...]]:
    if rest and looks_like_duration(rest[0]):
        try:
            return parse_duration(rest[0], hi=LONGEST, what=f"the {verb} duration"), rest[1:]
        except ArgError as exc:
            raise UsageError(ctx.t("mod.not_changed", error=esc(_capital(str(exc))))) from None
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
    community_id = _community(ctx)
    token, rest = _split_target(ctx, ctx.args)
    length, rest = _take_duration(ctx, rest, verb) if timed else (None, rest)
    target = await _target(store, roles, ctx, community_id, token, verb)
    where = await _where(store, ctx, community_id)
    assert target.user_ext is not None  # resolved on this platform, so it has an account here
    return _Aim(messenger, community_id, target, target.user_ext, where, length, rest)


async def _lift(ctx: CommandContext, store: Store, roles: RoleResolver, clock: Clock, kind: str) -> MemberBrief:
    """``/unmute`` or ``/unban``: lift on the platform, then record and audit it."""
    aim = await _aim(ctx, store, roles, f"un{kind}")
    lift = aim.messenger.unmute if kind == "mute" else aim.messenger.unban
    try:
        await lift(aim.where, aim.user_ext)
    except (Unsupported, PlatformError) as exc:
        raise _refused(ctx, exc) from exc
    actor, now = ctx.member_id, clock()

    def record(s: Session) -> None:
        service.lift_restrictions(s, aim.community_id, aim.target.member_id, kind, at=now)
        write_audit(s, action=f"un{kind}", at=now, community_id=aim.community_id, actor_id=actor,
                    target_member_id=aim.target.member_id, details={})

    await store.write(record)
    return aim.target


async def _report_until(ctx: CommandContext, store: Store, aim: _Aim, end: datetime | None, state: str) -> None:
    """``state`` (``muted`` or ``banned``) until ``end``, or until lifted."""
    name = bold(aim.target.display_name)
    if end is None:
        await ctx.reply(ctx.t(f"mod.{state}_for_good", name=name))
    else:
        await ctx.reply(ctx.t(f"mod.{state}_until", name=name, when=await _when(store, aim.community_id, end)))


async def mute(ctx: CommandContext, store: Store, roles: RoleResolver, clock: Clock) -> None:
    aim = await _aim(ctx, store, roles, "mute", timed=True)
    until = clock() + aim.length if aim.length else None
    try:
        end = await apply_mute(store, clock, aim.messenger, aim.community_id, aim.where, aim.target, until=until,
                               reason=aim.reason, actor=ctx.member_id)
    except (Unsupported, PlatformError) as exc:
        raise _refused(ctx, exc) from exc
    await _report_until(ctx, store, aim, end, "muted")


async def unmute(ctx: CommandContext, store: Store, roles: RoleResolver, clock: Clock) -> None:
    target = await _lift(ctx, store, roles, clock, "mute")
    await ctx.reply(ctx.t("mod.unmuted", name=bold(target.display_name)))


async def ban(ctx: CommandContext, store: Store, roles: RoleResolver, clock: Clock) -> None:
    aim = await _aim(ctx, store, roles, "ban", timed=True)
    community_id, target = aim.community_id, aim.target
    now = clock()
    standing = await store.read(lambda s: service.active_restriction(s, community_id, target.member_id, "ban", now))
    if standing is not None and aim.length is None and standing.until is None:
        await ctx.reply(ctx.t("mod.already_banned", name=bold(target.display_name)))
        return
    until = now + aim.length if aim.length else None
    try:
        ends = await aim.messenger.ban(aim.where, aim.user_ext, reason=aim.reason, until=until)
    except (Unsupported, PlatformError) as exc:
        raise _refused(ctx, exc) from exc
    end = ends if isinstance(ends, datetime) else until
    cohort_lifts = until is not None and ends is None  # the platform has no timed bans
    actor = ctx.member_id
    details: dict[str, Any] = {"reason": aim.reason} if aim.reason else {}
    if end is not None:
        details["until"] = end.isoformat()

    def record(s: Session) -> None:
        service.record_restriction(s, community_id, target.member_id, "ban", at=now, until=end,
                                   cohort_lifts=cohort_lifts)
        write_audit(s, action="ban", at=now, community_id=community_id, actor_id=actor,
                    target_member_id=target.member_id, details=details)

    await store.write(record)
    await _report_until(ctx, store, aim, end, "banned")


async def unban(ctx: CommandContext, store: Store, roles: RoleResolver, clock: Clock) -> None:
    target = await _lift(ctx, store, roles, clock, "ban")
    await ctx.reply(ctx.t("mod.unbanned", name=bold(target.display_name)))


async def kick(ctx: CommandContext, store: Store, roles: RoleResolver, clock: Clock) -> None:
    aim = await _aim(ctx, store, roles, "kick")
    community_id, member_id = aim.community_id, aim.target.member_id
    left = await store.read(lambda s: s.execute(select(CommunityMember.left_at).where(
        CommunityMember.community_id == community_id, CommunityMember.member_id == member_id)).scalar_one_or_none())
    if left is not None:  # the platform would answer "done" for nobody, and the audit would say kicked
        raise UsageError(ctx.t("kick.left", name=bold(aim.target.display_name)))
    try:
        await aim.messenger.kick(aim.where, aim.user_ext, reason=aim.reason)
    except (Unsupported, PlatformError) as exc:
        raise _refused(ctx, exc) from exc
    await _audit(store, clock, "kick", aim.community_id, ctx.member_id, aim.target.member_id,
                 {"reason": aim.reason} if aim.reason else {})
    await ctx.reply(ctx.t("mod.kicked", name=bold(aim.target.display_name)))


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


async def purge(ctx: CommandContext, store: Store, clock: Clock) -> None:
    """``/purge N``: delete the last N messages before the command (and the command)."""
    messenger = _moderating(ctx, "delete messages of")
    ev = ctx.event
    if ev.is_private:
        raise UsageError(ctx.t("mod.purge_in_chat"))
    if len(ctx.args) != 1:
        raise UsageError(ctx.t("mod.purge_usage", most=PURGE_MAX))
    try:
        count = parse_int(ctx.args[0], lo=1, hi=PURGE_MAX, what="N")
    except ArgError as exc:
        raise UsageError(ctx.t("mod.purge_bad", error=esc(str(exc)))) from None
    community_id = _community(ctx)
    rows = [r for r in await store.read(lambda s: _recent_messages(s, ev, count + 1))
            if r[1] != ev.message_id][:count]
    command = [(ev.message_id, ev.at)] if ev.message_id else []  # commands are not stored as messages
    try:
        done = await messenger.delete_messages(ChatRef.of(ev), command + [(ext, at) for _, ext, at in rows])
    except (Unsupported, PlatformError) as exc:
        raise _refused(ctx, exc) from exc
    gone = [row_id for row_id, _, _ in rows[:max(0, done.deleted - len(command))]]  # too-old ones are oldest
    now = clock()
    actor = ctx.member_id

    def record(s: Session) -> None:
        if gone:
            s.execute(update(Message).where(Message.id.in_(gone)).values(deleted_at=now))
        write_audit(s, action="purge", at=now, community_id=community_id, actor_id=actor,
                    details={"chat": ev.chat_id, "asked": count, "deleted": done.deleted, "too_old": done.too_old})

    await store.write(record)
    note = ctx.t("mod.too_old", n=done.too_old) if done.too_old else ""
    text = ctx.t("mod.purged", n=done.deleted, note=note)
    try:
        await ctx.messenger.send(ChatRef.of(ev), text)  # the command itself is gone: no reply-to
    except PlatformError:
        log.warning("purge: could not confirm in %s", ev.chat_id)


# -- warnings ---------------------------------------------------------------------------------
async def warn(ctx: CommandContext, store: Store, roles: RoleResolver, messenger: Messenger, notifier: Notifier,
               clock: Clock) -> None:
    community_id = _community(ctx)
    token, rest = _split_target(ctx, ctx.args)
    target = await _target(store, roles, ctx, community_id, token, "warn")
    reason = " ".join(rest).strip()
    if not reason:
        raise UsageError(ctx.t("mod.warn_reason"))
    actor = ctx.member_id
    await issue_warning(ctx, store, clock, messenger, notifier, community_id, target, reason, actor)


async def issue_warning(ctx: CommandContext | None, store: Store, clock: Clock, messenger: Messenger,
                        notifier: Notifier, community_id: int, target: MemberBrief, reason: str, actor: int | None,
                        *, where: str | None = None, source: str = "moderator", title: str = "",
                        language: str = "en") -> str:
    """Record a warning, mute at the community's threshold, tell the member; returns the
    moderator-facing summary (also replied when ``ctx`` is given), in ``ctx``'s language or
    else ``language``."""
    lang = ctx.language if ctx is not None else language
    now = clock()
    settings = await store.read(lambda s: moderation_settings(s, community_id))
    warning_id, active = await store.write(lambda s: service.add_warning(
        s, community_id, target.member_id, actor, reason, at=now, settings=settings, source=source))
    if not title:  # the community's name, not the channel's
        named = await store.read(lambda s: s.execute(select(Community.title, Community.external_id).where(
            Community.id == community_id)).first())
        title = (named[0] or named[1]) if named else ""
    title = title or say("mod.your_community", lang)
    escalated = ""
    if settings.warn_mute_at and active >= settings.warn_mute_at and isinstance(messenger, Moderating) \
            and Capability.MODERATE in messenger.capabilities:
        place = where or (await _where(store, ctx, community_id) if ctx else None)
        if place:
            try:
                end = await apply_mute(store, clock, messenger, community_id, place, target,
                                       until=now + timedelta(minutes=settings.warn_mute_minutes),
                                       reason=f"{active} active warnings", actor=None, source="warnings")
                until = await _local(store, community_id, end) if end else say("mod.lifted", lang)
                escalated = say("mod.escalated", lang, active=active, until=until)
            except (Unsupported, PlatformError) as exc:
                escalated = say("mod.escalation_failed", lang, active=active, error=esc(exc))
    dm = say("mod.warn_dm", lang, community=esc(title), reason=esc(reason), active=active,
             days=settings.warn_expiry_days)
    if settings.warn_mute_at and not escalated:
        dm += say("mod.warn_dm_threshold", lang, at=settings.warn_mute_at)
    if escalated:
        dm += "\n" + escalated.strip()
    note = await _tell_member(notifier, target, community_id, f"warn:{warning_id}", dm, lang)
    summary = say("mod.warned", lang, name=bold(target.display_name), active=active, escalated=escalated, note=note)
    if ctx is not None:
        await ctx.reply(summary)
    return summary


async def warns(ctx: CommandContext, store: Store, roles: RoleResolver, clock: Clock) -> None:
    """``/warns`` (yours) or ``/warns @member`` (moderators)."""
    community_id = _community(ctx)
    token, _ = _split_target(ctx, ctx.args)
    platform = str(ctx.event.platform)
    if token is None:
        me = ctx.member_id
        if me is None:
            raise UsageError(ctx.t("mod.no_warnings_you"))
        target = await store.read(lambda s: member_brief(s, me, platform))
        assert target is not None
    else:
        if ctx.role < Role.MODERATOR:
            raise UsageError(ctx.t("mod.warns_mods_only"))
        found = await store.read(lambda s: (lambda mid: member_brief(s, mid, platform) if mid else None)(
            resolve_member_in(s, platform, community_id, token)))
        if found is None:
            raise UsageError(ctx.t("mod.unknown", who=esc(excerpt(token))))
        target = found
    now = clock()
    lines = await store.read(lambda s: service.active_warnings(s, community_id, target.member_id, now))
    if not lines:
        await ctx.reply(ctx.t("mod.no_active", name=bold(target.display_name)))
        return
    rows = [ctx.t("mod.warn_line", id=w.id, at=await _local(store, community_id, w.at),
                  actor=esc(w.actor) if w.actor else ctx.t("mod.system"), reason=esc(w.reason),
                  expires=f"{w.expires_at:%Y-%m-%d}") for w in lines]
    await ctx.reply(ctx.t("mod.warns_title", name=esc(target.display_name), n=len(lines)) + "\n" + "\n".join(rows))


async def unwarn(ctx: CommandContext, store: Store, roles: RoleResolver, clock: Clock) -> None:
    """``/unwarn @member [id]``: revoke one warning (the latest by default)."""
    community_id = _community(ctx)
    token, rest = _split_target(ctx, ctx.args)
    target = await _target(store, roles, ctx, community_id, token, "unwarn")
    warning_id = None
    if rest:
        try:
            warning_id = parse_int(rest[0].lstrip("#"), lo=1, hi=10**9 - 1, what="The warning id")
        except ArgError as exc:
            raise UsageError(ctx.t("mod.warn_id_bad", error=esc(str(exc)))) from None
    actor, now = ctx.member_id, clock()
    revoked = await store.write(lambda s: service.revoke_warning(
        s, community_id, target.member_id, warning_id, actor_id=actor, at=now))
    if revoked is None:
        if warning_id:
            raise UsageError(ctx.t("mod.no_such_warning", name=esc(target.display_name), id=warning_id))
        raise UsageError(ctx.t("mod.no_warning", name=esc(target.display_name)))
    await ctx.reply(ctx.t("mod.revoked", id=revoked, name=bold(target.display_name)))


# -- /audit, /modlog --------------------------------------------------------------------------
def _describe(ctx: CommandContext, line: AuditLine, zone: ZoneInfo) -> str:
    who = esc(line.actor) if line.actor else ctx.t("mod.audit_system")
    whom = f" → {esc(line.target)}" if line.target else ""
    if line.target is None and line.details.get("redacted"):
        whom = ctx.t("mod.audit_forgotten")
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
            raise UsageError(ctx.t("mod.audit_usage", error=esc(_capital(str(exc))))) from None
    community_id = _community(ctx)
    member_id = None
    if args:
        found = await store.read(lambda s: resolve_member_in(s, str(ctx.event.platform), community_id, args[0]))
        if found is None:
            raise UsageError(ctx.t("mod.unknown", who=esc(excerpt(args[0]))))
        member_id = found
    lines = await store.read(lambda s: recent_audit(s, community_id, limit, member_id=member_id))
    if not lines:
        await ctx.reply(ctx.t("mod.audit_empty" if member_id is None else "mod.audit_none_about"))
        return
    zone = _zone(await store.read(lambda s: stored_settings(s, community_id)))
    await ctx.reply(ctx.t("mod.audit_title", zone=esc(zone.key)) + "\n"
                    + "\n".join(_describe(ctx, line, zone) for line in lines))


# -- /modconfig -------------------------------------------------------------------------------
async def modconfig(ctx: CommandContext, store: Store, automod: automod.Automod, clock: Clock) -> None:
    """``/config moderation.KEY VALUE`` (or ``/modconfig``): validated and audited."""
    community_id = _community(ctx)
    if len(ctx.args) < 2:
        current = await store.read(lambda s: moderation_settings(s, community_id))
        shown = "\n".join(f"moderation.{k} = {getattr(current, k)}" for k in KEYS)
        await ctx.reply(f"{ctx.t('mod.settings_title')}\n{esc(shown)}\n{ctx.t('mod.settings_hint')}")
        return
    key = ctx.args[0].lower().removeprefix("moderation.")
    actor, now = ctx.member_id, clock()
    try:
        value = await store.write(lambda s: set_setting(s, community_id, key, ctx.args[1],
                                                         actor_id=actor, at=now))
    except SettingError as exc:
        raise UsageError(ctx.t("mod.setting_refused", error=esc(str(exc)))) from None
    automod.invalidate(community_id)
    await ctx.reply(ctx.t("mod.setting_set", key=esc(key), value=value))


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


_MOD = Role.MODERATOR
COMMANDS = (
    CommandSpec("mod", mod, Role.ADMIN, "manage Cohort's moderator list", "/mod add|remove @member, /mod list"),
    CommandSpec("warn", warn, _MOD, "warn a member (logged, by DM)", "/warn @member reason"),
    CommandSpec("warns", warns, Role.MEMBER, "active warnings", "/warns [@member]"),
    CommandSpec("unwarn", unwarn, _MOD, "revoke a warning", "/unwarn @member [id]"),
    CommandSpec("audit", audit, _MOD, "moderation log", "/modlog [@member] [n]", aliases=("modlog",)),
    CommandSpec("mute", mute, _MOD, "mute a member", "/mute @member [10m|2h|1d|1w] [reason]"),
    CommandSpec("unmute", unmute, _MOD, "lift a mute", "/unmute @member"),
    CommandSpec("ban", ban, _MOD, "ban, for good or a while", "/ban @member [duration] reason"),
    CommandSpec("unban", unban, _MOD, "lift a ban", "/unban @member"),
    CommandSpec("kick", kick, _MOD, "remove a member", "/kick @member [reason]"),
    CommandSpec("purge", purge, _MOD, "delete the last N messages", "/purge N"),
    CommandSpec("welcome", welcome.welcome, Role.ADMIN, "greet newcomers",
                "/welcome show|on|off|set <text>|rules <text>|delete_after <minutes|off>"),
    CommandSpec("checklist", welcome.checklist, Role.MEMBER, "your first-week checklist", "/checklist"),
    CommandSpec("filter", filters.filter_, _MOD, "blocked words and patterns",
                "/filter add word|regex <text> [delete|warn|mute], /filter remove <id>, /filter list, "
                "/filter links allow|remove <domain>, /filter links newcomers <days> [delete|warn|mute], "
                "/filter links off"),
    CommandSpec("modconfig", modconfig, _MOD, "moderation settings", "/config moderation.KEY VALUE", hidden=True),
)


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


def _checked(key: str) -> Callable[[object], int | str]:
    def check(value: object) -> int | str:
        try:
            return parse_value(key, str(value))
        except SettingError as exc:
            raise ValueError(str(exc)) from None

    return check


# The moderation settings, declared (defaults and bounds from :mod:`engine.moderation.settings`):
# /config shows them; /config moderation.KEY VALUE is handed to /modconfig, which audits and
# refreshes automoderation's cached copy.
SETTINGS = tuple(SettingSpec(f"{SECTION}.{f.name}", type(f.default), f.default, validate=_checked(f.name),
                             min_role=Role.MODERATOR, help=f"VALUE — see /config moderation.{f.name}")
                 for f in fields(ModerationSettings))


def module() -> Module:
    """Moderation as a capability: its commands, automatic moderation on every message
    (antiflood, filters, the command budget) and the every-minute lifting sweep."""
    return Module(
        "moderation",
        provides=lambda deps: replace(deps, automod=automod.make_automod(deps.settings, deps.settings_schema)),
        commands=COMMANDS,
        settings=SETTINGS + link_filters.SETTINGS,
        gates=(automod.command_gate,),
        # after the command: a /done has committed its completion, so the lesson step counts now
        after_commands=(welcome.track_checklist,),
        handlers=(EventHandler((MessagePosted, CommandInvoked), automod.watch),
                  EventHandler((MemberJoined,), welcome.greet),
                  EventHandler((MessagePosted,), welcome.track_checklist),
                  EventHandler((ButtonClicked,), welcome.on_dm_click)),
        messages={**MESSAGES, **link_filters.MESSAGES},
        jobs=(JobSpec("moderation-lift-due", Every(seconds=60), lift_due_everywhere,
                      summary="lift timed bans the platform keeps"),
              JobSpec("moderation-welcome-delete", Every(seconds=60), welcome.delete_due_welcomes,
                      summary="delete welcomes whose delete-after has come")),
    )
