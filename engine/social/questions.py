"""Questions, their answers and the ones nobody answered.

What counts as a question (each rule is cheap and explains itself to an owner):

* a post containing ``?`` or the full-width ``？`` (how most people mark a question in
  either language);
* a post that opens with an English question word or auxiliary (``how``, ``why``,
  ``can``, ``does``, ...) — chat often drops the question mark;
* a post with a Chinese interrogative (``吗``, ``怎么``, ``为什么``, ``如何``, ``哪``, ...) —
  Chinese marks questions with particles as much as with ``？``;
* a plea for help without a question form ("I'm stuck", "doesn't work", "卡住了",
  "不懂"), which in a course chat asks for an answer just the same;
* the first post of a forum topic / thread that is itself question-shaped by the rules
  above or whose title is — and every Stack Exchange question (its topic starts are
  questions by definition).

A question is *answered* when another member replied to it (directly, or in the thread
it opened) within ``hours``; answers by the asker themselves do not count.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from engine.social.log import ActivityLog, Post

_EN_START = re.compile(
    r"^\s*(how|why|what|when|where|which|who|whom|whose|is|are|am|was|were|can|could|"
    r"should|would|will|do|does|did|has|have|anyone|any\s+idea|is\s+there)\b",
    re.IGNORECASE,
)
_EN_HELP = re.compile(
    r"\b(stuck|doesn'?t work|don'?t (get|understand)|not working|any (tips|advice)|help me|"
    r"i wonder|wondering)\b",
    re.IGNORECASE,
)
_ZH_QUESTION = re.compile(r"吗|怎么|为什么|为何|如何|哪|什么|是否|能否|可以.*吗|有没有|呢[。！!]?\s*$|卡住|不懂|求助|请教")


def is_question(text: str) -> bool:
    """Whether a post asks something (see the module docstring for the rules)."""
    if not text or not text.strip():
        return False
    if "?" in text or "？" in text:
        return True
    return bool(_EN_START.search(text) or _EN_HELP.search(text) or _ZH_QUESTION.search(text))


def _asks(post: Post, platform: str) -> bool:
    if post.is_topic_start and platform == "stackexchange":
        return True
    if is_question(post.text):
        return True
    return post.is_topic_start and is_question(post.thread_title)


@dataclass(frozen=True, slots=True)
class Question:
    post: Post
    answered_at: datetime | None
    answered_by: int | None
    link: str | None

    @property
    def wait(self) -> timedelta | None:
        return self.answered_at - self.post.at if self.answered_at else None


def message_link(platform: str, community_ext: str, post: Post) -> str | None:
    """A URL that opens the post on its platform, or None where there is none (console,
    basic Telegram groups, Telegram chats with a public username are not known here)."""
    if platform == "telegram" and post.chat_external_id.startswith("-100") and post.external_id.isdigit():
        return f"https://t.me/c/{post.chat_external_id[4:]}/{post.external_id}"
    if platform == "discord" and post.external_id.isdigit():
        channel = post.thread_external_id or post.chat_external_id
        return f"https://discord.com/channels/{community_ext}/{channel}/{post.external_id}"
    if platform == "stackexchange" and post.thread_external_id:
        host = community_ext if "." in community_ext and community_ext.endswith(".com") \
            else f"{community_ext}.stackexchange.com"
        return f"https://{host}/q/{post.thread_external_id}"
    return None


def find_questions(log: ActivityLog, *, start: datetime, end: datetime, hours: float = 24.0) -> list[Question]:
    """Questions asked in ``[start, end)``, each with its first answer by another member
    within ``hours`` (looked for in the whole log, which may reach past ``end``)."""
    limit = timedelta(hours=hours)
    by_ext: dict[tuple[str, str], Post] = {}
    questions: list[Post] = []
    for post in log.posts:
        if start <= post.at < end and _asks(post, log.platform):
            questions.append(post)
            by_ext[(post.chat_external_id, post.external_id)] = post
    first: dict[int, tuple[datetime, int]] = {}
    thread_question = {q.thread_id: q for q in questions if q.is_topic_start and q.thread_id is not None}
    for post in log.posts:
        target: Post | None = None
        if post.reply_to_external_id is not None:
            target = by_ext.get((post.chat_external_id, post.reply_to_external_id))
        if target is None and post.thread_id is not None and not post.is_topic_start:
            target = thread_question.get(post.thread_id)
        if target is None or post.author_id == target.author_id or post.at < target.at:
            continue
        if post.at - target.at > limit:
            continue
        seen = first.get(target.id)
        if seen is None or post.at < seen[0]:
            first[target.id] = (post.at, post.author_id)
    out = []
    for q in questions:
        hit = first.get(q.id)
        out.append(Question(q, hit[0] if hit else None, hit[1] if hit else None,
                            message_link(log.platform, log.community_external_id, q)))
    return out


def unanswered(questions: list[Question], *, now: datetime, hours: float = 24.0) -> list[Question]:
    """Questions with no answer from another member that have waited at least ``hours``
    by ``now`` (a question asked an hour ago is not "unanswered" yet), oldest first."""
    wait = timedelta(hours=hours)
    return sorted((q for q in questions if q.answered_at is None and now - q.post.at >= wait),
                  key=lambda q: q.post.at)


def top_answerers(questions: list[Question], limit: int = 5) -> list[tuple[int, int]]:
    """(member, questions they answered first) for the members who answered most."""
    counts = Counter(q.answered_by for q in questions if q.answered_by is not None)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
