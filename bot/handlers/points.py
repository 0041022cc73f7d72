"""Points commands: ``/me``, ``/leaderboard``, ``/badges``, ``/solved`` for members;
``/points``, ``/badge``, ``/season``, ``/config points.*`` and ``/pointslog`` for moderators;
and the notice sink that announces badges and level-ups (and syncs Discord level roles).

Roles are checked by the router (each command declares ``min_role``); the community, the
caller and the reply language come from the command context; handlers only validate
their input. Every write goes through ``Store.write`` into the points projection
(``points`` by parameter name), which writes the audit entry in the same transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.orm import Session

from bot.handlers.points_i18n import MESSAGES, badge_description, badge_name
from bot.i18n import language_of
from bot.markup import esc
from bot.modules import Module, text
from bot.ports import Capability, ChatRef, Messenger, Role
from bot.roles import RoleResolver
from bot.router import CommandContext, CommandSpec, UsageError, split_target
from bot.settings import Settings
from bot.settings_schema import CommunitySettings, SettingsSchema
from engine.args import is_ascii_id, is_ascii_number
from engine.events import Event
from engine.members.lookup import MemberBrief, member_brief
from engine.members.privacy import ModuleHook
from engine.points import rules as R
from engine.points import service
from engine.points.badges import BADGE_KEYS, BADGES
from engine.points.projection import MAX_AMOUNT, PointsError, PointsProjection
from engine.store.community_settings import stored_settings
from engine.store.store import Store
from engine.store.writer import Notice

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Where:
    """The community a command acts on and the caller (from the command context)."""

    community_id: int
    member_id: int


def _where(ctx: CommandContext) -> Where:
    return Where(ctx.community_id, ctx.member_id)


def _name(session: Session, member_id: int | None) -> str:
    if member_id is None:
        return "—"
    brief = member_brief(session, member_id, "")
    return (brief.display_name if brief else "") or f"#{member_id}"


async def _target(ctx: CommandContext, where: Where, roles: RoleResolver, args: list[str]) -> MemberBrief:
    """The member a moderator command names, who must be a person ranking below the caller."""
    found, _ = await ctx.target(args)
    if found.is_bot:
        raise UsageError(ctx.t("err.bot"))
    if found.member_id == where.member_id:
        raise UsageError(ctx.t("err.self"))
    await roles.ensure_outranks(ctx, where.community_id, found.member_id, found.display_name,
                                actor_member_id=where.member_id)
    return found


def _error(ctx: CommandContext, exc: PointsError, **names: Any) -> UsageError:
    mapping = {
        "self": ("err.self", {}), "bot": ("err.bot", {}), "duplicate": ("err.duplicate", {}),
        "bad_amount": ("points.bad_amount", {"max": MAX_AMOUNT}),
        "negative": ("points.negative", {"total": exc.data.get("total", 0)}),
        "unknown_badge": ("badge.unknown", {"badges": ", ".join(sorted(BADGE_KEYS))}),
        "already": ("badge.already", {}), "not_held": ("badge.not_held", {}),
        "season_open": ("season.open", {"name": esc(exc.data.get("name", ""))}),
        "no_season": ("season.none", {}), "bad_name": ("season.bad_name", {}),
    }
    key, values = mapping.get(exc.code, ("err.duplicate", {}))
    return UsageError(ctx.t(key, **{**names, **values}))


# members ---------------------------------------------------------------------------
async def me(ctx: CommandContext, store: Store) -> None:
    """``/me``: points, level with a progress bar, rank, streak, badges. ``/me @member``
    shows another member's to moderators (anyone may name themselves)."""
    where = _where(ctx)
    now = ctx.event.at  # the summary takes its date in the community's timezone
    member_id = where.member_id
    if ctx.args:
        if len(ctx.args) > 1:
            raise UsageError(ctx.t("me.usage"))
        ref = ctx.args[0]  # "/me ann" names ann as "/me @ann" does
        found, _ = await ctx.target([ref if ref.startswith(("@", "<@")) or is_ascii_id(ref) else f"@{ref}"])
        if found.member_id != where.member_id and ctx.role < Role.MODERATOR:
            raise UsageError(ctx.t("me.others_refused"))
        member_id = found.member_id

    def read(s: Session) -> tuple[service.Summary, str]:
        return service.summary(s, where.community_id, member_id, now), _name(s, member_id)

    info, name = await store.read(read)
    p, lang = info.progress, ctx.language
    lines = [
        ctx.t("me.title", name=esc(name), points=info.total),
        ctx.t("me.level", level=p.level, bar=R.progress_bar(p.fraction), into=p.points - p.floor,
          span=p.ceiling - p.floor, next=p.level + 1),
        ctx.t("me.rank", rank=info.rank) if info.rank else ctx.t("me.unranked"),
        ctx.t("me.streak", streak=info.streak, best=info.best_streak),
        ctx.t("me.badges", badges=", ".join(esc(badge_name(lang, b)) for b in info.badges))
        if info.badges else ctx.t("me.no_badges"),
        ctx.t("me.stats", accepted=info.stats.get("accepted", 0), helped=info.helped),
    ]
    await ctx.reply("\n".join(lines))

async def leaderboard(ctx: CommandContext, store: Store) -> None:
    """``/leaderboard [week|month|season|all]`` (week by default)."""
    where = _where(ctx)
    period = (ctx.args[0].lower() if ctx.args else "week")
    if period not in service.PERIODS:
        raise UsageError(ctx.t("lb.bad_period"))
    try:
        label, rows = await store.read(
            lambda s: service.leaderboard(s, where.community_id, period, ctx.event.at))
    except LookupError:
        raise UsageError(ctx.t("lb.no_season")) from None
    lines = [ctx.t(f"lb.title.{period}", label=esc(label))]
    lines += [ctx.t("lb.row", rank=r.rank, name=esc(r.name), points=r.points) for r in rows]
    if not rows:
        lines.append(ctx.t("lb.empty"))
    await ctx.reply("\n".join(lines))

async def badges(ctx: CommandContext, store: Store) -> None:
    """``/badges``: every badge, marking the caller's."""
    where = _where(ctx)
    held = {b for b, _ in await store.read(
        lambda s: service.badges_of(s, where.community_id, where.member_id))}
    lines = [ctx.t("badges.title")]
    for b in BADGES:
        lines.append(ctx.t("badges.row", mark="✓" if b.key in held else "·",
                       name=esc(badge_name(ctx.language, b.key)), desc=esc(badge_description(ctx.language, b.key))))
    await ctx.reply("\n".join(lines))

async def solved(ctx: CommandContext, messenger: Messenger, store: Store, points: PointsProjection,
                 settings: Settings, settings_schema: SettingsSchema) -> None:
    """``/solved`` in reply to an answer: the asker (or a moderator) accepts it."""
    where = _where(ctx)
    ev = ctx.event
    if not ev.reply_to_message_id:
        raise UsageError(ctx.t("solved.usage"))

    found = await store.read(lambda s: service.answer_candidate(
        s, str(ev.platform), ev.chat_id, ev.reply_to_message_id or ""))
    if found is None or found[1] is None:
        raise UsageError(ctx.t("solved.unknown"))
    msg_id, author, asker, starter, is_start = found
    answerer = int(author) if author is not None else 0
    is_asker = where.member_id in (asker, None if is_start else starter)
    if not is_asker and ctx.role < Role.MODERATOR:
        raise UsageError(ctx.t("solved.not_asker"))
    notices = await store.write(lambda s: points.accept_answer(
        s, where.community_id, msg_id, answerer, where.member_id, ev.at))
    if not notices:
        raise UsageError(ctx.t("solved.nothing"))
    for notice in notices:
        await announce(notice, ev, messenger, store, settings, settings_schema)

# moderators --------------------------------------------------------------------------
async def points_command(ctx: CommandContext, messenger: Messenger, roles: RoleResolver, store: Store,
                         points: PointsProjection, settings: Settings, settings_schema: SettingsSchema) -> None:
    """``/points give|take @member N reason``."""
    where = _where(ctx)
    args = list(ctx.args)
    if not args or args[0].lower() not in ("give", "take"):
        raise UsageError(ctx.t("points.usage"))
    action = args.pop(0).lower()
    ref, rest = split_target(ctx.event, args)
    if not rest:
        raise UsageError(ctx.t("points.usage") if ref else ctx.t("err.no_member"))
    target = await _target(ctx, where, roles, args)
    raw = rest[0]
    # ASCII digits only (give/take says which way), at most 9 of them, then the range.
    if not is_ascii_number(raw) or not 1 <= int(raw) <= MAX_AMOUNT:
        raise UsageError(ctx.t("points.bad_amount", max=MAX_AMOUNT))
    magnitude = int(raw)
    reason = " ".join(rest[1:]).strip()
    if not reason:
        raise UsageError(ctx.t("points.need_reason"))
    amount = magnitude if action == "give" else -magnitude
    ev = ctx.event
    try:
        result = await store.write(lambda s: points.adjust(
            s, where.community_id, target.member_id, amount, actor_id=where.member_id,
            reason=reason[:500], at=ev.at, source_key=f"manual:{ev.dedup_key}"))
    except PointsError as exc:
        raise _error(ctx, exc, name=esc(target.display_name)) from None
    key = "points.given" if amount > 0 else "points.taken"
    await ctx.reply(ctx.t(key, amount=abs(amount), name=esc(target.display_name), total=result.total))
    for notice in result.notices:
        await announce(notice, ev, messenger, store, settings, settings_schema)

async def badge(ctx: CommandContext, messenger: Messenger, roles: RoleResolver, store: Store,
                points: PointsProjection, settings: Settings, settings_schema: SettingsSchema) -> None:
    """``/badge grant|revoke @member badge``."""
    where = _where(ctx)
    args = list(ctx.args)
    if not args or args[0].lower() not in ("grant", "revoke"):
        raise UsageError(ctx.t("badge.usage"))
    action = args.pop(0).lower()
    _, rest = split_target(ctx.event, args)
    if not rest:
        raise UsageError(ctx.t("badge.usage"))
    key = rest[0].lower()
    if key not in BADGE_KEYS:
        raise UsageError(ctx.t("badge.unknown", badges=", ".join(sorted(BADGE_KEYS))))
    target = await _target(ctx, where, roles, args)
    reason = " ".join(rest[1:])[:500]
    ev = ctx.event
    names = {"name": esc(target.display_name), "badge": esc(badge_name(ctx.language, key))}
    try:
        if action == "grant":
            notice = await store.write(lambda s: points.grant_badge(
                s, where.community_id, target.member_id, key, actor_id=where.member_id, at=ev.at,
                reason=reason))
        else:
            await store.write(lambda s: points.revoke_badge(
                s, where.community_id, target.member_id, key, actor_id=where.member_id, at=ev.at,
                reason=reason))
    except PointsError as exc:
        raise _error(ctx, exc, **names) from None
    await ctx.reply(ctx.t("badge.granted" if action == "grant" else "badge.revoked", **names))
    if action == "grant":
        await announce(notice, ev, messenger, store, settings, settings_schema)

async def season(ctx: CommandContext, store: Store, points: PointsProjection) -> None:
    """``/season start NAME`` / ``/season end``."""
    where = _where(ctx)
    args = list(ctx.args)
    action = args[0].lower() if args else ""
    ev = ctx.event
    try:
        if action == "start":
            name = " ".join(args[1:]).strip()
            if not name:
                raise UsageError(ctx.t("season.bad_name"))
            await store.write(lambda s: points.start_season(
                s, where.community_id, name, actor_id=where.member_id, at=ev.at))
            await ctx.reply(ctx.t("season.started", name=esc(name[:128])))
        elif action == "end":
            name = await store.write(lambda s: points.end_season(
                s, where.community_id, actor_id=where.member_id, at=ev.at))
            await ctx.reply(ctx.t("season.ended", name=esc(name)))
        else:
            raise UsageError(ctx.t("season.usage"))
    except PointsError as exc:
        raise _error(ctx, exc) from None

async def config(ctx: CommandContext, store: Store, points: PointsProjection) -> None:
    """``/config points.<key> <value>``: validated, audited, effective immediately."""
    where = _where(ctx)
    keys = ", ".join(R.valid_keys())
    if len(ctx.args) < 2:
        raise UsageError(ctx.t("config.usage", keys=keys))
    dotted = ctx.args[0].lower()
    if not dotted.startswith("points."):
        raise UsageError(ctx.t("config.other", keys=keys))
    key, raw = dotted.removeprefix("points."), " ".join(ctx.args[1:])
    ev = ctx.event
    try:
        value = await store.write(lambda s: points.set_setting(
            s, where.community_id, key, raw, actor_id=where.member_id, at=ev.at))
    except R.RuleValueError as exc:
        raise UsageError(ctx.t("config.bad", error=esc(str(exc)))) from None
    await ctx.reply(ctx.t("config.set", key=esc(key), value=esc(value)))

async def modlog(ctx: CommandContext, store: Store) -> None:
    """``/modlog``: the latest manual points / badge / season / config changes."""
    where = _where(ctx)

    def read(s: Session) -> list[str]:
        rows = []
        for e in service.recent_audit(s, where.community_id, 15):
            details = " ".join(f"{k}={v}" for k, v in (e.details or {}).items() if v not in (None, ""))
            rows.append(ctx.t("modlog.row", at=e.at.strftime("%Y-%m-%d %H:%M"),
                          actor=esc(_name(s, e.actor_id)), action=esc(e.action),
                          target=esc(_name(s, e.target_member_id)) if e.target_member_id else "",
                          details=esc(details)))
        return rows

    rows = await store.read(read)
    await ctx.reply("\n".join([ctx.t("modlog.title"), *rows]) if rows
                    else ctx.t("modlog.empty"))

# announcements ------------------------------------------------------------------------
async def announce(notice: Notice, event: Event, messenger: Messenger, store: Store, settings: Settings,
                   settings_schema: SettingsSchema) -> None:
    """Say a badge / level-up / accepted answer in the event's chat (unless the
    community turned ``points.announce`` off) and sync Discord level roles."""
    if notice.kind not in ("badge", "level_up", "accepted") or notice.member_id is None:
        return
    member_id = notice.member_id
    data = notice.data
    if "name" in data:  # the projection already looked everything up in the writer
        name, ext = str(data["name"]), data.get("account")
        lang = language_of(data.get("language"), settings.language)
        announce = bool(data.get("announce"))
        level_roles = R.level_roles({"level_roles": data["level_roles"]} if data.get("level_roles") else {})
    else:
        def read(s: Session) -> tuple[CommunitySettings, str, str | None]:
            brief = member_brief(s, member_id, str(event.platform))
            return (settings_schema.view(stored_settings(s, notice.community_id)), _name(s, member_id),
                    brief.user_ext if brief else None)

        stored, name, ext = await store.read(read)
        lang = language_of(stored["language"] if "language" in settings_schema.specs else None, settings.language)
        points_cfg = stored.section("points")
        announce = R.rules_from_settings(points_cfg).announce
        level_roles = R.level_roles(points_cfg)
    if announce:
        if notice.kind == "badge":
            said = text(MESSAGES, "ann.badge", lang, name=esc(name), badge=esc(badge_name(lang, notice.data.get("badge", ""))))
        elif notice.kind == "level_up":
            said = text(MESSAGES, "ann.level", lang, name=esc(name), level=notice.data.get("level", 0))
        else:
            said = text(MESSAGES, "ann.accepted", lang, name=esc(name), points=notice.data.get("points", 0))
        await messenger.send(ChatRef.of(event), said)
    if notice.kind == "level_up" and ext and Capability.ROLES in messenger.capabilities:
        await sync_level_roles(messenger, event.community_id, ext,
                               int(notice.data.get("level", 0)), level_roles)


async def sync_level_roles(messenger: Messenger, community_ext: str, user_ext: str, level: int,
                           roles: dict[int, str]) -> None:
    """Give the member the role of the highest level threshold they reached and remove
    the other level roles. Platform errors are logged, not raised."""
    set_role = getattr(messenger, "set_role", None)
    if not roles or set_role is None:
        return
    reached = [lvl for lvl in roles if lvl <= level]
    wanted = roles[max(reached)] if reached else None
    for name in dict.fromkeys(roles.values()):
        try:
            await set_role(community_ext, user_ext, name, name == wanted)
        except Exception:
            log.warning("could not %s level role %r", "grant" if name == wanted else "remove", name,
                        exc_info=True)


def make_projection() -> PointsProjection:
    """The points projection, shared with the commands as ``points``."""
    return PointsProjection()


def _same(points: PointsProjection) -> PointsProjection:
    return points


MOD = Role.MODERATOR
MODULE = Module(
    name="points",
    provides=lambda deps: replace(deps, points=make_projection()),
    projection=_same,  # the writer runs the very projection the commands use
    commands=(
        CommandSpec("me", me, summary=text(MESSAGES, "sum.me", "en"), usage="/me [@member]"),
        CommandSpec("leaderboard", leaderboard, summary=text(MESSAGES, "sum.leaderboard", "en"),
                    usage="/leaderboard [week|month|season|all]", aliases=("top",)),
        CommandSpec("badges", badges, summary=text(MESSAGES, "sum.badges", "en"), usage="/badges"),
        CommandSpec("solved", solved, summary=text(MESSAGES, "sum.solved", "en"), usage="/solved (as a reply)"),
        CommandSpec("points", points_command, MOD, text(MESSAGES, "sum.points", "en"),
                    "/points give|take @member N reason"),
        CommandSpec("badge", badge, MOD, text(MESSAGES, "sum.badge", "en"), "/badge grant|revoke @member badge"),
        CommandSpec("season", season, MOD, text(MESSAGES, "sum.season", "en"), "/season start NAME | /season end"),
        # ``/config points.KEY VALUE`` (the general /config hands points.* here).
        CommandSpec("pointsconfig", config, MOD, text(MESSAGES, "sum.pointsconfig", "en"),
                    "/config points.KEY VALUE", hidden=True),
        # The points share of the log (/modlog is moderation's full log).
        CommandSpec("pointslog", modlog, MOD, text(MESSAGES, "sum.pointslog", "en"), "/pointslog"),
    ),
    notices=(announce,),
    privacy=ModuleHook("points", service),
    messages=MESSAGES,
)
