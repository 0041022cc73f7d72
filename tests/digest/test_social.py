"""The social graph, questions, segments and topics on hand-built logs (no database)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from engine.social.graph import analyse, build_graph, isolated_newcomers, pagerank
from engine.social.questions import find_questions, is_question, message_link, top_answerers, unanswered
from engine.social.segments import movement, name_centroid, segment_members
from engine.social.topics import tokenizer, trending_topics
from tests.digest.logs import END, START, LogBuilder


def test_pagerank_matches_networkx_on_a_random_weighted_graph() -> None:
    rng = np.random.default_rng(3)
    b = LogBuilder()
    for m in range(1, 41):
        b.member(m)
    for _ in range(300):
        src, dst = rng.integers(1, 41, 2)
        if src != dst:
            b.edge(int(src), int(dst), ["reply", "mention", "reaction"][int(rng.integers(0, 3))], hours_ago=5)
    g = build_graph(b.build(), START, END)
    ours = dict(zip(g.nodes.tolist(), pagerank(g.adjacency).tolist(), strict=True))
    theirs = nx.pagerank(g.to_networkx(), weight="weight", tol=1e-12)
    assert ours.keys() == theirs.keys()
    assert max(abs(ours[k] - theirs[k]) for k in ours) < 1e-6


def test_edge_weights_add_reply_mention_and_reaction_and_respect_the_window() -> None:
    b = LogBuilder()
    b.member(1), b.member(2)
    b.edge(1, 2, "reply", hours_ago=1)
    b.edge(1, 2, "reaction", hours_ago=2)
    b.edge(1, 2, "mention", hours_ago=3)
    b.edge(1, 2, "reply", hours_ago=24 * 8)  # before the window
    g = build_graph(b.build(), START, END).to_networkx()
    assert g[1][2]["weight"] == 6.0
    assert not g.has_edge(2, 1)


def _two_cliques_with_a_bridge() -> LogBuilder:
    b = LogBuilder()
    left, right, bridge = range(1, 7), range(7, 13), 13
    for m in [*left, *right, bridge]:
        b.member(m)
    for group in (left, right):
        for a in group:
            for c in group:
                if a != c:
                    b.edge(a, c, "reply", hours_ago=10)
    for a in (1, 7):
        b.edge(bridge, a, "reply", hours_ago=3)
        b.edge(a, bridge, "reaction", hours_ago=2)
    return b


def test_bridge_between_two_groups_has_top_betweenness_and_groups_are_found() -> None:
    report = analyse(_two_cliques_with_a_bridge().build(), START, END)
    assert report.bridges[0].member_id == 13
    sizes = sorted(c.size for c in report.communities)
    assert sizes[-1] >= 6 and len(report.communities) >= 2
    assert report.modularity > 0.3
    assert not report.betweenness_sampled


def test_the_member_everyone_answers_to_is_the_top_influencer() -> None:
    b = LogBuilder()
    for m in range(1, 12):
        b.member(m)
    for m in range(2, 12):
        b.edge(m, 1, "reply", hours_ago=m)
        b.edge(m, (m % 10) + 2, "reaction", hours_ago=m)
    report = analyse(b.build(), START, END)
    assert report.influencers[0].member_id == 1
    assert report.influencers[0].score > report.influencers[1].score


def test_isolated_newcomers_are_recent_present_and_never_replied_to() -> None:
    b = LogBuilder()
    b.member(1)
    b.member(2, joined_days_ago=3)  # isolated
    b.member(3, joined_days_ago=4)  # got a reply
    b.member(4, joined_days_ago=20)  # not new
    b.member(5, joined_days_ago=2, left=END - __import__("datetime").timedelta(days=1))  # left
    q = b.post(3, "hello, how do I start?", hours_ago=30)
    b.post(1, "welcome! start with lesson 1", hours_ago=29, reply_to=q)
    assert [r.member_id for r in isolated_newcomers(b.build(), END)] == [2]


@pytest.mark.parametrize(("text", "expected"), [
    ("How do I install it", True),
    ("is this right?", True),
    ("这个怎么用", True),
    ("代码能跑吗", True),
    ("为什么报错？", True),
    ("我卡住了", True),
    ("I'm stuck with the loop.", True),
    ("Thanks, that worked!", False),
    ("好的，谢谢", False),
    ("👍👍", False),
    ("", False),
])
def test_is_question(text: str, expected: bool) -> None:
    assert is_question(text) is expected


def test_answers_count_only_from_another_member_within_the_window() -> None:
    b = LogBuilder()
    for m in (1, 2, 3):
        b.member(m)
    self_answered = b.post(1, "how do I read a file?", hours_ago=100)
    b.post(1, "never mind, found it", hours_ago=99, reply_to=self_answered)
    late = b.post(2, "why is my loop slow?", hours_ago=90)
    b.post(3, "use a set", hours_ago=30, reply_to=late)  # 60 h later
    quick = b.post(3, "怎么排序字典？", hours_ago=80)
    b.post(2, "用 sorted", hours_ago=79, reply_to=quick)
    topic = b.post(2, "Where are the slides?", hours_ago=70, thread=9, topic_start=True, title="Slides")
    b.post(1, "in the pinned message", hours_ago=69, thread=9)
    fresh = b.post(1, "anyone around?", hours_ago=2)
    log = b.build()
    qs = find_questions(log, start=START, end=END, hours=24)
    by_id = {q.post.id: q for q in qs}
    assert by_id[quick.id].answered_by == 2 and by_id[topic.id].answered_by == 1
    assert by_id[self_answered.id].answered_at is None and by_id[late.id].answered_at is None
    open_ = unanswered(qs, now=END, hours=24)
    assert [q.post.id for q in open_] == [self_answered.id, late.id]  # `fresh` has not waited 24 h
    assert fresh.id in by_id
    assert top_answerers(qs) == [(1, 1), (2, 1)]


def test_stack_exchange_topic_starts_are_questions_and_links_follow_the_platform() -> None:
    b = LogBuilder(platform="stackexchange", community_ext="bicycles.meta")
    b.member(1)
    q = b.post(1, "Proposal: retire the tag", hours_ago=50, thread=123, topic_start=True, title="Retire a tag")
    qs = find_questions(b.build(), start=START, end=END)
    assert [x.post.id for x in qs] == [q.id]
    assert qs[0].link == "https://bicycles.meta.stackexchange.com/q/123"
    tg = LogBuilder(platform="telegram", community_ext="-1001234").post(1, "x?", hours_ago=1, chat="-1001234")
    assert message_link("telegram", "-1001234", tg) == f"https://t.me/c/1234/{tg.external_id}"
    assert message_link("console", "g1", tg) is None


def _segment_log() -> LogBuilder:
    b = LogBuilder()
    asker_q = []
    for m in range(1, 31):
        b.member(m)
    for m in range(1, 11):  # askers
        for d in range(8):
            asker_q.append(b.post(m, f"how do I fix error {d}?", hours_ago=24 * d + m))
    for i, q in enumerate(asker_q):  # helpers 11..18 answer everything
        helper = 11 + i % 8
        b.post(helper, "try this: reset the index", hours_ago=(END - q.at).total_seconds() / 3600 - 0.5, reply_to=q)
    # 19..30 lurk: one reaction each
    for m in range(19, 31):
        b.edge(m, 11, "reaction", hours_ago=40)
    return b


def test_segments_are_named_from_their_centroids() -> None:
    seg = segment_members(_segment_log().build(), END, k=4)
    names = {s.name: s.size for s in seg.segments}
    assert seg.labels[1] == "askers" and seg.labels[12] == "helpers" and seg.labels[25] in ("lurkers", "inactive")
    assert sum(names.values()) == 30


def test_centroid_names_and_movement() -> None:
    base = {"posts": 20.0, "replies_given": 15.0, "replies_received": 2.0, "questions": 1.0,
            "reactions_given": 5.0, "active_days": 15.0, "tenure_days": 60.0, "idle_days": 1.0, "trend": 0.0}
    assert name_centroid(base) == "helpers"
    assert name_centroid({**base, "replies_given": 1.0, "questions": 10.0}) == "askers"
    assert name_centroid({**base, "trend": -0.8}) == "fading"
    assert name_centroid({**base, "tenure_days": 5.0, "posts": 3.0}) == "newcomers"
    assert name_centroid({**base, "posts": 0.0, "reactions_given": 0.0}) == "inactive"
    moves = movement({1: "helpers", 2: "askers", 3: "askers"}, {1: "fading", 2: "askers", 3: "fading", 4: "newcomers"})
    assert moves == [("askers", "fading", 1), ("helpers", "fading", 1), ("new", "newcomers", 1)]


def test_segments_of_an_empty_or_single_member_log() -> None:
    assert segment_members(LogBuilder().build(), END).segments == []
    b = LogBuilder()
    b.member(1)
    b.post(1, "hello", hours_ago=3)
    seg = segment_members(b.build(), END)
    assert [s.size for s in seg.segments] == [1]


def test_topics_in_english_and_chinese_with_jieba_and_char_ngrams() -> None:
    b = LogBuilder()
    b.member(1)
    texts = ["装饰器怎么写？装饰器的参数", "装饰器和闭包有什么关系", "闭包里的装饰器",
             "asyncio event loop is blocked", "asyncio tasks and the event loop", "cancel an asyncio task in the loop",
             "列表推导式怎么嵌套", "嵌套的列表推导式太难读", "列表推导式和循环"] * 3
    for i, t in enumerate(texts):
        b.post(1, t, hours_ago=i + 1)
    posts = b.build().posts
    report = trending_topics(posts, topics=3, keywords=4, kind="jieba")
    words = [set(t.keywords) for t in report.topics]
    assert any("装饰" in w for w in words) and any("asyncio" in w for w in words)
    assert not any("饰器" in w for w in words)  # jieba finds words, not fragments
    assert all(t.example is not None for t in report.topics)
    chars = trending_topics(posts, topics=3, keywords=4, kind="chars")
    assert chars.tokenizer == "chars" and any("装饰" in w for t in chars.topics for w in t.keywords)
    assert tokenizer("chars")[1]("装饰器") == ["装饰", "饰器", "装饰器"]


def test_emoji_only_posts_give_no_topics() -> None:
    b = LogBuilder()
    b.member(1)
    for i in range(10):
        b.post(1, "👍🔥😂", hours_ago=i + 1)
    assert trending_topics(b.build().posts).topics == []
