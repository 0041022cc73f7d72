"""Content-based cold start: match catalog items to what a member writes about.

TF-IDF (:mod:`engine.recsys.tfidf`, numpy/scipy only, so the bot never imports
scikit-learn) over character n-grams (``char_wb``, 2–3) works for Chinese, which has no spaces
for a word tokenizer, and for English identifiers such as ``asyncio`` alike; word
unigrams are added so exact tags still weigh in. Plus a popularity fallback for members
who have said nothing yet.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from engine.recsys.tfidf import CharWordTfidf


@dataclass(frozen=True, slots=True)
class CatalogItem:
    """A recommendable lesson/post/resource; ``tags`` without the leading ``#``."""

    item_id: str
    title: str
    tags: tuple[str, ...] = ()
    description: str = ""

    def text(self) -> str:
        """Title, tags and description joined for the vectoriser (title and tags doubled)."""
        tags = " ".join(self.tags)
        return f"{self.title} {self.title} {tags} {tags} {self.description}"


@dataclass(frozen=True, slots=True)
class ContentSuggestion:
    """One content-based pick: item, cosine score, and a human-readable reason."""

    item_id: str
    score: float
    reason: str


@dataclass(slots=True)
class ContentIndex:
    """TF-IDF index of a catalog; build with :meth:`fit`, query with :meth:`suggest`."""

    items: list[CatalogItem] = field(default_factory=list)
    _vectorizer: CharWordTfidf | None = None
    _matrix: sp.csr_matrix | None = None  # items × features, rows L2-normalised per block

    def fit(self, items: Sequence[CatalogItem]) -> ContentIndex:
        """Index ``items``; returns self. Raises ``ValueError`` on an empty catalog."""
        if not items:
            raise ValueError("cannot index an empty catalog")
        self.items = list(items)
        self._vectorizer = CharWordTfidf()
        self._matrix = self._vectorizer.fit_transform([item.text() for item in self.items])
        return self

    def suggest(
        self,
        member_texts: Iterable[str],
        k: int = 5,
        exclude: set[str] | None = None,
        min_score: float = 0.05,
    ) -> list[ContentSuggestion]:
        """Items most similar to the member's own messages, best first, each with a reason.

        Returns ``[]`` if the member wrote nothing usable or nothing clears ``min_score``.
        Raises ``RuntimeError`` before :meth:`fit`.
        """
        if self._vectorizer is None or self._matrix is None:
            raise RuntimeError("fit() the content index first")
        texts = [t for t in member_texts if t and t.strip()]
        if not texts:
            return []
        query = self._vectorizer.transform([" ".join(texts)])
        # Two L2-normalised blocks: dividing by 2 keeps the cosine in [0, 1].
        scores = np.asarray((self._matrix @ query.T).todense()).ravel() / 2.0
        banned = exclude or set()
        order = np.argsort(-scores, kind="stable")
        picks: list[ContentSuggestion] = []
        for col in order:
            item = self.items[col]
            if scores[col] < min_score or len(picks) >= k:
                break
            if item.item_id in banned:
                continue
            picks.append(ContentSuggestion(item.item_id, float(scores[col]), _reason(item, texts)))
        return picks


_STOPWORDS = frozenset({"with", "from", "into", "your", "what", "when", "this", "that", "have", "about", "using"})


def _reason(item: CatalogItem, texts: list[str]) -> str:
    joined = " ".join(texts).lower()
    for tag in item.tags:
        if tag.lower() in joined:
            return f"matches your questions about #{tag}"
    # Skip short/common words so "Testing with pytest" is about "pytest", not "with".
    words = [w for w in re.findall(r"\w+", item.title)
             if len(w) > 3 and w.lower() not in _STOPWORDS and w.lower() in joined]
    if words:
        return f"matches your questions about {words[0]}"
    if item.tags:
        return f"close to what you asked; tagged #{item.tags[0]}"
    return "close to what you have been asking about"


def popularity_fallback(
    counts: Mapping[str, float], k: int = 5, exclude: set[str] | None = None
) -> list[ContentSuggestion]:
    """The ``k`` items with the highest interaction counts, ties broken by id, with a reason."""
    banned = exclude or set()
    ranked = sorted((item for item in counts if item not in banned), key=lambda i: (-counts[i], i))
    return [ContentSuggestion(i, float(counts[i]), "popular in this community") for i in ranked[:k]]
