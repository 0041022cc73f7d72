"""TF-IDF over character n-grams and words with numpy/scipy only (no scikit-learn).

The bot process serves content picks, so it must not pay scikit-learn's import (≈63 MB of
RSS). This reproduces ``TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3),
sublinear_tf=True)`` unioned with ``TfidfVectorizer(analyzer="word",
token_pattern=r"(?u)\\b\\w\\w+\\b", sublinear_tf=True)``: lower-cased text, smoothed idf
``ln((1+n)/(1+df)) + 1``, ``1 + ln(tf)`` term frequencies, each block L2-normalised
(a test checks it against scikit-learn). Character n-grams work for Chinese, which has no
spaces for a word tokenizer; the word block keeps exact tags weighing in.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

_WHITESPACE = re.compile(r"\s\s+")
_WORD = re.compile(r"(?u)\b\w\w+\b")


def char_wb_ngrams(text: str, low: int = 2, high: int = 3) -> Iterator[str]:
    """scikit-learn's ``char_wb`` n-grams: each word padded with one space each side."""
    for word in _WHITESPACE.sub(" ", text.lower()).split():
        padded = f" {word} "
        for n in range(low, high + 1):
            if len(padded) < n:  # a short word counts once, as itself
                yield padded
                break
            for offset in range(len(padded) - n + 1):
                yield padded[offset : offset + n]


def _char_counts(texts: Sequence[str], low: int = 2, high: int = 3) -> list[Counter[str]]:
    """:func:`char_wb_ngrams` counted per text; each distinct word is cut into n-grams once."""
    cache: dict[str, list[str]] = {}
    out: list[Counter[str]] = []
    for text in texts:
        grams: list[str] = []
        for word in _WHITESPACE.sub(" ", text.lower()).split():
            cut = cache.get(word)
            if cut is None:
                cut = cache[word] = list(char_wb_ngrams(word, low, high))
            grams.extend(cut)
        out.append(Counter(grams))
    return out


def words(text: str) -> Iterator[str]:
    """Tokens of two or more word characters, lower-cased."""
    yield from _WORD.findall(text.lower())


@dataclass(frozen=True, slots=True)
class TfidfBlock:
    """One fitted vocabulary with its idf weights."""

    vocabulary: dict[str, int]
    idf: np.ndarray

    def transform(self, terms_per_doc: Sequence[Counter[str]]) -> sp.csr_matrix:
        """Rows of L2-normalised sublinear tf·idf; terms outside the vocabulary are ignored."""
        lookup = self.vocabulary.get
        sizes = np.fromiter((len(terms) for terms in terms_per_doc), dtype=np.int64, count=len(terms_per_doc))
        # Column per term (-1 outside the vocabulary) and its count, one flat pass in C-level maps.
        cols = np.fromiter(itertools.chain.from_iterable(map(lookup, terms, itertools.repeat(-1))
                                                         for terms in terms_per_doc), dtype=np.int64,
                           count=int(sizes.sum()))
        counts = np.fromiter(itertools.chain.from_iterable(terms.values() for terms in terms_per_doc),
                             dtype=np.float64, count=int(sizes.sum()))
        rows = np.repeat(np.arange(len(terms_per_doc), dtype=np.int64), sizes)
        known = cols >= 0
        col_array = cols[known]
        values = (1.0 + np.log(counts[known])) * self.idf[col_array]
        matrix = sp.csr_matrix((values, (rows[known], col_array)), shape=(len(terms_per_doc), len(self.vocabulary)))
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sp.csr_matrix(sp.diags(1.0 / norms) @ matrix)


def fit_block(terms_per_doc: Sequence[Counter[str]]) -> TfidfBlock:
    """Vocabulary (sorted, as scikit-learn does) and smoothed idf of a corpus."""
    df: Counter[str] = Counter()
    for counts in terms_per_doc:
        df.update(counts.keys())
    terms = sorted(df)
    vocabulary = {term: col for col, term in enumerate(terms)}
    n = len(terms_per_doc)
    idf = np.log((1.0 + n) / (1.0 + np.array([df[t] for t in terms], dtype=np.float64))) + 1.0
    return TfidfBlock(vocabulary, idf)


class CharWordTfidf:
    """Character (2–3, word-bounded) and word TF-IDF blocks side by side.

    :meth:`fit_transform` then :meth:`transform`; rows are ``[char block | word block]``,
    each block unit-length, so a row·row product lies in ``[0, 2]``.
    """

    def __init__(self) -> None:
        self._blocks: tuple[TfidfBlock, TfidfBlock] | None = None

    @staticmethod
    def _terms(texts: Sequence[str]) -> tuple[list[Counter[str]], list[Counter[str]]]:
        return _char_counts(texts), [Counter(words(t)) for t in texts]

    def fit_transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Fit both vocabularies on ``texts`` and return their matrix."""
        chars, tokens = self._terms(texts)
        self._blocks = (fit_block(chars), fit_block(tokens))
        return sp.csr_matrix(sp.hstack([self._blocks[0].transform(chars), self._blocks[1].transform(tokens)]))

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Vectors for new texts. Raises ``RuntimeError`` before :meth:`fit_transform`."""
        if self._blocks is None:
            raise RuntimeError("fit_transform() first")
        chars, tokens = self._terms(texts)
        return sp.csr_matrix(sp.hstack([self._blocks[0].transform(chars), self._blocks[1].transform(tokens)]))
