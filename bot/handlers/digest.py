"""Owners' digests in the bot: ``/owner add|remove|list``, ``/digest [week|month]``, the
weekly delivery job and ``cohort digest``. The engine (:mod:`engine.digest`) computes
and renders; this file only asks, checks who may see it and hands it to the Notifier.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from bot.markup import bold, esc
from bot.modules import Catalog, CommunityRef, Daily, JobSpec, Module, SettingSpec
from bot.notify import Delivery, Notification, Notifier, Purpose
from bot.ports import ChatRef, Clock, Role
from bot.router import CommandContext, CommandSpec, UsageError
from bot.scheduler import parse_hhmm
from bot.settings import Settings
from engine.digest import owners as owner_store
from engine.digest import tables as digest_tables
from engine.digest.build import Digest, PeriodError, build_digest, period_ending, record_segments
from engine.digest.chart import render_chart
from engine.digest.render import render_html, render_json, render_markdown, render_markup
from engine.members.lookup import MemberBrief
from engine.members.privacy import ModuleHook
from engine.points.days import zone_of
from engine.store.community_settings import stored_settings
from engine.store.models import Community
from engine.store.store import Store

log = logging.getLogger(__name__)

CLI_NAME = "digest"
MAX_DM_CHARS = 3800  # Telegram's message limit is 4096; leave room for the adapter's markup

MESSAGES: Catalog = {
    "owner.bot": {"en": "{name} is a bot; bots get no digest.", "zh": "{name} 是机器人，机器人不接收摘要。"},
    "owner.none": {"en": "This community has no digest owners yet. Add one with /owner add @member.",
                   "zh": "本社区还没有摘要接收人。用 /owner add @成员 添加。"},
    "owner.title": {"en": "<b>Digest owners</b>", "zh": "<b>摘要接收人</b>"},
    "owner.config": {"en": " (config)", "zh": "（配置）"},
    "owner.left": {"en": " — left", "zh": " — 已离开"},
    "owner.usage": {"en": "Usage: /owner add @member, /owner remove @member or /owner list",
                    "zh": "用法：/owner add @成员、/owner remove @成员 或 /owner list"},
    "owner.added": {"en": "{name} now receives the weekly digest.", "zh": "{name} 现在会收到每周摘要。"},
    "owner.already": {"en": "{name} already receives the weekly digest.", "zh": "{name} 已经在接收每周摘要。"},
    "owner.removed": {"en": "{name} no longer receives the weekly digest.", "zh": "{name} 不再接收每周摘要。"},
    "owner.not_receiving": {"en": "{name} was not receiving the weekly digest.", "zh": "{name} 本来就没有接收每周摘要。"},
    "digest.bad_kind": {"en": "I make digests for a week or a month, not {kind}: /digest week or /digest month.",
                        "zh": "我只做周摘要或月摘要，不做“{kind}”：/digest week 或 /digest month。"},
    "digest.not_owner": {"en": "The digest is for the community's owners and admins.",
                         "zh": "摘要仅供社区的所有者和管理员查看。"},
    "sum.owner": {"en": "who receives the weekly digest", "zh": "谁接收每周摘要"},
    "sum.digest": {"en": "the community's digest (owners and admins)", "zh": "社区摘要（所有者和管理员）"},
}


def make_digest(session: Session, community_id: int, kind: str, now: datetime, settings: Settings,
                *, whole_days: bool = False) -> Digest:
    """Build the digest (raises PeriodError for a bad period, LookupError for no community)."""
    if session.get(Community, community_id) is None:
        raise LookupError(f"no community {community_id}")
    tz = zone_of(stored_settings(session, community_id))
    period = period_ending(kind, now, tz, whole_days=whole_days)
    return build_digest(session, community_id, period, now=now, answer_hours=settings.digest.answer_hours,
                        default_language=settings.language)


def _dm_text(d: Digest) -> str:
    text = render_markup(d)
    return text if len(text) <= MAX_DM_CHARS else text[: MAX_DM_CHARS - 1].rsplit("\n", 1)[0] + "\n…"


# -- /owner -----------------------------------------------------------------------------------
async def _owner_target(ctx: CommandContext) -> MemberBrief:
    """The named member (oneself included: an admin may receive the digest), or
    UsageError for nobody named, an unknown member or a bot."""
    target, _ = await ctx.target(ctx.args[1:])
    if target.is_bot:
        raise UsageError(ctx.t("owner.bot", name=esc(target.display_name)))
    return target


async def owner(ctx: CommandContext, store: Store, settings: Settings, clock: Clock) -> None:
    sub = ctx.args[0].lower() if ctx.args else "list"
    community_id = ctx.community_id
    owner_ids = list(settings.owner_ids)
    if sub == "list":
        found = await store.read(lambda s: owner_store.owners(s, community_id, owner_ids))
        if not found:
            await ctx.reply(ctx.t("owner.none"))
            return
        lines = [f"• {esc(o.name)}" + (ctx.t("owner.config") if o.from_config else "")
                 + ("" if o.present else ctx.t("owner.left")) for o in found]
        await ctx.reply(ctx.t("owner.title") + "\n" + "\n".join(lines))
        return
    if sub not in ("add", "remove"):
        raise UsageError(ctx.t("owner.usage"))
    target = await _owner_target(ctx)
    actor = ctx.member_id
    now = clock()
    if sub == "add":
        changed = await store.write(lambda s: owner_store.add_owner(s, community_id, target.member_id, by=actor, at=now))
        key = "owner.added" if changed else "owner.already"
    else:
        changed = await store.write(lambda s: owner_store.remove_owner(s, community_id, target.member_id))
        key = "owner.removed" if changed else "owner.not_receiving"
    await ctx.reply(ctx.t(key, name=bold(target.display_name)))


# -- /digest ----------------------------------------------------------------------------------
async def digest(ctx: CommandContext, store: Store, settings: Settings, clock: Clock) -> None:
    kind = ctx.args[0].lower() if ctx.args else "week"
    if kind not in ("week", "month"):
        raise UsageError(ctx.t("digest.bad_kind", kind=esc(kind)))
    community_id = ctx.community_id
    if ctx.role < Role.ADMIN:  # owners may too: a per-community list, not a role the router knows
        me = ctx.member_id
        if not await store.read(lambda s: owner_store.is_owner(s, community_id, me)):
            raise UsageError(ctx.t("digest.not_owner"))
    now = clock()
    built = await store.read(lambda s: make_digest(s, community_id, kind, now, settings))
    await ctx.reply(_dm_text(built))
    png = render_chart(built)
    try:
        await ctx.messenger.send_picture(ChatRef.of(ctx.event), png, "")
    except Exception:  # the text already arrived; a missing chart is not worth an error reply
        log.warning("could not send the digest chart in %s", ctx.event.chat_id, exc_info=True)


# -- weekly delivery --------------------------------------------------------------------------
def delivery_key(community_id: int, d: Digest, member_id: int) -> str:
    local_start = d.period.start.astimezone(zone_of({"timezone": d.timezone})).date()
    return f"digest:{community_id}:{local_start.isoformat()}:{member_id}"


async def deliver_digest(community_id: int, store: Store, notifier: Notifier, settings: Settings,
                         now: datetime, *, kind: str = "week") -> dict[int, Delivery]:
    """Build the period's digest (whole local days up to today), record its segments and
    DM it with its chart to every owner still in the community. An owner who cannot be
    DMed (or has left) is reported once to whoever can fix it. Returns delivery per owner."""
    built = await store.read(lambda s: make_digest(s, community_id, kind, now, settings, whole_days=True))
    await store.write(lambda s: record_segments(s, built))
    owner_ids = list(settings.owner_ids)
    found = await store.read(lambda s: owner_store.owners(s, community_id, owner_ids))
    text, png = _dm_text(built), render_chart(built)
    results: dict[int, Delivery] = {}
    for o in found:
        if not o.present:
            await _report(store, notifier, community_id, o, owner_ids, now, built, "has left the community")
            continue
        delivery = await notifier.notify(Notification(
            delivery_key(community_id, built, o.member_id), o.member_id, community_id, Purpose.DIGEST,
            text, picture=png, picture_name="digest.png"))
        results[o.member_id] = delivery
        if delivery == Delivery.UNREACHABLE:
            await _report(store, notifier, community_id, o, owner_ids, now, built, "cannot be messaged privately "
                          "(they need to open a private chat with me once)")
        elif delivery == Delivery.SENT:
            await store.write(partial(owner_store.reachable_again, community_id=community_id,
                                      member_id=o.member_id))
    return results


async def _report(store: Store, notifier: Notifier, community_id: int, o: owner_store.Owner,
                  owner_ids: list[str], now: datetime, built: Digest, why: str) -> None:
    if not await store.write(lambda s: owner_store.claim_unreachable_report(s, community_id, o.member_id, now)):
        return
    admins = await store.read(lambda s: owner_store.admins_to_tell(s, community_id, o, owner_ids))
    text = (f"{bold(o.name)} is a digest owner of {esc(built.title)} but {esc(why)}, so the digest did not "
            f"reach them. /owner remove them, or ask them to fix it. I will not repeat this.")
    await notifier.notify_all([
        Notification(f"digest-owner-unreachable:{community_id}:{o.member_id}:{admin}", admin, community_id,
                     Purpose.SERVICE, text) for admin in admins])
    if not admins:
        log.warning("digest owner %s of community %s %s, and there is no admin to tell", o.member_id, community_id, why)


async def weekly_digest(community: CommunityRef, store: Store, notifier: Notifier, settings: Settings,
                        now: datetime) -> None:
    """The per-community scheduled job (the community's local day and time)."""
    await deliver_digest(community.id, store, notifier, settings, now)


# -- cohort digest ----------------------------------------------------------------------------
cli = typer.Typer(help="Owners' digest of a community: KPIs, influencers, segments, topics, unanswered questions.",
                  invoke_without_command=True, no_args_is_help=False)

FORMATS = ("md", "html", "png", "json")


@cli.callback()
def digest_cli(
    community: Annotated[str | None, typer.Option("--community", help="id, platform:external_id or external id")] = None,
    period: Annotated[str, typer.Option("--period", help="week | month")] = "week",
    fmt: Annotated[str, typer.Option("--format", help="md | html | png | json")] = "md",
    out: Annotated[Path | None, typer.Option("--out", help="file to write (default: stdout; png needs a file)")] = None,
    until: Annotated[str | None, typer.Option("--until", help="period end, ISO date/time in UTC (default: now)")] = None,
) -> None:
    """Render a community's digest to a file (or stdout). Exit 2 for bad arguments."""
    from bot.cli_setup import ready_app, settings_or_exit
    from engine.members.lookup import resolve_community

    def fail(message: str) -> typer.Exit:
        typer.secho(message, fg="red", err=True)
        return typer.Exit(2)

    if fmt not in FORMATS:
        raise fail(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if fmt == "png" and out is None:
        raise fail("--format png needs --out FILE")
    end = datetime.now(UTC)
    if until:
        try:
            end = datetime.fromisoformat(until)
        except ValueError:
            raise fail(f"--until must be an ISO date or time such as 2024-05-01, not {until!r}") from None
        end = end.replace(tzinfo=UTC) if end.tzinfo is None else end.astimezone(UTC)
    settings = settings_or_exit()
    application = ready_app(settings)

    def read(session: Session) -> Digest:
        return make_digest(session, resolve_community(session, community), period, end, settings)

    try:
        built = application.store.read_sync(read)
    except (LookupError, PeriodError) as exc:
        raise fail(str(exc).strip("'\"")) from exc
    data: bytes | str
    if fmt == "png":
        data = render_chart(built)
    elif fmt == "html":
        data = render_html(built, chart_src=(out.with_suffix(".png").name if out else None))
        if out is not None:
            out.with_suffix(".png").write_bytes(render_chart(built))
    elif fmt == "json":
        data = render_json(built)
    else:
        data = render_markdown(built)
    if out is None:
        typer.echo(data)
        return
    if isinstance(data, bytes):
        out.write_bytes(data)
    else:
        out.write_text(data, encoding="utf-8")
    typer.echo(f"wrote {out}")


def _hhmm(value: str) -> str:
    parse_hhmm(value)
    return value


def module(settings: Settings) -> Module:
    """The digest capability; weekly at ``digest.send_day`` / ``digest.send_at`` (the
    community's local time; a community may move the time with its ``digest.send_at``)."""
    return Module(
        name="digest",
        tables=digest_tables,
        commands=(
            CommandSpec("owner", owner, Role.ADMIN, "who receives the weekly digest",
                        "/owner add @member · /owner remove @member · /owner list"),
            CommandSpec("digest", digest, Role.MEMBER, "the community's digest (owners and admins)",
                        "/digest [week|month]"),
        ),
        jobs=(JobSpec("digest.weekly",
                      Daily(at=settings.digest.send_at, setting="digest.send_at", days_of_week=settings.digest.send_day),
                      weekly_digest, per_community=True, summary="owners' weekly digest"),),
        settings=(SettingSpec("digest.send_at", str, settings.digest.send_at, validate=_hhmm,
                              help="local time of the weekly digest, HH:MM"),),
        privacy=ModuleHook(owner_store.name, owner_store),  # who receives the digest
        cli=cli,
        cli_name=CLI_NAME,
        messages=MESSAGES,
    )
