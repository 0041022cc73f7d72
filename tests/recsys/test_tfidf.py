"""The numpy TF-IDF equals scikit-learn's char_wb + word union (the bot serves without sklearn)."""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

from engine.recsys.tfidf import CharWordTfidf

DOCS = [
    "Async IO with asyncio  asyncio", "异步编程 入门 asyncio", "Testing with pytest\tfixtures",
    "a b", "数据库 索引 SQL index", "I ²  x",
]
QUERIES = ["how do I test with pytest?", "索引 怎么 用", "zzz", ""]


def test_matches_scikit_learn_on_mixed_english_and_chinese() -> None:
    reference = FeatureUnion([
        ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3), sublinear_tf=True)),
        ("word", TfidfVectorizer(analyzer="word", token_pattern=r"(?u)\b\w\w+\b", sublinear_tf=True)),
    ])
    expected_docs = reference.fit_transform(DOCS).toarray()
    ours = CharWordTfidf()
    got_docs = ours.fit_transform(DOCS).toarray()
    assert got_docs.shape == expected_docs.shape
    np.testing.assert_allclose(got_docs, expected_docs, atol=1e-12)
    np.testing.assert_allclose(ours.transform(QUERIES).toarray(), reference.transform(QUERIES).toarray(), atol=1e-12)
