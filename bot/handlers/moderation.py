"""Moderation: Cohort's own moderator list (``/mod``), ``/warn``, ``/audit``, ``/mute``, ``/ban``.

Members are named by ``@username``, a platform user id, a Discord mention, or by replying
to their message. Commands sent in a private chat act on the caller's home community
(where they were most recently active).

``/mute`` and ``/ban`` only act when the platform adapter declares
``Capability.MODERATE`` *and* offers ``mute(community_id, user_id, *, until, reason)`` /
``ban(community_id, user_id, *, reason)``; otherwise they say so instead of pretending.
``mute`` may return the moment the mute really ends when the platform shortens it
(Discord caps a timeout at 28 days); the reply and the audit log then say that moment.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from bot.args import duration_arg, int_arg
from bot.handlers.privacy import caller_member, clock
from bot.markup import bold, esc
from bot.ports import Capability, Messenger, Moderating, NotReachable, PlatformError, Role, Unsupported
from bot.roles import RoleResolver
from bot.router import CommandContext, Router, UsageError
from engine.args import looks_like_duration
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
    record_warning,
    set_role,
    write_audit,
)
from engine.members.privacy import is_opted_out
from engine.store.store import Store

AUDIT_DEFAULT = 10
AUDIT_MAX = 50
_MEMBER_TOKEN = re.compile(r"@\S+|\d+|<@!?\d+>", re.ASCII)
MUTE_MIN, MUTE_MAX = timedelta(minutes=1), timedelta(days=366)

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


def _split_target(ctx: CommandContext, args: tuple[str, ...]) -> tuple[str | None, tuple[str, ...]]:
    """(member token, remaining args): an explicit token first, else the replied-to user."""
    if args and _MEMBER_TOKEN.fullmatch(args[0]):
        return args[0], args[1:]
    if ctx.event.reply_to_user_id:
        return ctx.event.reply_to_user_id, args
    if args:  # some other platform id format; the resolver says whether it names anyone
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
        raise UsageError(f"I don't know {esc(token)} in this community.")
    if target.is_bot:
        raise UsageError(f"{esc(target.display_name)} is a bot; I can't {verb} bots.")
    me = await caller_member(store, ctx.event)
    if target.member_id == me:
        raise UsageError(f"You can't {verb} yourself.")
    await roles.ensure_outranks(ctx, community_id, target.member_id, target.display_name, actor_member_id=me)
    return target


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


# -- /warn ------------------------------------------------------------------------------------
async def warn(ctx: CommandContext, store: Store, roles: RoleResolver, messenger: Messenger, app: Any) -> None:
    community_id = await _community(store, ctx)
    token, rest = _split_target(ctx, ctx.args)
    target = await _target(store, roles, ctx, community_id, token, "warn")
    reason = " ".join(rest).strip()
    if not reason:
        raise UsageError("Add a reason: /warn @member reason")
    actor = await caller_member(store, ctx.event)
    now = clock(app)
    await store.write(lambda s: record_warning(s, community_id, actor, target.member_id, reason, at=now))
    opted_out = await store.read(lambda s: is_opted_out(s, target.member_id, community_id))
    if opted_out or target.user_ext is None:
        note = "They opted out of private messages, so I didn't message them."
    else:
        title = ctx.event.chat_title or "your community"
        try:
            await messenger.dm(target.user_ext, f"You received a warning from the moderators of {esc(title)}:\n"
                                                f"<i>{esc(reason)}</i>")
            note = "I've told them privately."
        except (NotReachable, Unsupported):
            note = "I couldn't message them privately."
        except PlatformError:
            note = "Messaging them privately failed."
    await ctx.reply(f"Warning recorded for {bold(target.display_name)}. {note}")


# -- /audit -----------------------------------------------------------------------------------
def _describe(line: AuditLine) -> str:
    who = esc(line.actor) if line.actor else "<i>system</i>"
    whom = f" → {esc(line.target)}" if line.target else ""
    if line.target is None and line.details.get("redacted"):
        whom = " → <i>forgotten member</i>"
    why = line.details.get("reason")
    extra = f" — “{esc(why)}”" if why else ""
    return f"{line.at:%Y-%m-%d %H:%M} · {who}: {esc(line.action)}{whom}{extra}"


async def audit(ctx: CommandContext, store: Store) -> None:
    limit = AUDIT_DEFAULT
    if ctx.args:
        if len(ctx.args) > 1:
            raise UsageError(f"Usage: /audit [n] — n is how many entries, 1 to {AUDIT_MAX}.")
        limit = int_arg(ctx.args[0], lo=1, hi=AUDIT_MAX, what="how many entries")
    community_id = await _community(store, ctx)
    lines = await store.read(lambda s: recent_audit(s, community_id, limit))
    if not lines:
        await ctx.reply("The audit log is empty.")
        return
    await ctx.reply("<b>Audit log (newest first)</b>\n" + "\n".join(_describe(line) for line in lines))


# -- /mute, /ban ------------------------------------------------------------------------------
def _can(messenger: Messenger) -> bool:
    return Capability.MODERATE in messenger.capabilities and isinstance(messenger, Moderating)


async def _platform_action(ctx: CommandContext, store: Store, roles: RoleResolver, messenger: Messenger,
                           app: Any, verb: str) -> None:
    if not _can(messenger):
        await ctx.reply(
            f"This platform adapter can't {verb} members yet. Please use {esc(ctx.event.platform)}'s own "
            "moderation tools; /warn records a warning in Cohort's audit log."
        )
        return
    community_id = await _community(store, ctx)
    token, rest = _split_target(ctx, ctx.args)
    target = await _target(store, roles, ctx, community_id, token, verb)
    until = None
    if verb == "mute" and rest and looks_like_duration(rest[0]):
        # Something that starts like a count is a duration attempt: parse it strictly, so
        # "-5m" or "999y" gets a clear refusal rather than an indefinite mute.
        until = clock(app) + duration_arg(rest[0], lo=MUTE_MIN, hi=MUTE_MAX, what="the mute duration")
        rest = rest[1:]
    reason = " ".join(rest).strip()
    assert target.user_ext is not None  # resolved on this platform, so it has an account here
    # From a private chat the event names no community: act where the command resolved to.
    where: str | None = ctx.event.community_id
    if ctx.event.is_private:
        where = await store.read(lambda s: community_ext_of(s, community_id))
    if not where:
        raise UsageError("Use this in your community's chat.")
    try:
        if verb == "mute":
            # An adapter may shorten the mute (Discord caps timeouts); it returns the real end.
            assert isinstance(messenger, Moderating)
            effective = await messenger.mute(where, target.user_ext, until=until, reason=reason)
            if isinstance(effective, datetime):
                until = effective
        else:
            assert isinstance(messenger, Moderating)
            await messenger.ban(where, target.user_ext, reason=reason)
    except (Unsupported, PlatformError) as exc:
        raise UsageError(f"The platform refused: {esc(exc)}") from exc
    actor = await caller_member(store, ctx.event)
    now = clock(app)
    details: dict[str, Any] = {"reason": reason} if reason else {}
    if until is not None:
        details["until"] = until.isoformat()
    await store.write(lambda s: write_audit(s, action=verb, at=now, community_id=community_id,
                                            actor_id=actor, target_member_id=target.member_id, details=details))
    name = bold(target.display_name)
    if verb == "ban":
        await ctx.reply(f"{name} is banned.")
    elif until is None:
        await ctx.reply(f"{name} is muted until a moderator lifts it.")
    else:
        await ctx.reply(f"{name} is muted until {until:%Y-%m-%d %H:%M} UTC.")


async def mute(ctx: CommandContext, store: Store, roles: RoleResolver, messenger: Messenger, app: Any) -> None:
    await _platform_action(ctx, store, roles, messenger, app, "mute")


async def ban(ctx: CommandContext, store: Store, roles: RoleResolver, messenger: Messenger, app: Any) -> None:
    await _platform_action(ctx, store, roles, messenger, app, "ban")


def register(router: Router, app: Any) -> None:
    router.command("mod", mod, min_role=Role.ADMIN, summary="manage Cohort's moderator list",
                   usage="/mod add|remove @member, /mod list")
    router.command("warn", warn, min_role=Role.MODERATOR, summary="warn a member (logged, told by DM)",
                   usage="/warn @member reason")
    router.command("audit", audit, min_role=Role.MODERATOR, summary="recent moderation log",
                   usage="/audit [n]")
    router.command("mute", mute, min_role=Role.MODERATOR, summary="mute a member (where the platform allows)",
                   usage="/mute @member [10m|2h|1d|1w] [reason]")
    router.command("ban", ban, min_role=Role.MODERATOR, summary="ban a member (where the platform allows)",
                   usage="/ban @member [reason]")
