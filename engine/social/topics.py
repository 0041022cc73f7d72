"""Trending topics of a period: TF-IDF + NMF over its posts, English and Chinese.

Chinese has no spaces, so words must be found. Two tokenisers are offered:

* ``"jieba"`` — the jieba segmenter (dictionary + HMM) when installed: keywords are
  words (「字典 · 列表 · 排序」), though its general dictionary splits course jargon
  (「装饰器」 → 「装饰」);
* ``"chars"`` — character 2–3-grams of every CJK run: needs nothing, but keywords are
  fragments that cross word boundaries (「间结果 · 间结 · 话先」) and one phrase fills
  several of a topic's slots.

On the demo's Chinese text jieba reads better (``benchmarks/social.py --compare-zh``
prints both side by side), so it is the default when importable; ``chars`` is the
fallback. Latin words (≥ 2 letters, lower-cased, minus stop words) are tokens in both.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from engine.social.log import ActivityLog, Post

_LATIN = re.compile(r"[a-z][a-z0-9_+#.-]*[a-z0-9_+#]|[a-z]{2}")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
_URL = re.compile(r"https?://\S+")
EN_STOP = frozenset(
    ["the", "a", "an", "and", "or", "but", "if", "then", "so", "to", "of", "in", "on", "at", "for", "with", "from", "by", "is", "are", "was", "were", "be", "been", "am", "it", "its", "this", "that", "these", "those", "i", "you", "he", "she", "we", "they", "me", "my", "your", "our", "their", "them", "what", "which", "who", "how", "why", "when", "where", "do", "does", "did", "not", "no", "yes", "can", "could", "should", "would", "will", "just", "very", "too", "also", "there", "here", "have", "has", "had", "get", "got", "any", "some", "all", "more", "most", "much", "many", "one", "two", "about", "into", "out", "up", "down", "over", "than", "as", "like", "don", "doesn", "isn", "im", "it's", "i'm", "i've", "thanks", "thank", "please", "hi", "hello", "ok", "okay", "still", "really", "now", "way", "me", "try"]
)
ZH_STOP = frozenset(["的", "了", "是", "我", "你", "他", "她", "它", "们", "在", "有", "和", "就", "不", "也", "都", "这", "那", "吗", "呢", "吧", "啊", "一个", "什么", "怎么", "还是", "但", "很", "没有", "可以", "一下", "这个", "那个", "为什么", "如何", "就是", "自己", "因为", "所以", "然后", "之前", "不是", "里面", "看看", "的话", "出来", "有人", "某个", "一些", "已经", "大家", "知道", "觉得", "现在"])


@dataclass(frozen=True, slots=True)
class Topic:
    keywords: tuple[str, ...]
    posts: int  # posts mainly about it
    example: Post | None = None  # the post that is most about it


@dataclass
class TopicReport:
    tokenizer: str
    topics: list[Topic] = field(default_factory=list)


def _jieba_cut() -> Callable[[str], list[str]] | None:
    if importlib.util.find_spec("jieba") is None:
        return None
    jieba = importlib.import_module("jieba")
    jieba.setLogLevel(60)  # its "Building prefix dict" lines are noise in a digest run
    return lambda text: list(jieba.lcut(text))


def tokenizer(kind: str = "auto") -> tuple[str, Callable[[str], list[str]]]:
    """(name, tokenise function) for ``"jieba"``, ``"chars"`` or ``"auto"`` (jieba when installed)."""
    cut = _jieba_cut() if kind in ("auto", "jieba") else None
    if kind == "jieba" and cut is None:
        raise ValueError("jieba is not installed")
    name = "jieba" if cut is not None else "chars"

    def tokens(text: str) -> list[str]:
        text = _URL.sub(" ", text.lower())
        out = [w for w in _LATIN.findall(text) if w not in EN_STOP]
        for run in _CJK_RUN.findall(text):
            if cut is not None:
                out.extend(w for w in cut(run) if len(w) >= 2 and w not in ZH_STOP)
            else:
                out.extend(run[i:i + n] for n in (2, 3) for i in range(len(run) - n + 1))
        return out

    return name, tokens


def trending_topics(posts: list[Post], *, topics: int = 5, keywords: int = 5, seed: int = 0,
                    kind: str = "auto", max_posts: int = 50_000) -> TopicReport:
    """Topics of ``posts`` (at most ``max_posts`` of the newest); fewer topics when there is
    too little text. Posts with no usable token (emoji only, links only) are ignored."""
    from sklearn.decomposition import NMF
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.feature_extraction.text import TfidfVectorizer

    name, tokens = tokenizer(kind)
    report = TopicReport(name)
    chosen = posts[-max_posts:]
    docs = [tokens(p.thread_title + " " + p.text if p.is_topic_start else p.text) for p in chosen]
    keep = [i for i, d in enumerate(docs) if d]
    if len(keep) < 3:
        return report
    vectorizer = TfidfVectorizer(analyzer=lambda d: d, min_df=2 if len(keep) >= 20 else 1,
                                 max_df=0.5 if len(keep) >= 20 else 1.0, sublinear_tf=True,
                                 max_features=20_000)
    try:
        matrix = vectorizer.fit_transform([docs[i] for i in keep])
    except ValueError:  # every term pruned
        return report
    vocab = vectorizer.get_feature_names_out()
    n_topics = max(1, min(topics, matrix.shape[1] // 3, len(keep) // 3))
    model = NMF(n_components=n_topics, init="nndsvd", random_state=seed, max_iter=300)
    with warnings.catch_warnings():  # a topic list does not need NMF to converge to 1e-4
        warnings.simplefilter("ignore", ConvergenceWarning)
        weights = model.fit_transform(matrix)
    main = weights.argmax(axis=1)
    strength = weights.max(axis=1)
    found: list[Topic] = []
    for t in range(n_topics):
        order = np.argsort(-model.components_[t])
        words = tuple(str(vocab[j]) for j in order[:keywords] if model.components_[t, j] > 0)
        members = np.flatnonzero((main == t) & (strength > 0))
        if not words or not len(members):
            continue
        best = members[np.argmax(weights[members, t])]
        found.append(Topic(words, len(members), chosen[keep[int(best)]]))
    report.topics = sorted(found, key=lambda t: -t.posts)
    return report


def topics_of(log: ActivityLog, start: datetime, end: datetime, **kw: object) -> TopicReport:
    return trending_topics(log.posts_between(start, end), **kw)  # type: ignore[arg-type]
