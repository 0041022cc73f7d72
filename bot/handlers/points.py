"""Points commands: ``/me``, ``/leaderboard``, ``/badges``, ``/solved`` for members;
``/points``, ``/badge``, ``/season``, ``/config points.*`` and ``/modlog`` for moderators;
and the notice sink that announces badges and level-ups (and syncs Discord level roles).

Roles are checked by the router (each command declares ``min_role``); handlers only
validate their input. Every write goes through ``Store.write`` into the points
projection, which writes the audit entry in the same transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.handlers.points_i18n import LANGUAGES, badge_description, badge_name, t
from bot.markup import esc
from bot.ports import Capability, ChatRef, Messenger, Role
from bot.roles import RoleResolver
from bot.router import CommandContext, Router, UsageError
from engine.args import is_ascii_number
from engine.events import Event
from engine.members.lookup import community_id_of, home_community, resolve_member_in
from engine.points import rules as R
from engine.points import service
from engine.points.badges import BADGE_KEYS, BADGES
from engine.points.projection import MAX_AMOUNT, PointsError, PointsProjection
from engine.store.models import Account, Chat, Community, Member, Message, Thread
from engine.store.store import Store
from engine.store.writer import Notice

log = logging.getLogger(__name__)


# -- where a command runs and who it is about ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Where:
    """The community a command is about, the caller, and the reply language."""

    community_id: int
    member_id: int
    lang: str
    settings: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Target:
    member_id: int
    name: str
    is_bot: bool


def caller_member(session: Session, event: Event) -> int | None:
    """The member behind the event's account, if stored."""
    return session.execute(select(Account.member_id).where(
        Account.platform == str(event.platform), Account.external_id == event.user_id)).scalar_one_or_none()


def _lang_of(settings: dict[str, Any], default: str) -> str:
    lang = settings.get("language") if isinstance(settings, dict) else None
    return lang if lang in LANGUAGES else (default if default in LANGUAGES else "en")


def locate(session: Session, event: Event, default_lang: str) -> Where | None:
    """Resolve the command's community (the caller's most recently active one in a
    private chat) and the caller. None when there is no such community yet."""
    member = caller_member(session, event)
    if member is None:
        return None
    platform = str(event.platform)
    if event.is_private or not event.community_id:
        cid = home_community(session, platform, event.user_id)
    else:
        cid = community_id_of(session, platform, event.community_id)
    if cid is None:
        return None
    settings = session.execute(select(Community.settings).where(Community.id == cid)).scalar_one() or {}
    return Where(int(cid), int(member), _lang_of(settings, default_lang), settings)


def resolve_member(session: Session, community_id: int, platform: str, who: str) -> Target | None:
    """A member of ``community_id`` named by ``@username``, a platform user id, a mention or
    a display name (engine.members.lookup's one set of rules).

    Only accounts that have been seen in the community count (a stranger with the same
    username elsewhere is not found). Returns None when nobody matches.
    """
    member_id = resolve_member_in(session, platform, community_id, who)
    if member_id is None:
        return None
    row = session.execute(
        select(Member.display_name, Account.is_bot).join(Account, Account.member_id == Member.id)
        .where(Member.id == member_id, Account.platform == platform).order_by(Account.id).limit(1)
    ).first()
    return Target(member_id, (row[0] if row else "") or who.lstrip("@"), bool(row[1]) if row else False)


def _split_target(ctx: CommandContext, args: list[str]) -> tuple[str | None, list[str]]:
    """Take the member reference off the front of ``args``: ``@name`` or an id, else the
    user the command replies to. Returns (reference or None, remaining args)."""
    if args and args[0].startswith(("@", "<@")):
        return args[0], args[1:]
    if len(args) > 1 and not is_ascii_number(args[0]) and is_ascii_number(args[1]):
        return args[0], args[1:]  # "/points give u5 10 ..." — an id or name before the amount
    reply_user = ctx.event.reply_to_user_id
    if args and args[0].isascii() and args[0].isdigit() and not reply_user:
        return args[0], args[1:]
    if args and args[0].isascii() and args[0].isdigit() and len(args) > 1 and is_ascii_number(args[1]):
        return args[0], args[1:]  # "/points give 12345 10 ..." while replying: an explicit id wins
    if reply_user:
        return reply_user, args
    return None, args


def _name(session: Session, member_id: int | None) -> str:
    if member_id is None:
        return "—"
    name = session.execute(select(Member.display_name).where(Member.id == member_id)).scalar_one_or_none()
    return name or f"#{member_id}"


# -- the handlers ------------------------------------------------------------------------------


class PointsCommands:
    """The command handlers, sharing the store, the projection and the default language."""

    def __init__(self, store: Store, projection: PointsProjection, default_lang: str) -> None:
        self.store = store
        self.projection = projection
        self.default_lang = default_lang

    async def _where(self, ctx: CommandContext) -> Where:
        where = await self.store.read(lambda s: locate(s, ctx.event, self.default_lang))
        if where is None:
            raise UsageError(t(self.default_lang, "err.no_community"))
        return where

    async def _target(self, ctx: CommandContext, where: Where, ref: str | None, roles: RoleResolver) -> Target:
        if ref is None:
            raise UsageError(t(where.lang, "err.no_member"))
        found = await self.store.read(
            lambda s: resolve_member(s, where.community_id, str(ctx.event.platform), ref))
        if found is None:
            raise UsageError(t(where.lang, "err.unknown_member", who=esc(ref)))
        if found.is_bot:
            raise UsageError(t(where.lang, "err.bot"))
        if found.member_id == where.member_id:
            raise UsageError(t(where.lang, "err.self"))
        await roles.ensure_outranks(ctx, where.community_id, found.member_id, found.name,
                                    actor_member_id=where.member_id)
        return found

    def _error(self, lang: str, exc: PointsError, **names: Any) -> UsageError:
        code = exc.code
        mapping = {
            "self": ("err.self", {}), "bot": ("err.bot", {}), "duplicate": ("err.duplicate", {}),
            "bad_amount": ("points.bad_amount", {"max": MAX_AMOUNT}),
            "negative": ("points.negative", {"total": exc.data.get("total", 0)}),
            "unknown_badge": ("badge.unknown", {"badges": ", ".join(sorted(BADGE_KEYS))}),
            "already": ("badge.already", {}), "not_held": ("badge.not_held", {}),
            "season_open": ("season.open", {"name": esc(exc.data.get("name", ""))}),
            "no_season": ("season.none", {}), "bad_name": ("season.bad_name", {}),
        }
        key, values = mapping.get(code, ("err.duplicate", {}))
        return UsageError(t(lang, key, **{**names, **values}))

    # members ---------------------------------------------------------------------------
    async def me(self, ctx: CommandContext) -> None:
        """``/me``: points, level with a progress bar, rank, streak, badges. ``/me @member``
        shows another member's to moderators (anyone may name themselves)."""
        where = await self._where(ctx)
        now = ctx.event.at  # the summary takes its date in the community's timezone
        member_id = where.member_id
        if ctx.args:
            if len(ctx.args) > 1:
                raise UsageError(t(where.lang, "me.usage"))
            ref = ctx.args[0]
            found = await self.store.read(
                lambda s: resolve_member(s, where.community_id, str(ctx.event.platform), ref))
            if found is None:
                raise UsageError(t(where.lang, "err.unknown_member", who=esc(ref)))
            if found.member_id != where.member_id and ctx.role < Role.MODERATOR:
                raise UsageError(t(where.lang, "me.others_refused"))
            member_id = found.member_id

        def read(s: Session) -> tuple[service.Summary, str]:
            return service.summary(s, where.community_id, member_id, now), _name(s, member_id)

        info, name = await self.store.read(read)
        p, lang = info.progress, where.lang
        lines = [
            t(lang, "me.title", name=esc(name), points=info.total),
            t(lang, "me.level", level=p.level, bar=R.progress_bar(p.fraction), into=p.points - p.floor,
              span=p.ceiling - p.floor, next=p.level + 1),
            t(lang, "me.rank", rank=info.rank) if info.rank else t(lang, "me.unranked"),
            t(lang, "me.streak", streak=info.streak, best=info.best_streak),
            t(lang, "me.badges", badges=", ".join(esc(badge_name(lang, b)) for b in info.badges))
            if info.badges else t(lang, "me.no_badges"),
            t(lang, "me.stats", accepted=info.stats.get("accepted", 0), helped=info.helped),
        ]
        await ctx.reply("\n".join(lines))

    async def leaderboard(self, ctx: CommandContext) -> None:
        """``/leaderboard [week|month|season|all]`` (week by default)."""
        where = await self._where(ctx)
        period = (ctx.args[0].lower() if ctx.args else "week")
        if period not in service.PERIODS:
            raise UsageError(t(where.lang, "lb.bad_period"))
        try:
            label, rows = await self.store.read(
                lambda s: service.leaderboard(s, where.community_id, period, ctx.event.at))
        except LookupError:
            raise UsageError(t(where.lang, "lb.no_season")) from None
        lines = [t(where.lang, f"lb.title.{period}", label=esc(label))]
        lines += [t(where.lang, "lb.row", rank=r.rank, name=esc(r.name), points=r.points) for r in rows]
        if not rows:
            lines.append(t(where.lang, "lb.empty"))
        await ctx.reply("\n".join(lines))

    async def badges(self, ctx: CommandContext) -> None:
        """``/badges``: every badge, marking the caller's."""
        where = await self._where(ctx)
        held = {b for b, _ in await self.store.read(
            lambda s: service.badges_of(s, where.community_id, where.member_id))}
        lines = [t(where.lang, "badges.title")]
        for b in BADGES:
            lines.append(t(where.lang, "badges.row", mark="✓" if b.key in held else "·",
                           name=esc(badge_name(where.lang, b.key)), desc=esc(badge_description(where.lang, b.key))))
        await ctx.reply("\n".join(lines))

    async def solved(self, ctx: CommandContext, messenger: Messenger) -> None:
        """``/solved`` in reply to an answer: the asker (or a moderator) accepts it."""
        where = await self._where(ctx)
        ev = ctx.event
        if not ev.reply_to_message_id:
            raise UsageError(t(where.lang, "solved.usage"))

        def find(s: Session) -> tuple[int, int | None, int | None, int | None, bool] | None:
            row = s.execute(
                select(Message.id, Message.author_id, Message.reply_to_author_id, Thread.created_by,
                       Message.is_topic_start)
                .join(Chat, Chat.id == Message.chat_id)
                .outerjoin(Thread, Thread.id == Message.thread_id)
                .where(Chat.platform == str(ev.platform), Chat.external_id == ev.chat_id,
                       Message.external_id == ev.reply_to_message_id)
            ).first()
            return (int(row[0]), row[1], row[2], row[3], bool(row[4])) if row else None

        found = await self.store.read(find)
        if found is None or found[1] is None:
            raise UsageError(t(where.lang, "solved.unknown"))
        msg_id, author, asker, starter, is_start = found
        answerer = int(author) if author is not None else 0
        is_asker = where.member_id in (asker, None if is_start else starter)
        if not is_asker and ctx.role < Role.MODERATOR:
            raise UsageError(t(where.lang, "solved.not_asker"))
        notices = await self.store.write(lambda s: self.projection.accept_answer(
            s, where.community_id, msg_id, answerer, where.member_id, ev.at))
        if not notices:
            raise UsageError(t(where.lang, "solved.nothing"))
        for notice in notices:
            await self.announce(notice, ev, messenger)

    # moderators --------------------------------------------------------------------------
    async def points(self, ctx: CommandContext, messenger: Messenger, roles: RoleResolver) -> None:
        """``/points give|take @member N reason``."""
        where = await self._where(ctx)
        args = list(ctx.args)
        if not args or args[0].lower() not in ("give", "take"):
            raise UsageError(t(where.lang, "points.usage"))
        action = args.pop(0).lower()
        ref, rest = _split_target(ctx, args)
        if not rest:
            raise UsageError(t(where.lang, "points.usage") if ref else t(where.lang, "err.no_member"))
        target = await self._target(ctx, where, ref, roles)
        raw = rest[0]
        # ASCII digits only (give/take says which way), at most 9 of them, then the range.
        if not is_ascii_number(raw) or not 1 <= int(raw) <= MAX_AMOUNT:
            raise UsageError(t(where.lang, "points.bad_amount", max=MAX_AMOUNT))
        magnitude = int(raw)
        reason = " ".join(rest[1:]).strip()
        if not reason:
            raise UsageError(t(where.lang, "points.need_reason"))
        amount = magnitude if action == "give" else -magnitude
        ev = ctx.event
        try:
            result = await self.store.write(lambda s: self.projection.adjust(
                s, where.community_id, target.member_id, amount, actor_id=where.member_id,
                reason=reason[:500], at=ev.at, source_key=f"manual:{ev.dedup_key}"))
        except PointsError as exc:
            raise self._error(where.lang, exc, name=esc(target.name)) from None
        key = "points.given" if amount > 0 else "points.taken"
        await ctx.reply(t(where.lang, key, amount=abs(amount), name=esc(target.name), total=result.total))
        for notice in result.notices:
            await self.announce(notice, ev, messenger)

    async def badge(self, ctx: CommandContext, messenger: Messenger, roles: RoleResolver) -> None:
        """``/badge grant|revoke @member badge``."""
        where = await self._where(ctx)
        args = list(ctx.args)
        if not args or args[0].lower() not in ("grant", "revoke"):
            raise UsageError(t(where.lang, "badge.usage"))
        action = args.pop(0).lower()
        ref, rest = _split_target(ctx, args)
        if not rest:
            raise UsageError(t(where.lang, "badge.usage"))
        key = rest[0].lower()
        if key not in BADGE_KEYS:
            raise UsageError(t(where.lang, "badge.unknown", badges=", ".join(sorted(BADGE_KEYS))))
        target = await self._target(ctx, where, ref, roles)
        reason = " ".join(rest[1:])[:500]
        ev = ctx.event
        names = {"name": esc(target.name), "badge": esc(badge_name(where.lang, key))}
        try:
            if action == "grant":
                notice = await self.store.write(lambda s: self.projection.grant_badge(
                    s, where.community_id, target.member_id, key, actor_id=where.member_id, at=ev.at,
                    reason=reason))
            else:
                await self.store.write(lambda s: self.projection.revoke_badge(
                    s, where.community_id, target.member_id, key, actor_id=where.member_id, at=ev.at,
                    reason=reason))
        except PointsError as exc:
            raise self._error(where.lang, exc, **names) from None
        await ctx.reply(t(where.lang, "badge.granted" if action == "grant" else "badge.revoked", **names))
        if action == "grant":
            await self.announce(notice, ev, messenger)

    async def season(self, ctx: CommandContext) -> None:
        """``/season start NAME`` / ``/season end``."""
        where = await self._where(ctx)
        args = list(ctx.args)
        action = args[0].lower() if args else ""
        ev = ctx.event
        try:
            if action == "start":
                name = " ".join(args[1:]).strip()
                if not name:
                    raise UsageError(t(where.lang, "season.bad_name"))
                await self.store.write(lambda s: self.projection.start_season(
                    s, where.community_id, name, actor_id=where.member_id, at=ev.at))
                await ctx.reply(t(where.lang, "season.started", name=esc(name[:128])))
            elif action == "end":
                name = await self.store.write(lambda s: self.projection.end_season(
                    s, where.community_id, actor_id=where.member_id, at=ev.at))
                await ctx.reply(t(where.lang, "season.ended", name=esc(name)))
            else:
                raise UsageError(t(where.lang, "season.usage"))
        except PointsError as exc:
            raise self._error(where.lang, exc) from None

    async def config(self, ctx: CommandContext) -> None:
        """``/config points.<key> <value>``: validated, audited, effective immediately."""
        where = await self._where(ctx)
        keys = ", ".join(R.valid_keys())
        if len(ctx.args) < 2:
            raise UsageError(t(where.lang, "config.usage", keys=keys))
        dotted = ctx.args[0].lower()
        if not dotted.startswith("points."):
            raise UsageError(t(where.lang, "config.other", keys=keys))
        key, raw = dotted.removeprefix("points."), " ".join(ctx.args[1:])
        ev = ctx.event
        try:
            value = await self.store.write(lambda s: self.projection.set_setting(
                s, where.community_id, key, raw, actor_id=where.member_id, at=ev.at))
        except R.RuleValueError as exc:
            raise UsageError(t(where.lang, "config.bad", error=esc(str(exc)))) from None
        await ctx.reply(t(where.lang, "config.set", key=esc(key), value=esc(value)))

    async def modlog(self, ctx: CommandContext) -> None:
        """``/modlog``: the latest manual points / badge / season / config changes."""
        where = await self._where(ctx)

        def read(s: Session) -> list[str]:
            rows = []
            for e in service.recent_audit(s, where.community_id, 15):
                details = " ".join(f"{k}={v}" for k, v in (e.details or {}).items() if v not in (None, ""))
                rows.append(t(where.lang, "modlog.row", at=e.at.strftime("%Y-%m-%d %H:%M"),
                              actor=esc(_name(s, e.actor_id)), action=esc(e.action),
                              target=esc(_name(s, e.target_member_id)) if e.target_member_id else "",
                              details=esc(details)))
            return rows

        rows = await self.store.read(read)
        await ctx.reply("\n".join([t(where.lang, "modlog.title"), *rows]) if rows
                        else t(where.lang, "modlog.empty"))

    # announcements ------------------------------------------------------------------------
    async def announce(self, notice: Notice, event: Event, messenger: Messenger) -> None:
        """Say a badge / level-up / accepted answer in the event's chat (unless the
        community turned ``points.announce`` off) and sync Discord level roles."""
        if notice.kind not in ("badge", "level_up", "accepted") or notice.member_id is None:
            return
        member_id = notice.member_id
        data = notice.data
        if "name" in data:  # the projection already looked everything up in the writer
            name, ext = str(data["name"]), data.get("account")
            lang = _lang_of({"language": data.get("language")}, self.default_lang)
            announce = bool(data.get("announce"))
            level_roles = R.level_roles({"level_roles": data["level_roles"]} if data.get("level_roles") else {})
        else:
            def read(s: Session) -> tuple[dict[str, Any], str, str | None]:
                settings = s.execute(select(Community.settings).where(
                    Community.id == notice.community_id)).scalar_one_or_none() or {}
                ext = s.execute(select(Account.external_id).where(
                    Account.member_id == member_id, Account.platform == str(event.platform))
                    .order_by(Account.id).limit(1)).scalar_one_or_none()
                return settings, _name(s, member_id), ext

            settings, name, ext = await self.store.read(read)
            lang = _lang_of(settings, self.default_lang)
            points_cfg = settings.get("points") if isinstance(settings.get("points"), dict) else {}
            announce = R.rules_from_settings(points_cfg).announce
            level_roles = R.level_roles(points_cfg)
        if announce:
            if notice.kind == "badge":
                text = t(lang, "ann.badge", name=esc(name), badge=esc(badge_name(lang, notice.data.get("badge", ""))))
            elif notice.kind == "level_up":
                text = t(lang, "ann.level", name=esc(name), level=notice.data.get("level", 0))
            else:
                text = t(lang, "ann.accepted", name=esc(name), points=notice.data.get("points", 0))
            await messenger.send(ChatRef.of(event), text)
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


def register(router: Router, app: Any) -> None:
    """Register the points commands and the announcement sink."""
    projection = app.services.get("points") if isinstance(getattr(app, "services", None), dict) else None
    if projection is None:  # running without the projection (benchmarks' OFF arm)
        projection = PointsProjection(enabled=False)
    default_lang = getattr(app.settings, "language", "en")
    cmds = PointsCommands(app.store, projection, default_lang)
    en = {k: t("en", f"sum.{k}") for k in
          ("me", "leaderboard", "badges", "solved", "points", "badge", "season", "config", "modlog")}
    router.command("me", cmds.me, summary=en["me"], usage="/me [@member]")
    router.command("leaderboard", cmds.leaderboard, summary=en["leaderboard"],
                   usage="/leaderboard [week|month|season|all]", aliases=("top",))
    router.command("badges", cmds.badges, summary=en["badges"], usage="/badges")
    router.command("solved", cmds.solved, summary=en["solved"], usage="/solved (as a reply)")
    mod = Role.MODERATOR
    router.command("points", cmds.points, min_role=mod, summary=en["points"],
                   usage="/points give|take @member N reason")
    router.command("badge", cmds.badge, min_role=mod, summary=en["badge"],
                   usage="/badge grant|revoke @member badge")
    router.command("season", cmds.season, min_role=mod, summary=en["season"],
                   usage="/season start NAME | /season end")
    # /config may belong to a general settings module one day; then ours is /pointsconfig.
    config_name = "config" if router.spec("config") is None else "pointsconfig"
    router.command(config_name, cmds.config, min_role=mod, summary=en["config"],
                   usage=f"/{config_name} points.KEY VALUE", hidden=config_name != "config")
    # /modlog is the moderation module's full log when it runs; then ours is /pointslog.
    log_name = "modlog" if router.spec("modlog") is None else "pointslog"
    router.command(log_name, cmds.modlog, min_role=mod, summary=en["modlog"], usage=f"/{log_name}",
                   hidden=log_name != "modlog")
    router.on_notice(cmds.announce)
