"""Question routing: who is most likely to answer an open question (thread).

:func:`likely_answerers` is pure: give it the question and the community's past answers
(each with the tags and text of the question it answered) and it ranks members by a
z-scored blend of

* **tag CF** — the member's (time-decayed) answers per tag, with the question's tags spread
  to co-answered tags (tag×tag co-occurrence over members: collaborative filtering over
  member × tag);
* **content match** — TF-IDF (EN+ZH character n-grams, :mod:`engine.recsys.tfidf`) cosine
  between the question and the questions the member answered;
* **recent activity** — answers in the last ``recent_days``, log-scaled;
* **answer history** — all answers and accepted answers, log-scaled.

The asker is never suggested. :func:`question_history` reads the inputs from the store.
Numpy/scipy only (the bot may call it).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import scipy.sparse as sp
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.recsys.tfidf import CharWordTfidf
from engine.store.models import Message, Thread

MAX_SLOT_HISTORY = 2_000
HASHTAG = re.compile(r"#([\w][\w.+-]*)")


@dataclass(frozen=True, slots=True)
class Question:
    """An open question: its thread, who asked, text, tags and when."""

    thread_id: str
    asker_id: str | None
    text: str
    tags: tuple[str, ...]
    at: datetime


@dataclass(frozen=True, slots=True)
class PastAnswer:
    """A member answered a question (tags/text are the QUESTION's) at ``at``."""

    member_id: str
    thread_id: str
    tags: tuple[str, ...]
    text: str
    at: datetime
    accepted: bool = False


@dataclass(frozen=True, slots=True)
class LikelyAnswerer:
    """One ranked member with a score and a one-line reason."""

    member_id: str
    score: float
    reason: str


@dataclass(frozen=True, slots=True)
class RoutingWeights:
    """Blend weights of the z-scored signals."""

    tags: float = 1.0
    content: float = 0.5
    recent: float = 0.5
    history: float = 0.5
    tag_spread: float = 0.3


class TextIndex:
    """A TF-IDF vocabulary fitted once (e.g. on the questions so far) with cached thread
    vectors, so ranking many questions does not refit it each time."""

    def __init__(self, texts: Sequence[str]) -> None:
        self._vectoriser = CharWordTfidf()
        self._vectoriser.fit_transform([t for t in texts if t.strip()] or [" "])
        self._cache: dict[str, sp.csr_matrix] = {}

    def vectors(self, keyed: dict[str, str]) -> tuple[list[str], sp.csr_matrix]:
        """``(keys, rows)`` for the texts, each key's vector computed once."""
        missing = [key for key in keyed if key not in self._cache]
        if missing:
            rows = self._vectoriser.transform([keyed[key] for key in missing])
            for n, key in enumerate(missing):
                self._cache[key] = rows[n]
        keys = list(keyed)
        return keys, sp.csr_matrix(sp.vstack([self._cache[key] for key in keys]))

    def query(self, text: str) -> sp.csr_matrix:
        """The vector of a new text."""
        return self._vectoriser.transform([text])


def likely_answerers(
    question: Question,
    past: Sequence[PastAnswer],
    *,
    k: int = 10,
    text_index: TextIndex | None = None,
    half_life_days: float = 180.0,
    recent_days: float = 90.0,
    weights: RoutingWeights | None = None,
) -> list[LikelyAnswerer]:
    """The ``k`` members most likely to answer ``question``, best first.

    Only answers strictly before ``question.at`` are used; the asker is excluded.
    ``text_index`` reuses a fitted vocabulary (else one is fitted on the answered questions).
    Returns ``[]`` when nobody has answered anything yet.
    """
    w = weights or RoutingWeights()
    history = [a for a in past if a.at < question.at and a.member_id != question.asker_id]
    if not history or k <= 0:
        return []
    members = sorted({a.member_id for a in history})
    index = {m: n for n, m in enumerate(members)}
    tags = sorted({t for a in history for t in a.tags} | set(question.tags))
    tag_index = {t: n for n, t in enumerate(tags)}
    member_tag = np.zeros((len(members), len(tags)))
    recent = np.zeros(len(members))
    total = np.zeros(len(members))
    accepted = np.zeros(len(members))
    for a in history:
        row = index[a.member_id]
        age = (question.at - a.at).total_seconds() / 86400.0
        decay = 0.5 ** (age / half_life_days)
        for t in a.tags:
            member_tag[row, tag_index[t]] += decay
        total[row] += 1
        accepted[row] += a.accepted
        if age <= recent_days:
            recent[row] += 1
    asked = np.zeros(len(tags))
    for t in question.tags:
        asked[tag_index[t]] = 1.0
    binary = (member_tag > 0).astype(float)
    co = binary.T @ binary
    norms = np.sqrt(np.diag(co)) + 1e-9
    spread = asked + w.tag_spread * ((asked @ co) / norms) / (norms)  # co-answered tags, cosine-weighted
    tag_score = member_tag @ spread
    content = _content_scores(question, history, index, text_index)
    score = (w.tags * _z(tag_score) + w.content * _z(content) + w.recent * _z(np.log1p(recent))
             + w.history * _z(np.log1p(total + accepted)))
    order = np.argsort(-score, kind="stable")[:k]
    return [LikelyAnswerer(members[r], float(score[r]), _reason(r, question, member_tag, tag_index, recent, accepted,
                                                                content))
            for r in order]


def _content_scores(question: Question, history: Sequence[PastAnswer], index: dict[str, int],
                    text_index: TextIndex | None) -> np.ndarray:
    scores = np.zeros(len(index))
    texts = {a.thread_id: a.text for a in history if a.text.strip()}
    if not texts or not question.text.strip():
        return scores
    text_index = text_index or TextIndex(list(texts.values()))
    threads, vectors = text_index.vectors(texts)
    query = text_index.query(question.text)
    similarity = np.asarray((vectors @ query.T).todense()).ravel() / 2.0
    by_thread = dict(zip(threads, similarity.tolist(), strict=True))
    best: dict[int, list[float]] = defaultdict(list)
    for a in history:
        if a.thread_id in by_thread:
            best[index[a.member_id]].append(by_thread[a.thread_id])
    for row, values in best.items():
        top = sorted(values, reverse=True)[:3]  # the member's closest answered questions
        scores[row] = sum(top) / len(top)
    return scores


def _reason(row: int, question: Question, member_tag: np.ndarray, tag_index: dict[str, int], recent: np.ndarray,
            accepted: np.ndarray, content: np.ndarray) -> str:
    shared = [t for t in question.tags if member_tag[row, tag_index[t]] > 0]
    if shared:
        return f"answers questions tagged #{shared[0]}"
    if content[row] > 0.2:
        return "answered similar questions"
    if accepted[row]:
        return f"{int(accepted[row])} accepted answer{'s' if accepted[row] != 1 else ''}"
    if recent[row]:
        return "active helper lately"
    return "helps in this community"


def _z(values: np.ndarray) -> np.ndarray:
    std = values.std()
    return (values - values.mean()) / std if std > 0 else np.zeros_like(values)


# ---------------------------------------------------------------------------------- baselines
def most_active_answerers(question: Question, past: Sequence[PastAnswer], *, k: int = 10,
                          in_tags: bool = False) -> list[str]:
    """Baseline: members with the most answers before the question (optionally only in its tags)."""
    counts: Counter[str] = Counter()
    for a in past:
        if a.at < question.at and a.member_id != question.asker_id and (not in_tags or set(a.tags) & set(question.tags)):
            counts[a.member_id] += 1
    if in_tags and len(counts) < k:  # fill from overall activity
        overall = most_active_answerers(question, past, k=k)
        return [m for m, _ in counts.most_common()] + [m for m in overall if m not in counts][: k - len(counts)]
    return [m for m, _ in counts.most_common(k)]


# ---------------------------------------------------------------------------------- from the store
def tags_of(text: str | None) -> tuple[str, ...]:
    """Hashtags of a message (imported questions carry their tags as a last line of ``#tags``)."""
    return tuple(dict.fromkeys(t.lower() for t in HASHTAG.findall(text or "")))


def question_history(session: Session, community_id: int, *, since: datetime | None = None,
                     answers_only: bool = False) -> tuple[list[Question], list[PastAnswer]]:
    """Every thread of the community as a :class:`Question` (its topic-start message) and
    every reply in a thread by someone other than the asker as a :class:`PastAnswer`.

    ``answers_only`` skips replies whose external id marks them as comments (``c…``, the
    Stack Exchange import's convention). Oldest first.
    """
    starts = session.execute(
        select(Message.thread_id, Message.author_id, Message.text, Message.posted_at, Thread.title)
        .join(Thread, Thread.id == Message.thread_id)
        .where(Message.community_id == community_id, Message.is_topic_start.is_(True))
        .order_by(Message.posted_at))
    questions: dict[int | None, Question] = {}
    for thread_id, author, text, at, title in starts:
        if thread_id in questions:
            continue
        questions[thread_id] = Question(str(thread_id), None if author is None else str(author),
                                        f"{title or ''} {text or ''}".strip(), tags_of(text), at)
    query = (select(Message.thread_id, Message.author_id, Message.external_id, Message.posted_at)
             .where(Message.community_id == community_id, Message.thread_id.is_not(None),
                    Message.is_topic_start.is_(False), Message.author_id.is_not(None), Message.is_bot.is_(False))
             .order_by(Message.posted_at))
    if since is not None:
        query = query.where(Message.posted_at >= since)
    answers: list[PastAnswer] = []
    for thread_id, author, external_id, at in session.execute(query):
        q = questions.get(thread_id)
        if q is None or str(author) == q.asker_id or (answers_only and str(external_id).startswith("c")):
            continue
        answers.append(PastAnswer(str(author), q.thread_id, q.tags, q.text, at))
    return list(questions.values()), answers


@dataclass(frozen=True, slots=True)
class AnswerableQuestion:
    """An open question the member could answer, with the thread's title and the reason."""

    thread_id: int
    title: str
    reason: str
    rank: int


def questions_you_could_answer(session: Session, community_id: int, member_id: int, now: datetime, *,
                               limit: int = 3, top: int = 5, open_days: float = 30.0,
                               history_days: float = 365.0) -> list[AnswerableQuestion]:
    """Open questions (asked in the ``open_days`` up to the community's newest question, no
    reply from anyone but the asker) for which the member is among the ``top`` likely
    answerers; best rank first.

    The windows end at ``now`` or at the newest question, whichever is earlier: in a live
    community that is now; in an imported or quiet one it is its last question, so its
    unanswered questions still reach the members who could answer them.
    Empty for members who never answered in the ``history_days`` before that.
    """
    newest = session.scalar(select(func.max(Message.posted_at)).where(
        Message.community_id == community_id, Message.is_topic_start.is_(True), Message.thread_id.is_not(None)))
    if newest is None:
        return []
    if newest.tzinfo is None and now.tzinfo is not None:
        newest = newest.replace(tzinfo=now.tzinfo)
    now = min(now, newest)
    questions, past = question_history(session, community_id, since=now - timedelta(days=history_days))
    past = past[-MAX_SLOT_HISTORY:]  # bounds the cost on the message path
    member = str(member_id)
    if not any(a.member_id == member for a in past):
        return []
    answered = {a.thread_id for a in past}
    start = now - timedelta(days=open_days)
    open_questions = [q for q in questions if start <= q.at <= now and q.thread_id not in answered
                      and q.asker_id != member][-20:]
    if not open_questions:
        return []
    titles = {int(i): str(t) for i, t in session.execute(select(Thread.id, Thread.title).where(
        Thread.id.in_([int(q.thread_id) for q in open_questions])))}
    index = TextIndex([a.text for a in past])
    out = []
    for q in open_questions:
        ranked = likely_answerers(Question(q.thread_id, q.asker_id, q.text, q.tags, now), past, k=top,
                                  text_index=index)
        for rank, r in enumerate(ranked, 1):
            if r.member_id == member:
                out.append(AnswerableQuestion(int(q.thread_id), titles.get(int(q.thread_id), "") or q.text[:80],
                                              r.reason, rank))
    return sorted(out, key=lambda a: a.rank)[:limit]


__all__ = [
    "AnswerableQuestion",
    "LikelyAnswerer",
    "PastAnswer",
    "Question",
    "RoutingWeights",
    "TextIndex",
    "likely_answerers",
    "most_active_answerers",
    "question_history",
    "questions_you_could_answer",
    "tags_of",
]
