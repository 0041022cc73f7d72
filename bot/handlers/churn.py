"""``/atrisk``: moderators see who is likely to drift away, why, and when they were last seen.

``/atrisk [n] [page]`` pages the flagged members of the latest daily scoring (``n`` per
page, default 10); ``/atrisk @member`` shows one member's risk and reasons. Scores come
from the daily job (``cohort churn score``); this handler only reads them. ``module()``
declares the capability: the command, that scoring and a weekly retraining (child processes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.markup import esc
from bot.modules import Daily, Module
from bot.modules import JobSpec as ModuleJob
from bot.ports import Role
from bot.router import CommandContext, Router, UsageError
from bot.scheduler import run_cli
from bot.settings import Settings
from engine.churn.scores import MemberRisk, latest_risks, member_risk
from engine.churn.settings import churn_settings
from engine.events import Event
from engine.members.lookup import community_id_of, home_community, member_brief, resolve_member_in
from engine.store.models import Community
from engine.store.store import Store

PAGE_DEFAULT, PAGE_MAX = 10, 50
USAGE = "Usage: /atrisk [n] [page] — n from 1 to 50 per page — or /atrisk @member"


def model_dir(settings: Any) -> Path:
    """Where churn models live: beside the recommender's artifacts."""
    return Path(settings.recsys.artifact_dir) / "churn"


def _community(session: Session, event: Event) -> int | None:
    platform = str(event.platform)
    if event.is_private or not event.community_id:
        return home_community(session, platform, event.user_id)
    return community_id_of(session, platform, event.community_id)


def _count(raw: str, what: str) -> int:
    # ASCII digits only: "²" or "５" are digits to str.isdigit but not numbers here
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= (PAGE_MAX if what == "n" else 10_000):
        raise UsageError(f"{esc(raw)} is not a valid {what}. {USAGE}")
    return int(raw)


@dataclass(frozen=True, slots=True)
class _View:
    lang: str
    threshold: float
    risks: list[MemberRisk]
    names: dict[int, str]


def _ago(when: datetime | None, today: date, lang: str) -> str:
    if when is None:
        return "从未活跃" if lang == "zh" else "never active"
    days = (today - when.astimezone(UTC).date()).days
    if lang == "zh":
        return f"最后活跃 {when:%Y-%m-%d}（{days} 天前）"
    return f"last active {when:%Y-%m-%d} ({days} d ago)"


def _line(r: MemberRisk, name: str, lang: str, flagged: bool) -> str:
    reasons = "; ".join(esc(x.text_zh if lang == "zh" else x.text_en) for x in r.reasons)
    mark = "⚑ " if flagged else ""
    head = f"{mark}<b>{esc(name)}</b> — {r.risk:.0%}"
    return f"{head} · {_ago(r.last_active, r.scored_on, lang)}" + (f"\n   {reasons}" if reasons else "")


class AtRisk:
    def __init__(self, store: Store, default_lang: str) -> None:
        self.store, self.default_lang = store, default_lang

    def _read(self, session: Session, event: Event, who: str | None) -> _View | None:
        cid = _community(session, event)
        if cid is None:
            return None
        settings = session.execute(select(Community.settings).where(Community.id == cid)).scalar_one() or {}
        lang = settings.get("language") if settings.get("language") in ("en", "zh") else self.default_lang
        threshold = churn_settings(settings).flag_threshold
        if who is not None:
            member = resolve_member_in(session, str(event.platform), cid, who)
            if member is None:
                raise UsageError(f"I don't know {esc(who)} in this community.")
            risk = member_risk(session, cid, member)
            risks = [] if risk is None else [risk]
        else:
            risks = latest_risks(session, cid)
        names = {}
        for r in risks[: PAGE_MAX * 20]:
            brief = member_brief(session, r.member_id, str(event.platform))
            names[r.member_id] = (brief.display_name or brief.username or f"member {r.member_id}") if brief else f"member {r.member_id}"
        return _View(lang if lang in ("en", "zh") else "en", threshold, risks, names)

    async def atrisk(self, ctx: CommandContext) -> None:
        args = list(ctx.args)
        if args and (args[0].startswith("@") or args[0].startswith("<@")):
            if len(args) > 1:
                raise UsageError(USAGE)
            await self._one(ctx, args[0])
            return
        if len(args) > 2:
            raise UsageError(USAGE)
        n = _count(args[0], "n") if args else PAGE_DEFAULT
        page = _count(args[1], "page") if len(args) > 1 else 1
        view = await self.store.read(lambda s: self._read(s, ctx.event, None))
        if view is None:
            raise UsageError("I don't know this community yet: say something first.")
        zh = view.lang == "zh"
        if not view.risks:
            await ctx.reply("还没有流失风险评分：每日自动评分，或运行 cohort churn score。" if zh else
                            "No churn scores yet: they are made daily (or run <code>cohort churn score</code>).")
            return
        flagged = [r for r in view.risks if r.risk >= view.threshold and r.reasons]
        shown = flagged
        head = (f"<b>流失风险</b>（{view.risks[0].scored_on:%Y-%m-%d} 评分，{len(flagged)} 人被标记）" if zh else
                f"<b>At risk</b> (scored {view.risks[0].scored_on:%Y-%m-%d}: {len(flagged)} flagged of {len(view.risks)})")
        if not flagged:
            shown = view.risks
            head += ("\n没有人超过阈值，风险最高的是：" if zh else
                     f"\nNobody is over the {view.threshold:.0%} threshold; the riskiest are:")
        pages = max(1, -(-len(shown) // n))
        if page > pages:
            raise UsageError(f"There are only {pages} page(s) of {n}.")
        part = shown[(page - 1) * n: page * n]
        lines = [_line(r, view.names.get(r.member_id, str(r.member_id)), view.lang, r in flagged) for r in part]
        foot = f"page {page}/{pages}" + (f" — next: /atrisk {n} {page + 1}" if page < pages else "")
        await ctx.reply("\n".join([head, *lines, foot]))

    async def _one(self, ctx: CommandContext, who: str) -> None:
        view = await self.store.read(lambda s: self._read(s, ctx.event, who))
        if view is None:
            raise UsageError("I don't know this community yet: say something first.")
        if not view.risks:
            await ctx.reply(f"{esc(who)} has no churn score yet (new, inactive for long, or not scored yet).")
            return
        r = view.risks[0]
        name = view.names.get(r.member_id, who)
        state = ("flagged" if r.risk >= view.threshold else "not flagged")
        reasons = "\n".join(f"• {esc(x.text_zh if view.lang == 'zh' else x.text_en)}" for x in r.reasons) or \
            "• no single reason stands out"
        await ctx.reply(f"<b>{esc(name)}</b>: risk {r.risk:.0%} ({state}, scored {r.scored_on:%Y-%m-%d}) · "
                        f"{_ago(r.last_active, r.scored_on, view.lang)}\n{reasons}")


def register(router: Router, app: Any) -> None:
    cmds = AtRisk(app.store, app.settings.language)
    router.command("atrisk", cmds.atrisk, min_role=Role.MODERATOR,
                   summary="members likely to drift away, with reasons", usage="/atrisk [n] [page] | /atrisk @member")


def module(settings: Settings) -> Module:
    """The churn capability: /atrisk, daily scoring at ``scheduler.churn_score_at`` and a
    weekly retraining an hour before it on Sundays, both in child processes."""
    at = settings.scheduler.churn_score_at
    hour, minute = (int(x) for x in at.split(":"))

    async def score() -> None:
        await run_cli("churn", "score")

    async def train() -> None:
        await run_cli("churn", "train")

    return Module(
        name="churn",
        register=register,
        jobs=(
            ModuleJob("churn-weekly-training", Daily(at=f"{(hour - 1) % 24:02d}:{minute:02d}", days_of_week="sun"),
                      train, summary="retrain churn models"),
            ModuleJob("churn-daily-scoring", Daily(at=at), score, summary="score churn risk per community"),
        ),
    )
