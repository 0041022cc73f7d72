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

from sqlalchemy.orm import Session

from bot.markup import esc
from bot.modules import Catalog, Daily, Module
from bot.modules import JobSpec as ModuleJob
from bot.ports import Role
from bot.router import CommandContext, CommandSpec, UsageError
from bot.scheduler import run_cli
from bot.settings import Settings
from engine.args import is_ascii_number
from engine.churn.scores import MemberRisk, latest_risks, member_risk
from engine.churn.settings import churn_settings
from engine.members.lookup import member_brief
from engine.store.community_settings import stored_settings
from engine.store.store import Store

PAGE_DEFAULT, PAGE_MAX, PAGES_MAX = 10, 50, 10_000

# /atrisk's replies, EN and 中文 (the community's ``language`` setting picks one).
MESSAGES: Catalog = {
    "atrisk.usage": {"en": "Usage: /atrisk [n] [page] — n from 1 to 50 per page — or /atrisk @member",
              "zh": "用法：/atrisk [n] [页码]（每页 n 人，1 到 50），或 /atrisk @成员"},
    "atrisk.bad_n": {"en": "{value} is not a valid n (a number from 1 to 50, digits 0-9). {usage}",
              "zh": "{value} 不是有效的 n（1 到 50 的数字，只用 0-9）。{usage}"},
    "atrisk.bad_page": {"en": "{value} is not a valid page (a number from 1, digits 0-9). {usage}",
                 "zh": "{value} 不是有效的页码（从 1 开始的数字，只用 0-9）。{usage}"},
    "atrisk.no_scores": {"en": "No churn scores yet: they are made daily (or run <code>cohort churn score</code>).",
                  "zh": "还没有流失风险评分：每日自动评分，或运行 <code>cohort churn score</code>。"},
    "atrisk.head": {"en": "<b>At risk</b> (scored {day}: {flagged} flagged of {scored})",
             "zh": "<b>流失风险</b>（{day} 评分，{scored} 人中 {flagged} 人被标记）"},
    "atrisk.nobody_over": {"en": "Nobody is over the {threshold} threshold; the riskiest are:",
                    "zh": "没有人超过 {threshold} 的阈值，风险最高的是："},
    "atrisk.too_few_pages": {"en": "There are only {pages} page(s) of {n}.", "zh": "每页 {n} 人时只有 {pages} 页。"},
    "atrisk.page": {"en": "page {page}/{pages}", "zh": "第 {page}/{pages} 页"},
    "atrisk.next": {"en": " — next: /atrisk {n} {next}", "zh": " — 下一页：/atrisk {n} {next}"},
    "atrisk.never_active": {"en": "never active", "zh": "从未活跃"},
    "atrisk.last_active": {"en": "last active {day} ({days} d ago)", "zh": "最后活跃 {day}（{days} 天前）"},
    "atrisk.one": {"en": "<b>{name}</b>: risk {risk} ({state}, scored {day}) · {ago}\n{reasons}",
            "zh": "<b>{name}</b>：风险 {risk}（{state}，{day} 评分）· {ago}\n{reasons}"},
    "atrisk.flagged": {"en": "flagged", "zh": "已标记"},
    "atrisk.not_flagged": {"en": "not flagged", "zh": "未标记"},
    "atrisk.reason_sep": {"en": "; ", "zh": "；"},
    "atrisk.no_reason": {"en": "no single reason stands out", "zh": "没有特别突出的原因"},
    "atrisk.unscored": {"en": "{who} has no churn score yet (new, inactive for long, or not scored yet).",
                 "zh": "{who} 还没有流失风险评分（新成员、长期不活跃，或尚未评分）。"},
}


def model_dir(settings: Any) -> Path:
    """Where churn models live: beside the recommender's artifacts."""
    return Path(settings.recsys.artifact_dir) / "churn"


@dataclass(frozen=True, slots=True)
class _View:
    ctx: CommandContext
    threshold: float
    risks: list[MemberRisk]
    names: dict[int, str]

    def say(self, key: str, **values: Any) -> str:
        return self.ctx.t(f"atrisk.{key}", **values)

    def count(self, raw: str, what: str) -> int:
        """``raw`` as a count from 1 (ASCII digits only: "²" or "５" are digits to str.isdigit
        but not numbers here); raises UsageError in the reader's language."""
        top = PAGE_MAX if what == "n" else PAGES_MAX
        if not is_ascii_number(raw) or not 1 <= int(raw) <= top:
            shown = raw if len(raw) <= 24 else raw[:24] + "…"  # 5,000 digits are not echoed back
            raise UsageError(self.say(f"bad_{what}", value=esc(shown), usage=self.say("usage")))
        return int(raw)

    def ago(self, when: datetime | None, today: date) -> str:
        if when is None:
            return self.say("never_active")
        return self.say("last_active", day=f"{when:%Y-%m-%d}", days=(today - when.astimezone(UTC).date()).days)

    def reasons(self, r: MemberRisk) -> list[str]:
        return [esc(x.text_zh if self.ctx.language == "zh" else x.text_en) for x in r.reasons]

    def line(self, r: MemberRisk, flagged: bool) -> str:
        name = self.names.get(r.member_id, str(r.member_id))
        head = f"{'⚑ ' if flagged else ''}<b>{esc(name)}</b> — {r.risk:.0%} · {self.ago(r.last_active, r.scored_on)}"
        reasons = self.say("reason_sep").join(self.reasons(r))
        return head + (f"\n   {reasons}" if reasons else "")


class AtRisk:
    def __init__(self, store: Store) -> None:
        self.store = store

    def _read(self, session: Session, ctx: CommandContext, member: int | None) -> _View:
        cid = ctx.community_id
        view = _View(ctx, churn_settings(stored_settings(session, cid)).flag_threshold, [], {})
        if member is not None:
            risk = member_risk(session, cid, member)
            view.risks.extend([] if risk is None else [risk])
        else:
            view.risks.extend(latest_risks(session, cid))
        platform = str(ctx.event.platform)
        for r in view.risks[: PAGE_MAX * 20]:
            brief = member_brief(session, r.member_id, platform)
            view.names[r.member_id] = (brief.display_name or brief.username or f"member {r.member_id}") if brief \
                else f"member {r.member_id}"
        return view

    async def atrisk(self, ctx: CommandContext) -> None:
        args = list(ctx.args)
        # a member named: "@handle", a raw "<@id>", or an id the adapter turned a mention into
        # (Discord: "<@123>" arrives as "123" with "123" in mentions, not as the number n)
        if args and (args[0].startswith(("@", "<@")) or args[0] in ctx.event.mentions):
            if len(args) != 1:
                raise UsageError(ctx.t("atrisk.usage"))
            target, _ = await ctx.target(args)
            view = await self.store.read(lambda s: self._read(s, ctx, target.member_id))
            await self._one(view, args[0])
            return
        if len(args) > 2:
            raise UsageError(ctx.t("atrisk.usage"))
        view = await self.store.read(lambda s: self._read(s, ctx, None))
        n = view.count(args[0], "n") if args else PAGE_DEFAULT
        page = view.count(args[1], "page") if len(args) > 1 else 1
        if not view.risks:
            await ctx.reply(view.say("no_scores"))
            return
        flagged = [r for r in view.risks if r.risk >= view.threshold and r.reasons]
        shown = flagged or view.risks
        head = view.say("head", day=f"{view.risks[0].scored_on:%Y-%m-%d}", flagged=len(flagged),
                        scored=len(view.risks))
        if not flagged:
            head += "\n" + view.say("nobody_over", threshold=f"{view.threshold:.0%}")
        pages = max(1, -(-len(shown) // n))
        if page > pages:
            raise UsageError(view.say("too_few_pages", pages=pages, n=n))
        lines = [view.line(r, r in flagged) for r in shown[(page - 1) * n: page * n]]
        foot = view.say("page", page=page, pages=pages) + (view.say("next", n=n, next=page + 1) if page < pages else "")
        await ctx.reply("\n".join([head, *lines, foot]))

    async def _one(self, view: _View, who: str) -> None:
        if not view.risks:
            await view.ctx.reply(view.say("unscored", who=esc(who)))
            return
        r = view.risks[0]
        reasons = "\n".join(f"• {x}" for x in view.reasons(r)) or f"• {view.say('no_reason')}"
        await view.ctx.reply(view.say(
            "one", name=esc(view.names.get(r.member_id, who)), risk=f"{r.risk:.0%}",
            state=view.say("flagged" if r.risk >= view.threshold else "not_flagged"),
            day=f"{r.scored_on:%Y-%m-%d}", ago=view.ago(r.last_active, r.scored_on), reasons=reasons))


async def atrisk(ctx: CommandContext, store: Store) -> None:
    await AtRisk(store).atrisk(ctx)


def module(settings: Settings) -> Module:
    """The churn capability: /atrisk, daily scoring at ``scheduler.churn_score_at`` and a
    weekly retraining an hour before it on Sundays, both in child processes."""
    at = settings.scheduler.churn_score_at
    hour, minute = (int(x) for x in at.split(":"))

    # as of the firing time (the console's /jobs runs them at its own time)
    async def score(now: datetime) -> None:
        await run_cli("churn", "score", "--as-of", now.isoformat())

    async def train(now: datetime) -> None:
        await run_cli("churn", "train", "--as-of", now.isoformat())

    return Module(
        name="churn",
        commands=(CommandSpec("atrisk", atrisk, Role.MODERATOR, "members likely to drift away, with reasons",
                              "/atrisk [n] [page] | /atrisk @member"),),
        messages=MESSAGES,
        jobs=(
            ModuleJob("churn-weekly-training", Daily(at=f"{(hour - 1) % 24:02d}:{minute:02d}", days_of_week="sun"),
                      train, summary="retrain churn models"),
            ModuleJob("churn-daily-scoring", Daily(at=at), score, summary="score churn risk per community"),
        ),
    )
