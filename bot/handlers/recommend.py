"""``/recommend [n]`` for members and ``/recommend stats`` for moderators.

Serving never imports torch: picks come from :class:`engine.recsys.recommend.RecommenderService`
(numpy over exported factors, hot-reloaded from ``settings.recsys.artifact_dir``), kept
in ``app.services["recsys"]``. Clicks on the buttons are recorded by the catalog
projection (``rec:<impression>:like|done`` button data) in the event's transaction.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from bot.args import int_arg
from bot.handlers.catalog import caller_of
from bot.markup import esc, link
from bot.ports import Button, Role
from bot.router import CommandContext, Router, UsageError
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
SERVICE_KEY = "recsys"


def _parse_n(args: tuple[str, ...]) -> int:
    if not args:
        return DEFAULT_N
    if len(args) > 1:
        raise UsageError(f"Usage: /recommend [1-{MAX_N}] — how many items, e.g. /recommend 3")
    return int_arg(args[0], lo=1, hi=MAX_N, what="the number of items")


def _line(number: int, pick: Pick) -> str:
    title = link(pick.title, pick.url) if pick.url else esc(pick.title)
    marker = "🔍 " if pick.slot == "explore" else ""
    return f"{number}. {marker}{title} <code>{esc(pick.key)}</code>\n   <i>{esc(pick.reason)}</i>"


def _buttons(number: int, pick: Pick, impression_id: int) -> list[Button]:
    buttons = [Button(f"{number}. open", url=pick.url)] if pick.url else []
    buttons.append(Button(f"{number}. 👍 interested", data=click_data(impression_id, "like")))
    buttons.append(Button(f"{number}. done ✓", data=click_data(impression_id, "done")))
    return buttons


async def recommend_command(ctx: CommandContext, store: Store, app: Any) -> None:
    """Reply with the member's top picks and their buttons, or the moderators' stats."""
    service: RecommenderService = app.services[SERVICE_KEY]
    if ctx.args and ctx.args[0].lower() == "stats":
        if ctx.role < Role.MODERATOR:
            raise UsageError("/recommend stats is for moderators and above.")
        await _stats(ctx, store, service)
        return
    n = _parse_n(ctx.args)
    where = await caller_of(store, ctx.event)
    now = ctx.event.at
    recs: Recommendations = await store.read(
        lambda s: service.recommend(s, where.community_id, where.member_id, n, now=now))
    if recs.empty_catalog:
        await ctx.reply("The catalog is empty, so there is nothing to recommend yet. Moderators can add items "
                        "with /item add, share links in the chat, or run <code>cohort catalog import</code>.")
        return
    if recs.all_seen:
        await ctx.reply("You have already seen everything in the catalog — nice work! 🎉")
        return
    # A thread item has no URL of its own: its jump link (Telegram topic, Discord thread) opens it.
    links = await store.read(lambda s: thread_links(s, [p.item_id for p in recs.picks if not p.url]))
    picks = [replace(p, url=links[p.item_id]) if p.item_id in links else p for p in recs.picks]
    ids = await store.write(lambda s: record_impressions(s, where.community_id, where.member_id, recs.picks, now))
    lines = [_line(i, pick) for i, pick in enumerate(picks, 1)]
    answerable = await store.read(
        lambda s: questions_you_could_answer(s, where.community_id, where.member_id, now))
    if answerable:
        lines.append("\n<b>Questions you could answer</b>")
        lines += [f"• {esc(q.title)}\n   <i>{esc(q.reason)}</i>" for q in answerable]
    buttons = [b for i, (pick, imp) in enumerate(zip(picks, ids, strict=True), 1) for b in _buttons(i, pick, imp)]
    await ctx.reply("<b>Recommended for you</b>\n" + "\n".join(lines), buttons=buttons)


async def _stats(ctx: CommandContext, store: Store, service: RecommenderService) -> None:
    where = await caller_of(store, ctx.event)
    model = service.model_for(where.community_id)

    def read(session: Session) -> tuple[Any, Any]:
        return (slot_stats(session, where.community_id),
                slot_stats(session, where.community_id, since=ctx.event.at - timedelta(days=7)))

    total, week = await store.read(read)
    lines = ["<b>/recommend click-through</b> (clicked / shown)"]
    for label, rep in (("all time", total), ("last 7 days", week)):
        lines.append(f"{label}: main {rep.main_clicks}/{rep.main_impressions} ({rep.main_ctr:.0%}), "
                     f"exploration {rep.explore_clicks}/{rep.explore_impressions} ({rep.explore_ctr:.0%})")
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


def register(router: Router, app: Any) -> None:
    """Create the shared :class:`RecommenderService` and add ``/recommend``."""
    app.services.setdefault(SERVICE_KEY, RecommenderService(app.settings.recsys.artifact_dir))
    router.command("recommend", recommend_command, summary="items picked for you (moderators: /recommend stats)",
                   usage=f"/recommend [1-{MAX_N}] | /recommend stats")
