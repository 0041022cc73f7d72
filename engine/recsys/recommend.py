"""What ``/recommend`` serves: the model's picks for known members, content-based picks
for newcomers (their own messages vs item text), popularity after that, and one
Thompson-sampling exploration slot — each pick with a one-line reason.

Serving side only: numpy/scipy/sklearn, never torch. Artifacts come from
``<artifact_dir>/<community id>/`` through :class:`engine.recsys.serve.ArtifactWatcher`,
re-checked at most every ``refresh_seconds``. A missing or corrupt artifact never
breaks a reply: the member gets content/popularity picks and moderators get a note
(logged once, shown in ``/recommend stats``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from engine.catalog.tables import CatalogCompletion, CatalogItem, RecommendationImpression
from engine.recsys.bandit import ClickStats, SlotReport, ThompsonSlot, slot_report
from engine.recsys.content import CatalogItem as ContentItem
from engine.recsys.content import ContentIndex
from engine.recsys.serve import ArtifactWatcher, ServingModel
from engine.store.models import Interaction, Message

log = logging.getLogger(__name__)
MAX_N = 10
POPULAR_WINDOW = timedelta(days=7)
MEMBER_TEXTS = 50
# Below this cosine a content match is noise ("hello" shares n-grams with everything).
CONTENT_MIN_SCORE = 0.15


@dataclass(frozen=True, slots=True)
class Pick:
    """One recommended item. ``slot`` is "main" or "explore"; ``source`` is
    "model", "content", "popular" or "explore"."""

    item_id: int
    key: str
    title: str
    url: str | None
    reason: str
    slot: str
    source: str
    score: float = 0.0


@dataclass(frozen=True, slots=True)
class Recommendations:
    """The answer for one member: picks (best first, exploration last), and flags for
    an empty catalog or a member who has already seen everything."""

    picks: list[Pick]
    empty_catalog: bool = False
    all_seen: bool = False
    used_model: bool = False


def _title_key(title: str) -> str:
    """Titles that read the same (case, spacing) are the same title."""
    return " ".join(title.casefold().split())


def _signature(session: Session, community_id: int) -> tuple[int, int, datetime | None]:
    row = session.execute(select(func.count(), func.max(CatalogItem.id), func.max(CatalogItem.updated_at))
                          .where(CatalogItem.community_id == community_id)).one()
    return int(row[0]), int(row[1] or 0), row[2]


class RecommenderService:
    """Per-community serving state shared by the bot's handlers (kept in ``app.services``).

    Thread-safe for concurrent ``Store.read`` calls: watchers and content indexes are
    swapped under a lock; scoring touches only immutable arrays.
    """

    def __init__(self, artifact_dir: str | os.PathLike[str], *, refresh_seconds: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.artifact_dir = Path(artifact_dir)
        self.refresh_seconds = refresh_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._watchers: dict[int, ArtifactWatcher] = {}
        self._checked: dict[int, float] = {}
        self._content: dict[int, tuple[tuple[int, int, datetime | None], ContentIndex]] = {}
        self._notes: dict[int, str] = {}

    # -- model --------------------------------------------------------------------------
    def model_for(self, community_id: int) -> ServingModel | None:
        """The community's current model (hot-reloading a newer artifact at most every
        ``refresh_seconds``), or None when there is no valid artifact. Never raises."""
        now = self._clock()
        with self._lock:
            watcher = self._watchers.get(community_id)
            due = watcher is None or now - self._checked.get(community_id, -1e18) >= self.refresh_seconds
            if due:
                self._checked[community_id] = now
        try:
            if watcher is None:
                watcher = ArtifactWatcher(self.artifact_dir / str(community_id))
                with self._lock:
                    self._watchers[community_id] = watcher
            elif due:
                watcher.refresh()
        except Exception:  # a broken directory must never take /recommend down
            log.exception("recsys: could not check artifacts of community %s", community_id)
            self._note(community_id, "the model directory could not be read (see the log); serving popularity")
            return None
        if due:
            self._update_note(community_id, watcher)
        return watcher.model

    def _update_note(self, community_id: int, watcher: ArtifactWatcher) -> None:
        if watcher.rejected and watcher.model is None:
            names = ", ".join(Path(p).name for p in watcher.rejected[-3:])
            self._note(community_id, f"model artifact rejected as corrupt ({names}); serving content/popularity "
                                     "until `cohort recsys train` writes a good one")
        elif watcher.rejected:
            names = ", ".join(Path(p).name for p in watcher.rejected[-3:])
            self._note(community_id, f"a newer artifact was rejected as corrupt ({names}); still serving "
                                     f"{watcher.model.path.name if watcher.model and watcher.model.path else 'the old model'}")
        elif watcher.model is None:
            self._note(community_id, "no trained model yet; serving content/popularity (run `cohort recsys train`)")
        else:
            self._notes.pop(community_id, None)

    def _note(self, community_id: int, text: str) -> None:
        if self._notes.get(community_id) != text:  # tell moderators once per new problem
            log.warning("recsys: community %s: %s", community_id, text)
        self._notes[community_id] = text

    def note(self, community_id: int) -> str | None:
        """The current problem with the community's model, for ``/recommend stats``."""
        return self._notes.get(community_id)

    # -- content ------------------------------------------------------------------------
    def _content_index(self, session: Session, community_id: int, items: Sequence[CatalogItem]) -> ContentIndex:
        signature = _signature(session, community_id)
        cached = self._content.get(community_id)
        if cached is not None and cached[0] == signature:
            return cached[1]
        index = ContentIndex().fit([ContentItem(str(i.id), i.title, tuple(i.tags or ()), i.description or "")
                                    for i in items])
        with self._lock:
            self._content[community_id] = (signature, index)
        return index

    # -- the answer -----------------------------------------------------------------------
    def recommend(self, session: Session, community_id: int, member_id: int, n: int, *, now: datetime,
                  rng: np.random.Generator | None = None) -> Recommendations:
        """Top-``n`` unseen items for the member (``n`` clamped to 1..10), best first,
        with the last slot (when ``n >= 2``) given to exploration. Reads only; call
        :func:`record_impressions` to log what was shown. Never raises for model problems.
        """
        n = max(1, min(MAX_N, n))
        rng = rng or np.random.default_rng()
        items = list(session.scalars(select(CatalogItem).where(CatalogItem.community_id == community_id)
                                     .order_by(CatalogItem.id)))
        if not items:
            return Recommendations([], empty_catalog=True)
        by_id = {item.id: item for item in items}
        completed = set(session.scalars(select(CatalogCompletion.item_id).where(
            CatalogCompletion.community_id == community_id, CatalogCompletion.member_id == member_id)))
        touched = set(session.scalars(select(Interaction.item_id).where(
            Interaction.community_id == community_id, Interaction.member_id == member_id,
            Interaction.item_id.is_not(None)).distinct()))
        seen = {i for i in completed | touched if i in by_id}
        unseen = [item for item in items if item.id not in seen]
        if not unseen:
            return Recommendations([], all_seen=True)
        main_n = n - 1 if n >= 2 and len(unseen) >= 2 else n
        picks: list[Pick] = []
        taken: set[int] = set(seen)
        used_model = False
        titles: set[str] = set()  # one list never shows two items with the same title

        def fresh(item: CatalogItem) -> bool:
            title = _title_key(item.title)
            if title in titles:
                return False
            titles.add(title)
            return True

        model = self.model_for(community_id)
        if model is not None and model.knows(str(member_id)):
            used_model = True
            for item_id, score in model.recommend(str(member_id), main_n + len(seen),
                                                  exclude={str(i) for i in seen}):
                iid = int(item_id)
                if iid in by_id and iid not in taken and len(picks) < main_n and fresh(by_id[iid]):
                    reason = self._model_reason(model, str(member_id), item_id, by_id, completed)
                    picks.append(self._pick(by_id[iid], reason, "main", "model", score))
                    taken.add(iid)

        if len(picks) < main_n:
            texts = [t for t in session.scalars(
                select(Message.text).where(Message.community_id == community_id, Message.author_id == member_id,
                                           Message.text.is_not(None), Message.is_command.is_(False))
                .order_by(Message.posted_at.desc()).limit(MEMBER_TEXTS)) if t]
            if texts:
                index = self._content_index(session, community_id, items)
                for s in index.suggest(texts, k=main_n + len(taken), exclude={str(i) for i in taken},
                                       min_score=CONTENT_MIN_SCORE):
                    iid = int(s.item_id)
                    if iid not in taken and len(picks) < main_n and fresh(by_id[iid]):
                        picks.append(self._pick(by_id[iid], s.reason, "main", "content", s.score))
                        taken.add(iid)

        if len(picks) < main_n:
            for item, count, reason in self._popular(session, community_id, unseen, now):
                if item.id not in taken and len(picks) < main_n and fresh(item):
                    picks.append(self._pick(item, reason, "main", "popular", count))
                    taken.add(item.id)

        by_title: dict[str, CatalogItem] = {}  # exploration draws among distinct, new titles
        for item in unseen:
            if item.id not in taken and _title_key(item.title) not in titles:
                by_title.setdefault(_title_key(item.title), item)
        candidates = list(by_title.values())
        if len(picks) < n and candidates:
            stats = self.explore_stats(session, community_id)
            slot = ThompsonSlot({str(i.id): stats[i.id] for i in candidates if i.id in stats})
            chosen = slot.choose([str(i.id) for i in candidates], rng, n=n - len(picks))
            for item_id in chosen:
                item = by_id[int(item_id)]
                picks.append(self._pick(item, "something new to try — tell us if it helps", "explore", "explore",
                                        slot.posterior_mean(item_id)))
        return Recommendations(picks, used_model=used_model)

    @staticmethod
    def _pick(item: CatalogItem, reason: str, slot: str, source: str, score: float) -> Pick:
        return Pick(item.id, item.key, item.title, item.url, reason, slot, source, float(score))

    @staticmethod
    def _model_reason(model: ServingModel, member: str, item_id: str, by_id: dict[int, CatalogItem],
                      completed: set[int]) -> str:
        # Name the history item that pulls hardest toward this pick: the strongest
        # item-item weight, else the most similar item factor.
        scoring = model.scoring
        row = model.user_index[member]
        history = scoring.seen(row)
        col = model.item_index[item_id]
        if len(history) == 0:
            return "popular with members like you"
        if scoring.item_item is None and scoring.user_factors is None and scoring.popularity_weight:
            return "popular in this community lately"
        if scoring.item_item is not None:
            weights = np.asarray(scoring.item_item[history][:, col].todense()).ravel()
        elif scoring.content_item is not None:
            weights = np.asarray(scoring.content_item[history][:, col].todense()).ravel()
        elif scoring.item_factors is not None:
            factors = scoring.item_factors
            norms = np.linalg.norm(factors[history], axis=1) * (np.linalg.norm(factors[col]) + 1e-9) + 1e-9
            weights = (factors[history] @ factors[col]) / norms
        else:
            return "recommended for you"
        anchor = int(model.item_ids[int(history[int(np.argmax(weights))])])
        if anchor not in by_id:
            return "members with your history took this"
        title = by_id[anchor].title
        if anchor in completed:
            return f"members who finished “{title}” took this next"
        return f"members who liked “{title}” also took this"

    @staticmethod
    def _popular(session: Session, community_id: int, unseen: Sequence[CatalogItem],
                 now: datetime) -> list[tuple[CatalogItem, float, str]]:
        def counts(since: datetime | None) -> dict[int, int]:
            query = select(Interaction.item_id, func.count(func.distinct(Interaction.member_id))).where(
                Interaction.community_id == community_id, Interaction.item_id.is_not(None))
            if since is not None:
                query = query.where(Interaction.at >= since)
            return {int(i or 0): int(c) for i, c in session.execute(query.group_by(Interaction.item_id))}

        week, ever = counts(now - POPULAR_WINDOW), counts(None)
        ranked = sorted(unseen, key=lambda i: (-week.get(i.id, 0), -ever.get(i.id, 0), -i.id))
        out = []
        for item in ranked:
            if week.get(item.id):
                out.append((item, float(week[item.id]), "popular this week"))
            elif ever.get(item.id):
                out.append((item, float(ever[item.id]), "popular in this community"))
            else:
                out.append((item, 0.0, "new in the catalog"))
        return out

    # -- feedback -------------------------------------------------------------------------
    @staticmethod
    def explore_stats(session: Session, community_id: int) -> dict[int, ClickStats]:
        """Exploration-slot impressions and clicks per item (the Thompson posteriors)."""
        rows = session.execute(
            select(RecommendationImpression.item_id, func.count(), func.count(RecommendationImpression.clicked_at))
            .where(RecommendationImpression.community_id == community_id, RecommendationImpression.slot == "explore")
            .group_by(RecommendationImpression.item_id))
        return {int(i): ClickStats(int(shown), int(clicked)) for i, shown, clicked in rows}


def record_impressions(session: Session, community_id: int, member_id: int, picks: Sequence[Pick],
                       at: datetime) -> list[int]:
    """Log that ``picks`` were shown; returns the impression ids (for button data), in order."""
    ids = []
    for pick in picks:
        ids.append(int(session.execute(insert(RecommendationImpression).values(
            community_id=community_id, member_id=member_id, item_id=pick.item_id, slot=pick.slot,
            source=pick.source, shown_at=at).returning(RecommendationImpression.id)).scalar_one()))
    return ids


def slot_stats(session: Session, community_id: int, since: datetime | None = None) -> SlotReport:
    """Main vs exploration click-through of ``/recommend`` for the community."""
    query = select(RecommendationImpression.slot, func.count(), func.count(RecommendationImpression.clicked_at)).where(
        RecommendationImpression.community_id == community_id)
    if since is not None:
        query = query.where(RecommendationImpression.shown_at >= since)
    totals = {slot: ClickStats(int(shown), int(clicked))
              for slot, shown, clicked in session.execute(query.group_by(RecommendationImpression.slot))
              if slot in ("main", "explore")}
    return slot_report(totals)
