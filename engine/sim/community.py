"""A seeded synthetic learning community: members, a course, and their event history.

Five kinds of member drive the history (``ground_truth`` records who is which):

* helpers answer others' questions (and collect ✅ from askers),
* askers open forum threads ("How do I ...?") and thank whoever helps,
* lurkers mostly read and react now and then,
* newcomers join part-way through; some of them drift off and leave again,
* faders start active, their activity decays, and then they leave (MemberLeft).

Everything is drawn from ``numpy.random.default_rng`` seeded by ``seed``, so the
same arguments give the same events. Events are generated one simulated day at a
time and yielded in time order, so memory grows with members, not with days.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import OrderedDict, deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import numpy as np

from engine.events import (
    ButtonClicked,
    Event,
    MemberJoined,
    MemberLeft,
    MessagePosted,
    Platform,
    ReactionAdded,
    ThreadOpened,
)
from engine.sim import texts
from engine.sim.catalog import LESSONS, CatalogItem, python_course

ARCHETYPES = ("helper", "asker", "lurker", "newcomer", "fader")
HELPER, ASKER, LURKER, NEWCOMER, FADER = range(5)
_SHARES = np.array([0.10, 0.30, 0.35, 0.10, 0.15])  # of founding + later members
# per active day, before the member's own activity factor: ask, answer, react, chat, complete
_RATES = np.array(
    [
        [0.05, 1.20, 0.80, 0.20, 0.15],  # helper
        [0.35, 0.05, 0.30, 0.15, 0.12],  # asker
        [0.01, 0.00, 0.08, 0.01, 0.05],  # lurker
        [0.30, 0.05, 0.30, 0.10, 0.12],  # newcomer
        [0.25, 0.20, 0.40, 0.15, 0.10],  # fader (before it fades)
    ]
)
ASK, ANSWER, REACT, CHAT, COMPLETE = range(5)
NEWCOMER_CHURN = 0.3
OPEN_QUESTIONS = 5_000  # recent questions helpers pick from; bounded so memory is too
RECENT_MESSAGES = 5_000
DAY = timedelta(days=1)
_NEVER = math.inf


@dataclass(frozen=True, slots=True)
class MemberTruth:
    """What the simulator decided about one member (for evaluating churn/role models)."""

    user_id: str
    user_name: str
    archetype: str
    language: str
    joined_at: datetime
    churned: bool
    churned_at: datetime | None  # when they left (MemberLeft); None if they stayed
    fading_from: datetime | None  # faders: when activity starts to decay


@dataclass(frozen=True, slots=True)
class Completion:
    """A member finished a catalog item (also emitted as a ``done:<key>`` button click)."""

    user_id: str
    item_key: str
    at: datetime


class _Question(NamedTuple):
    thread_id: str
    asker: int
    lesson: int
    at: datetime


class _Posted(NamedTuple):
    message_id: str
    author: int
    thread_id: str | None
    at: datetime


class _Members:
    """Per-member plan as numpy arrays (times in fractional days from ``start``)."""

    def __init__(self, count: int, days: int, language: str, rng: np.random.Generator) -> None:
        self.count = count
        self.archetype = rng.choice(len(ARCHETYPES), size=count, p=_SHARES)
        newcomer = self.archetype == NEWCOMER
        # founders join in the launch day's first hours; newcomers in the middle 60% of the run
        self.join = np.where(
            newcomer, rng.uniform(0.2 * days, 0.8 * days, count), rng.uniform(0.0, 0.25, count)
        )
        self.fade = np.full(count, _NEVER)
        self.leave = np.full(count, _NEVER)
        fader = self.archetype == FADER
        self.fade[fader] = rng.uniform(0.1 * days, 0.5 * days, fader.sum())
        self.leave[fader] = self.fade[fader] + rng.uniform(0.2 * days, 0.4 * days, fader.sum())
        drifting = newcomer & (rng.random(count) < NEWCOMER_CHURN)
        self.leave[drifting] = self.join[drifting] + rng.uniform(7, 21, drifting.sum())
        self.leave[self.leave >= days] = _NEVER  # past the horizon: not churned (yet)
        self.activity = rng.lognormal(0.0, 0.5, count)  # some members are simply busier
        if language == "mixed":
            self.chinese = rng.random(count) < 0.5
        else:
            self.chinese = np.full(count, language == "zh")
        self.names = [texts.member_name(i, bool(self.chinese[i]), rng) for i in range(count)]

    def multiplier(self, day: int) -> np.ndarray:
        """Activity on ``day`` relative to normal: decays after a fader's fade time."""
        mid = day + 0.5
        fading = np.isfinite(self.fade)
        decay = np.ones(self.count)
        span = np.maximum(self.leave[fading] - self.fade[fading], 1.0)
        decay[fading] = np.exp(-3.0 * np.clip(mid - self.fade[fading], 0.0, None) / span)
        return decay * self.activity


class GroundTruth(Mapping[str, MemberTruth]):
    """Member id → MemberTruth, built on access from the plan arrays (cheap for 10^5 members)."""

    def __init__(self, members: _Members, start: datetime) -> None:
        self._m = members
        self._start = start

    def _at(self, days: float) -> datetime | None:
        return None if not math.isfinite(days) else self._start + timedelta(days=float(days))

    def __getitem__(self, user_id: str) -> MemberTruth:
        index = _member_index(user_id, self._m.count)
        m = self._m
        left = self._at(m.leave[index])
        return MemberTruth(
            user_id=user_id,
            user_name=m.names[index],
            archetype=ARCHETYPES[m.archetype[index]],
            language="zh" if m.chinese[index] else "en",
            joined_at=self._at(m.join[index]) or self._start,
            churned=left is not None,
            churned_at=left,
            fading_from=self._at(m.fade[index]),
        )

    def __iter__(self) -> Iterator[str]:
        return (_member_id(i) for i in range(self._m.count))

    def __len__(self) -> int:
        return self._m.count


def _member_id(index: int) -> str:
    return f"u{index}"


def _member_index(user_id: str, count: int) -> int:
    if not user_id.startswith("u") or not user_id[1:].isdigit() or int(user_id[1:]) >= count:
        raise KeyError(user_id)
    return int(user_id[1:])


class SimulatedCommunity:
    """A simulated community: catalog, ground truth, and replayable event history.

    ``events`` and ``completions`` replay the simulation from the seed each time
    they are iterated (so both can be consumed, independently, without storing).
    """

    def __init__(
        self, seed: int, members: int, days: int, language: str, start: datetime, community_id: str
    ) -> None:
        self.seed = seed
        self.days = days
        self.language = language
        self.start = start
        self.community_id = community_id
        self.catalog: list[CatalogItem] = python_course(language)
        self._members = _Members(members, days, language, np.random.default_rng([seed, 0]))
        self.ground_truth: Mapping[str, MemberTruth] = GroundTruth(self._members, start)

    @property
    def events(self) -> Iterator[Event]:
        """A fresh, time-ordered iterator over the whole history."""
        return _Run(self).events()

    @property
    def completions(self) -> Iterator[Completion]:
        """Catalog completions in time order (replays the simulation)."""
        for event in self.events:
            if isinstance(event, ButtonClicked) and event.data.startswith("done:"):
                yield Completion(event.user_id, event.data.removeprefix("done:"), event.at)


class _Run:
    """One replay: the day loop and its bounded working state."""

    def __init__(self, sim: SimulatedCommunity) -> None:
        self.sim = sim
        self.m = sim._members
        self.rng = np.random.default_rng([sim.seed, 1])
        self.ids = itertools.count(1)
        self.seq = itertools.count()
        self.pending: list[tuple[datetime, int, Event]] = []
        self.progress = np.zeros(self.m.count, dtype=np.int16)
        self.questions: deque[_Question] = deque(maxlen=OPEN_QUESTIONS)
        self.accepted: set[str] = set()  # threads with a ✅ already; forgotten with the questions
        self.recent: deque[_Posted] = deque(maxlen=RECENT_MESSAGES)
        # platforms allow one reaction per (message, member, emoji); remembered for recent messages only
        self.reacted: OrderedDict[tuple[str, int, str], None] = OrderedDict()
        self.titles: set[str] = set()  # question titles used so far: a forum lists each once
        self.start = sim.start

    # -- helpers ------------------------------------------------------------
    def _time(self, days: float) -> datetime:
        return self.start + timedelta(days=days)

    def _emit(self, event: Event) -> None:
        heapq.heappush(self.pending, (event.at, next(self.seq), event))

    def _base(self, member: int, at: datetime) -> dict[str, Any]:
        return dict(
            platform=Platform.CONSOLE,
            community_id=self.sim.community_id,
            chat_id=self.sim.community_id,
            chat_title="Python Cohort",
            user_id=_member_id(member),
            user_name=self.m.names[member],
            username=f"member{member}",
            at=at,
        )

    def _zh(self, member: int) -> bool:
        return bool(self.m.chinese[member])

    def _lesson(self, member: int) -> int:
        return min(int(self.progress[member]), len(LESSONS) - 1)

    def _when(self, member: int, day: int, after: float | None = None) -> float | None:
        """A random moment of ``day`` when the member is around (days from start), or None."""
        low = max(day, self.m.join[member], after if after is not None else day)
        high = min(day + 1.0, self.m.leave[member])
        if low >= high:
            return None
        return float(self.rng.uniform(low, high))

    def _post(self, member: int, at_days: float, text: str, **fields: Any) -> MessagePosted:
        message_id = str(next(self.ids))
        event = MessagePosted(
            **self._base(member, self._time(at_days)), message_id=message_id, text=text, **fields
        )
        self._emit(event)
        self.recent.append(_Posted(message_id, member, event.thread_id, event.at))
        return event

    # -- the day loop -------------------------------------------------------
    def events(self) -> Iterator[Event]:
        for day in range(self.sim.days):
            self._simulate_day(day)
            day_end = self._time(day + 1)
            while self.pending and self.pending[0][0] < day_end:
                yield heapq.heappop(self.pending)[2]
        while self.pending:
            yield heapq.heappop(self.pending)[2]

    def _simulate_day(self, day: int) -> None:
        m = self.m
        for member in np.flatnonzero((m.join >= day) & (m.join < day + 1)):
            self._join(int(member))
        active = (m.join < day + 1) & (m.leave > day)
        rates = _RATES[m.archetype] * m.multiplier(day)[:, None] * active[:, None]
        counts = self.rng.poisson(rates[:, :COMPLETE])
        completes = self.rng.random(m.count) < rates[:, COMPLETE]
        for member in np.flatnonzero(counts[:, ASK]):
            for _ in range(counts[member, ASK]):
                self._ask(int(member), day)
        for member in np.flatnonzero(counts[:, ANSWER]):
            for _ in range(counts[member, ANSWER]):
                self._answer(int(member), day)
        for member in np.flatnonzero(counts[:, REACT]):
            for _ in range(counts[member, REACT]):
                self._react(int(member), day)
        for member in np.flatnonzero(counts[:, CHAT]):
            for _ in range(counts[member, CHAT]):
                self._chat(int(member), day)
        for member in np.flatnonzero(completes):
            self._complete(int(member), day)
        for member in np.flatnonzero((m.leave >= day) & (m.leave < day + 1)):
            self._emit(MemberLeft(**self._base(int(member), self._time(float(m.leave[member])))))

    def _join(self, member: int) -> None:
        at = float(self.m.join[member])
        self._emit(MemberJoined(**self._base(member, self._time(at))))
        if self.m.archetype[member] == NEWCOMER and self.rng.random() < 0.6:
            lesson = LESSONS[self._lesson(member)]
            later = at + float(self.rng.exponential(0.05))
            if later < self.m.leave[member]:
                self._post(member, later, texts.introduction(lesson, self._zh(member), self.sim.language))

    def _ask(self, member: int, day: int) -> None:
        at = self._when(member, day)
        if at is None:
            return
        lesson_index = self._lesson(member)
        lesson = LESSONS[lesson_index]
        thread_id = str(next(self.ids))
        title, text = texts.question(lesson, self._zh(member), self.rng, self.titles)
        opened_at = self._time(at)
        self._emit(
            ThreadOpened(
                **self._base(member, opened_at), thread_id=thread_id, message_id=thread_id, title=title
            )
        )
        topic = MessagePosted(
            **self._base(member, opened_at),
            message_id=thread_id,
            thread_id=thread_id,
            text=text,
            is_topic_start=True,
        )
        self._emit(topic)
        self.recent.append(_Posted(thread_id, member, thread_id, opened_at))
        self.questions.append(_Question(thread_id, member, lesson_index, opened_at))

    def _answer(self, member: int, day: int) -> None:
        if not self.questions:
            return
        question = self.questions[int(self.rng.integers(len(self.questions)))]
        if question.asker == member:
            return
        asked = (question.at - self.start) / DAY
        at = self._when(member, day, after=asked + float(self.rng.exponential(0.04)))
        if at is None:
            return
        lesson = LESSONS[question.lesson]
        item = self.sim.catalog[question.lesson]
        with_link = self.rng.random() < 0.5
        text = texts.answer(lesson, item.url if with_link else None, self._zh(member), self.rng)
        reply = self._post(
            member,
            at,
            text,
            thread_id=question.thread_id,
            reply_to_message_id=question.thread_id,
            reply_to_user_id=_member_id(question.asker),
            links=(item.url,) if with_link else (),
        )
        self._thank(question, reply, at, member)

    def _thank(self, question: _Question, reply: MessagePosted, answered: float, helper: int) -> None:
        """The asker, if still around, accepts (✅), thanks (🙏) and maybe says so."""
        asker = question.asker
        later = answered + float(self.rng.exponential(0.1))
        if later >= self.m.leave[asker]:
            return
        at = self._time(later)
        target: dict[str, Any] = dict(
            message_id=reply.message_id, thread_id=question.thread_id, target_user_id=_member_id(helper)
        )
        if question.thread_id not in self.accepted and self.rng.random() < 0.5:
            self.accepted.add(question.thread_id)
            self._reaction(asker, at, "✅", target)
        if self.rng.random() < 0.3:
            self._reaction(asker, at, "🙏", target)
        if self.rng.random() < 0.3:
            self._post(
                asker,
                later + 0.001,
                texts.thanks(self._zh(asker), self.rng),
                thread_id=question.thread_id,
                reply_to_message_id=reply.message_id,
                reply_to_user_id=_member_id(helper),
            )
        if len(self.accepted) > 4 * OPEN_QUESTIONS:  # keep the set bounded like the deque
            self.accepted = {q.thread_id for q in self.questions} & self.accepted

    def _react(self, member: int, day: int) -> None:
        if not self.recent:
            return
        target = self.recent[int(self.rng.integers(len(self.recent)))]
        if target.author == member:
            return
        at = self._when(member, day, after=(target.at - self.start) / DAY)
        if at is None:
            return
        emoji = texts.REACTIONS[int(self.rng.choice(len(texts.REACTIONS), p=texts.REACTION_WEIGHTS))]
        target_fields = dict(
            message_id=target.message_id, thread_id=target.thread_id, target_user_id=_member_id(target.author)
        )
        self._reaction(member, self._time(at), emoji, target_fields)

    def _reaction(self, member: int, at: datetime, emoji: str, target: dict[str, Any]) -> None:
        key = (target["message_id"], member, emoji)
        if key in self.reacted:
            return
        self.reacted[key] = None
        if len(self.reacted) > 10 * RECENT_MESSAGES:
            self.reacted.popitem(last=False)
        self._emit(ReactionAdded(**self._base(member, at), emoji=emoji, **target))

    def _chat(self, member: int, day: int) -> None:
        at = self._when(member, day)
        if at is not None:
            self._post(member, at, texts.chatter(self._zh(member), self.rng))

    def _complete(self, member: int, day: int) -> None:
        done = int(self.progress[member])
        if done >= len(self.sim.catalog):
            return
        at = self._when(member, day)
        if at is None:
            return
        item = self.sim.catalog[done]
        self.progress[member] = done + 1
        self._emit(
            ButtonClicked(
                **self._base(member, self._time(at)), data=f"done:{item.key}", click_id=f"c{next(self.seq)}"
            )
        )
        if self.rng.random() < 0.3:
            self._post(member, at + 0.0005, texts.finished(item, self._zh(member)), links=(item.url,))


def simulate_community(
    seed: int,
    *,
    members: int = 200,
    days: int = 90,
    language: str = "en",
    start: datetime | None = None,
    community_id: str = "demo",
) -> SimulatedCommunity:
    """Plan a synthetic community; its ``events`` are generated lazily, day by day.

    Returns a :class:`SimulatedCommunity` with ``catalog`` (a DAG of course items),
    ``ground_truth`` (member id → MemberTruth), and replayable ``events`` /
    ``completions`` iterators, all determined by ``seed``. ``language`` is "en",
    "zh" or "mixed" (each member picks one). Raises ValueError for a bad language,
    fewer than 1 member or day, or a naive ``start``.
    """
    if members < 1 or days < 1:
        raise ValueError("members and days must be at least 1")
    start = start or datetime(2024, 1, 1, tzinfo=UTC)
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    if language not in ("en", "zh", "mixed"):
        raise ValueError(f"language must be 'en', 'zh' or 'mixed', not {language!r}")
    return SimulatedCommunity(seed, members, days, language, start, community_id)
