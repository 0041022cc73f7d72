"""``/recommend [n]`` for members and ``/recommend stats`` for moderators.

Serving never imports torch: picks come from :class:`engine.recsys.recommend.RecommenderService`
(numpy over exported factors, hot-reloaded from ``settings.recsys.artifact_dir``), which
this module provides as ``recommender``. Clicks on the buttons are recorded by the catalog
projection (``rec:<impression>:like|done`` button data) in the event's transaction.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from bot import recsys_cli
from bot.args import int_arg
from bot.handlers.catalog import caller
from bot.markup import esc, link
from bot.modules import Catalog, Module
from bot.ports import Button, Role
from bot.router import CommandContext, CommandSpec, UsageError
from bot.settings import Settings
from engine.catalog.links import thread_links
from engine.catalog.projection import click_data
from engine.recsys.recommend import (
    MAX_N,
    Pick,
    Recommendations,
    RecommenderService,
    record_impressions,
    slot_stats,
)
from engine.recsys.routing import questions_you_could_answer
from engine.store.store import Store

DEFAULT_N = 5

MESSAGES: Catalog = {
    "rec.usage": {"en": "Usage: /recommend [1-{max}] — how many items, e.g. /recommend 3",
                  "zh": "用法：/recommend [1-{max}] — 推荐几条，例如 /recommend 3"},
    "rec.stats_role": {"en": "/recommend stats is for moderators and above.",
                       "zh": "/recommend stats 仅限版主及以上使用。"},
    "rec.empty": {"en": "The catalog is empty, so there is nothing to recommend yet. Moderators can add items "
                        "with /item add, share links in the chat, or run <code>cohort catalog import</code>.",
                  "zh": "目录是空的，暂时没有可推荐的内容。管理员可以用 /item add 添加条目、在群里分享链接，"
                        "或运行 <code>cohort catalog import</code>。"},
    "rec.all_seen": {"en": "You have already seen everything in the catalog — nice work! 🎉",
                     "zh": "你已经看完了目录里的所有内容——干得漂亮！🎉"},
    "rec.title": {"en": "<b>Recommended for you</b>", "zh": "<b>为你推荐</b>"},
    "rec.questions": {"en": "<b>Questions you could answer</b>", "zh": "<b>你可以回答的问题</b>"},
    "rec.open": {"en": "{n}. open", "zh": "{n}. 打开"},
    "rec.like": {"en": "{n}. 👍 interested", "zh": "{n}. 👍 感兴趣"},
    "rec.done": {"en": "{n}. done ✓", "zh": "{n}. 完成 ✓"},
    "rec.stats_title": {"en": "<b>/recommend click-through</b> (clicked / shown)",
                        "zh": "<b>/recommend 点击率</b>（点击 / 展示）"},
    "rec.all_time": {"en": "all time", "zh": "全部"},
    "rec.last_week": {"en": "last 7 days", "zh": "最近 7 天"},
    "rec.stats_row": {"en": "{label}: main {main_clicks}/{main_shown} ({main_ctr}), exploration "
                            "{explore_clicks}/{explore_shown} ({explore_ctr})",
                      "zh": "{label}：主推荐 {main_clicks}/{main_shown}（{main_ctr}），探索 "
                            "{explore_clicks}/{explore_shown}（{explore_ctr}）"},
    "sum.recommend": {"en": "items picked for you (moderators: /recommend stats)",
                      "zh": "为你挑选的内容（版主：/recommend stats）"},
}


def _parse_n(ctx: CommandContext) -> int:
    args = ctx.args
    if not args:
        return DEFAULT_N
    if len(args) > 1:
        raise UsageError(ctx.t("rec.usage", max=MAX_N))
    return int_arg(args[0], lo=1, hi=MAX_N, what="the number of items", language=ctx.language, what_zh="条数")


def _line(number: int, pick: Pick) -> str:
    title = link(pick.title, pick.url) if pick.url else esc(pick.title)
    marker = "🔍 " if pick.slot == "explore" else ""
    return f"{number}. {marker}{title} <code>{esc(pick.key)}</code>\n   <i>{esc(pick.reason)}</i>"


def _buttons(ctx: CommandContext, number: int, pick: Pick, impression_id: int) -> list[Button]:
    buttons = [Button(ctx.t("rec.open", n=number), url=pick.url)] if pick.url else []
    buttons.append(Button(ctx.t("rec.like", n=number), data=click_data(impression_id, "like")))
    buttons.append(Button(ctx.t("rec.done", n=number), data=click_data(impression_id, "done")))
    return buttons


async def recommend_command(ctx: CommandContext, store: Store, recommender: RecommenderService) -> None:
    """Reply with the member's top picks and their buttons, or the moderators' stats."""
    service = recommender
    if ctx.args and ctx.args[0].lower() == "stats":
        # A sub-command with a higher bar than the command: the one role check the router can't do.
        if ctx.role < Role.MODERATOR:
            raise UsageError(ctx.t("rec.stats_role"))
        await _stats(ctx, store, service)
        return
    n = _parse_n(ctx)
    where = caller(ctx)
    now = ctx.event.at
    recs: Recommendations = await store.read(
        lambda s: service.recommend(s, where.community_id, where.member_id, n, now=now))
    if recs.empty_catalog:
        await ctx.reply(ctx.t("rec.empty"))
        return
    if recs.all_seen:
        await ctx.reply(ctx.t("rec.all_seen"))
        return
    # A thread item has no URL of its own: its jump link (Telegram topic, Discord thread) opens it.
    links = await store.read(lambda s: thread_links(s, [p.item_id for p in recs.picks if not p.url]))
    picks = [replace(p, url=links[p.item_id]) if p.item_id in links else p for p in recs.picks]
    ids = await store.write(lambda s: record_impressions(s, where.community_id, where.member_id, recs.picks, now))
    lines = [_line(i, pick) for i, pick in enumerate(picks, 1)]
    answerable = await store.read(
        lambda s: questions_you_could_answer(s, where.community_id, where.member_id, now))
    if answerable:
        lines.append("\n" + ctx.t("rec.questions"))
        lines += [f"• {esc(q.title)}\n   <i>{esc(q.reason)}</i>" for q in answerable]
    buttons = [b for i, (pick, imp) in enumerate(zip(picks, ids, strict=True), 1) for b in _buttons(ctx, i, pick, imp)]
    await ctx.reply(ctx.t("rec.title") + "\n" + "\n".join(lines), buttons=buttons)


async def _stats(ctx: CommandContext, store: Store, service: RecommenderService) -> None:
    where = caller(ctx)
    model = service.model_for(where.community_id)

    def read(session: Session) -> tuple[Any, Any]:
        return (slot_stats(session, where.community_id),
                slot_stats(session, where.community_id, since=ctx.event.at - timedelta(days=7)))

    total, week = await store.read(read)
    lines = [ctx.t("rec.stats_title")]
    for label, rep in ((ctx.t("rec.all_time"), total), (ctx.t("rec.last_week"), week)):
        lines.append(ctx.t("rec.stats_row", label=label, main_clicks=rep.main_clicks, main_shown=rep.main_impressions,
                           main_ctr=f"{rep.main_ctr:.0%}", explore_clicks=rep.explore_clicks,
                           explore_shown=rep.explore_impressions, explore_ctr=f"{rep.explore_ctr:.0%}"))
    if model is not None:
        metrics = model.manifest.get("metrics", {})
        ndcg = metrics.get("validation_ndcg@10")
        detail = f", validation NDCG@10 {ndcg:.3f}" if isinstance(ndcg, int | float) else ""
        if isinstance(metrics.get("candidate"), str):
            count = len(metrics.get("candidates") or {})
            detail = f" — {esc(metrics['candidate'])} (family {esc(str(metrics.get('family', '?')))}" + (
                f", best of {count} candidates on time-aware validation" if count else "") + ")" + detail
        lines.append(f"model: {esc(model.path.name if model.path else model.model_name)}{detail}")
    note = service.note(where.community_id)
    if note:
        lines.append(f"⚠️ {esc(note)}")
    await ctx.reply("\n".join(lines))


def make_recommender(settings: Settings) -> RecommenderService:
    """The shared serving state (``recommender`` by parameter name)."""
    return RecommenderService(settings.recsys.artifact_dir)


MODULE = Module(
    name="recommend",
    provides=lambda deps: replace(deps, recommender=make_recommender(deps.settings)),
    commands=(CommandSpec("recommend", recommend_command, summary="items picked for you (moderators: /recommend stats)",
                          usage=f"/recommend [1-{MAX_N}] | /recommend stats"),),
    cli=recsys_cli.cli,
    cli_name=recsys_cli.CLI_NAME,
    messages=MESSAGES,
)
