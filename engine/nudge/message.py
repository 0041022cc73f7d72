"""The nudge itself: a personal line, three recommendations with reasons, what the member
missed, buttons that record clicks, and how to stop — in the community's language.

:func:`gather` reads what the message talks about; :func:`render` turns it into text in
the messenger markup subset (``<b> <i> <a href>``, user content escaped) and button
specs, purely. :func:`compose` does both; ``/nudge preview`` and the daily job call the
same function, so a moderator sees exactly what would be sent.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from engine.recsys.recommend import Pick, Recommendations
from engine.store.models import Community, CommunityMember, Member, Message, Thread

RECOMMENDATIONS = 3
MISSED_THREADS = 3
SNIPPET = 60


class Recommending(Protocol):
    """What ``/recommend`` serves (:class:`engine.recsys.recommend.RecommenderService`)."""

    def recommend(self, session: Session, community_id: int, member_id: int, n: int, *, now: datetime,
                  rng: np.random.Generator | None = None) -> Recommendations: ...


@dataclass(frozen=True, slots=True)
class ButtonSpec:
    """A button for the Notifier: ``data`` comes back as a click, ``url`` opens a page."""

    label: str
    data: str = ""
    url: str = ""


@dataclass(frozen=True, slots=True)
class LastAction:
    kind: str  # asked | posted | replied
    title: str  # thread title or a snippet of the message
    at: datetime


@dataclass(frozen=True, slots=True)
class MissedThread:
    title: str
    replies: int


@dataclass(frozen=True, slots=True)
class NudgeContext:
    member_name: str
    community_title: str
    last_action: LastAction | None
    replied_by: str | None
    missed: tuple[MissedThread, ...]
    picks: tuple[Pick, ...]


@dataclass(frozen=True, slots=True)
class NudgeMessage:
    text: str
    buttons: tuple[ButtonSpec, ...]
    context: NudgeContext


def click_data(assignment_id: int, action: str) -> str:
    """``nudge:<assignment>:<action>`` (within Telegram's 64 bytes for any id)."""
    return f"nudge:{assignment_id}:{action}"


def parse_click(data: str) -> tuple[int, str] | None:
    """(assignment id, action) from :func:`click_data` output; None for other data."""
    parts = data.split(":", 2)
    if len(parts) != 3 or parts[0] != "nudge" or not parts[1].isascii() or not parts[1].isdigit():
        return None
    action = parts[2]
    if action == "stop" or (action.startswith("like-") and action[5:].isascii() and action[5:].isdigit()):
        return int(parts[1]), action
    return None


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SNIPPET else flat[: SNIPPET - 1] + "…"


def gather(session: Session, community_id: int, member_id: int, now: datetime, *,
           recommender: Recommending | None, seed: int = 0) -> NudgeContext:
    """What the nudge says about the member. Reads only; never raises for a member with no
    history (their lines are simply left out). Raises LookupError for an unknown member."""
    found = gather_many(session, community_id, [member_id], now, recommender=recommender, seed=seed)
    if member_id not in found:
        raise LookupError(f"member {member_id} does not exist")
    return found[member_id]


def gather_many(session: Session, community_id: int, member_ids: Sequence[int], now: datetime, *,
                recommender: Recommending | None, seed: int = 0) -> dict[int, NudgeContext]:
    """:func:`gather` for many members with a handful of queries in all (not five each):
    member id → context; unknown members are left out."""
    ids = sorted(set(member_ids))
    if not ids:
        return {}
    names = {int(i): n for i, n in session.execute(select(Member.id, Member.display_name).where(Member.id.in_(ids)))}
    community = session.get(Community, community_id)
    title = community.title if community is not None and community.title else ""
    latest = func.row_number().over(partition_by=Message.author_id,
                                    order_by=(Message.posted_at.desc(), Message.id.desc())).label("rn")
    own = (select(Message.author_id, Message.text, Message.is_topic_start, Message.reply_to_author_id,
                  Message.posted_at, Thread.title.label("title"), latest)
           .outerjoin(Thread, Thread.id == Message.thread_id)
           .where(Message.community_id == community_id, Message.author_id.in_(ids),
                  Message.is_command.is_(False), Message.deleted_at.is_(None), Message.posted_at <= now)
           .subquery())
    last_actions: dict[int, LastAction] = {}
    for row in session.execute(select(own).where(own.c.rn == 1)):
        kind = "asked" if row.is_topic_start else "replied" if row.reply_to_author_id else "posted"
        label = row.title or _snippet(row.text or "")
        if label:
            last_actions[int(row.author_id)] = LastAction(kind, label, row.posted_at)
    replier = aliased(Member)
    newest = func.row_number().over(partition_by=Message.reply_to_author_id,
                                    order_by=(Message.posted_at.desc(), Message.id.desc())).label("rn")
    replies = (select(Message.reply_to_author_id.label("to"), replier.display_name.label("who"), newest)
               .join(replier, Message.author_id == replier.id)
               .where(Message.community_id == community_id, Message.reply_to_author_id.in_(ids),
                      Message.author_id != Message.reply_to_author_id, Message.posted_at <= now)
               .subquery())
    replied_by = {int(to): who for to, who in session.execute(select(replies.c.to, replies.c.who)
                                                               .where(replies.c.rn == 1))}
    seen = {int(m): at for m, at in session.execute(select(CommunityMember.member_id, CommunityMember.last_seen_at)
                                                    .where(CommunityMember.community_id == community_id,
                                                           CommunityMember.member_id.in_(ids)))}
    missed_since: dict[datetime, tuple[MissedThread, ...]] = {}  # members last seen together share it
    out: dict[int, NudgeContext] = {}
    for member_id in ids:
        if member_id not in names:
            continue
        since = seen.get(member_id)
        missed: tuple[MissedThread, ...] = ()
        if since is not None:
            if since not in missed_since:
                missed_since[since] = _missed(session, community_id, since, now)
            missed = missed_since[since]
        picks: tuple[Pick, ...] = ()
        if recommender is not None:
            recs = recommender.recommend(session, community_id, member_id, RECOMMENDATIONS, now=now,
                                         rng=np.random.default_rng(seed))
            picks = tuple(recs.picks[:RECOMMENDATIONS])
        out[member_id] = NudgeContext(names[member_id] or "there", title, last_actions.get(member_id),
                                      replied_by.get(member_id), missed, picks)
    return out


def _missed(session: Session, community_id: int, since: datetime, now: datetime) -> tuple[MissedThread, ...]:
    rows = session.execute(
        select(Thread.title, func.count(Message.id).label("n"))
        .join(Message, Message.thread_id == Thread.id)
        .where(Message.community_id == community_id, Message.posted_at > since, Message.posted_at <= now,
               Message.deleted_at.is_(None), Thread.title != "")
        .group_by(Thread.id, Thread.title).order_by(func.count(Message.id).desc(), Thread.id.desc())
        .limit(MISSED_THREADS)).all()
    return tuple(MissedThread(str(t), int(n)) for t, n in rows)


_TEXTS = {
    "en": {
        "hello": "Hi {name}, we miss you in {community}!", "hello_plain": "Hi {name}, we miss you!",
        "asked": "Last time you asked “{title}” ({day}).", "posted": "Last time you wrote “{title}” ({day}).",
        "replied": "Last time you helped in “{title}” ({day}).",
        "replier": "{who} replied to you — they would be glad to hear back.",
        "picks": "Picked for you", "missed": "While you were away",
        "replies": "{n} new messages", "stop": "Don't want these messages? Tap 🔕 or send /nudges off.",
        "stop_button": "🔕 Stop these", "open": "{i}. open", "like": "{i}. 👍 interested",
    },
    "zh": {
        "hello": "{name}，{community} 想你了！", "hello_plain": "{name}，我们想你了！",
        "asked": "你上次提问是“{title}”（{day}）。", "posted": "你上次说的是“{title}”（{day}）。",
        "replied": "你上次在“{title}”里帮了忙（{day}）。",
        "replier": "{who} 回复了你——期待你的回音。",
        "picks": "为你推荐", "missed": "你不在时的热门话题",
        "replies": "{n} 条新消息", "stop": "不想收到这类消息？点 🔕 或发送 /nudges off。",
        "stop_button": "🔕 不再提醒", "open": "{i}. 打开", "like": "{i}. 👍 感兴趣",
    },
}


def render(ctx: NudgeContext, language: str, assignment_id: int) -> NudgeMessage:
    """The message text and buttons (pure). Unknown languages fall back to English."""
    t = _TEXTS.get(language, _TEXTS["en"])
    e = html.escape
    lines = [f"<b>{e(t['hello'].format(name=ctx.member_name, community=ctx.community_title))}</b>"
             if ctx.community_title else f"<b>{e(t['hello_plain'].format(name=ctx.member_name))}</b>"]
    if ctx.last_action is not None:
        lines.append(e(t[ctx.last_action.kind].format(title=ctx.last_action.title,
                                                      day=ctx.last_action.at.strftime("%Y-%m-%d"))))
    if ctx.replied_by:
        lines.append(e(t["replier"].format(who=ctx.replied_by)))
    buttons: list[ButtonSpec] = []
    if ctx.picks:
        lines.append("")
        lines.append(f"<b>{t['picks']}</b>")
        for i, pick in enumerate(ctx.picks, 1):
            title = f'<a href="{e(pick.url)}">{e(pick.title)}</a>' if pick.url else e(pick.title)
            lines.append(f"{i}. {title} — <i>{e(pick.reason)}</i>")
            if pick.url:
                buttons.append(ButtonSpec(t["open"].format(i=i), url=pick.url))
            buttons.append(ButtonSpec(t["like"].format(i=i), data=click_data(assignment_id, f"like-{pick.item_id}")))
    if ctx.missed:
        lines.append("")
        lines.append(f"<b>{t['missed']}</b>")
        lines.extend(f"• {e(m.title)} ({t['replies'].format(n=m.replies)})" for m in ctx.missed)
    lines.append("")
    lines.append(f"<i>{e(t['stop'])}</i>")
    buttons.append(ButtonSpec(t["stop_button"], data=click_data(assignment_id, "stop")))
    return NudgeMessage("\n".join(lines), tuple(buttons), ctx)


def compose(session: Session, community_id: int, member_id: int, now: datetime, *, language: str,
            recommender: Recommending | None, assignment_id: int = 0, seed: int = 0) -> NudgeMessage:
    """:func:`gather` then :func:`render`; ``assignment_id`` 0 for a preview."""
    return render(gather(session, community_id, member_id, now, recommender=recommender, seed=seed),
                  language, assignment_id)


def compose_many(session: Session, community_id: int, assignments: Sequence[tuple[int, int]], now: datetime, *,
                 language: str, recommender: Recommending | None, seed: int = 0) -> dict[int, NudgeMessage]:
    """:func:`compose` for many ``(assignment id, member id)`` pairs, gathered together:
    assignment id → message (members unknown by now are left out)."""
    contexts = gather_many(session, community_id, [m for _, m in assignments], now, recommender=recommender,
                           seed=seed)
    return {a: render(contexts[m], language, a) for a, m in assignments if m in contexts}


def pick_lines(picks: Sequence[Pick]) -> list[str]:
    """One plain line per pick, for the dry-run listing."""
    return [f"{p.title} ({p.reason})" for p in picks]
