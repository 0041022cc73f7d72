"""The community simulator: determinism, order, archetype behaviour, catalog, memory."""

from __future__ import annotations

import itertools
import re
import tracemalloc
from collections import Counter, defaultdict
from datetime import UTC, datetime

import pytest

from engine.events import ButtonClicked, MemberJoined, MemberLeft, MessagePosted, Platform, ReactionAdded
from engine.sim import python_course, simulate_community

CJK = re.compile(r"[\u4e00-\u9fff]")
START = datetime(2024, 3, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def community():
    sim = simulate_community(11, members=300, days=60, start=START)
    return sim, list(sim.events)


def test_same_seed_same_history_and_replayable() -> None:
    first = list(simulate_community(5, members=60, days=20).events)
    again = simulate_community(5, members=60, days=20)
    assert first == list(again.events) == list(again.events)
    assert first != list(simulate_community(6, members=60, days=20).events)


def test_time_ordered_console_events(community) -> None:
    _, events = community
    assert [e.at for e in events] == sorted(e.at for e in events)
    assert events[0].at >= START
    assert all(e.platform is Platform.CONSOLE and e.community_id == "demo" for e in events)
    keys = [e.dedup_key for e in events if not isinstance(e, MemberJoined | MemberLeft)]
    assert len(keys) == len(set(keys))


def _per_member(events, truth, predicate) -> dict[str, float]:
    """Mean count of events matching ``predicate`` per member of each archetype."""
    counts = Counter(e.user_id for e in events if predicate(e))
    sizes = Counter(t.archetype for t in truth.values())
    totals: Counter[str] = Counter()
    for user_id, n in counts.items():
        totals[truth[user_id].archetype] += n
    return {kind: totals[kind] / sizes[kind] for kind in sizes}


def test_helpers_answer_and_askers_ask(community) -> None:
    sim, events = community
    truth = sim.ground_truth
    asks = _per_member(events, truth, lambda e: isinstance(e, MessagePosted) and e.is_topic_start)
    answers = _per_member(
        events,
        truth,
        lambda e: isinstance(e, MessagePosted) and e.reply_to_message_id == e.thread_id is not None,
    )
    assert answers["helper"] > 5 * asks["helper"]
    assert asks["asker"] > 3 * answers["asker"]
    assert answers["helper"] > 5 * answers["asker"]
    accepted = Counter(
        truth[e.target_user_id].archetype for e in events if isinstance(e, ReactionAdded) and e.emoji == "✅"
    )
    assert accepted.most_common(1)[0][0] == "helper"
    lurker_posts = _per_member(events, truth, lambda e: isinstance(e, MessagePosted))["lurker"]
    assert lurker_posts < asks["asker"] / 5


def test_faders_fade_then_leave(community) -> None:
    sim, events = community
    faders = {uid: t for uid, t in sim.ground_truth.items() if t.archetype == "fader"}
    assert faders and all(t.churned and t.fading_from for t in faders.values())
    left = {e.user_id: e.at for e in events if isinstance(e, MemberLeft)}
    before = after = 0
    for uid, t in faders.items():
        assert left[uid] == t.churned_at
        acts = [e.at for e in events if e.user_id == uid and not isinstance(e, MemberJoined | MemberLeft)]
        assert all(at < t.churned_at for at in acts)  # nothing after leaving
        # compare equal-length windows just before the fade and just before leaving
        window = (t.churned_at - t.fading_from) / 2
        before += sum(t.fading_from - window <= at < t.fading_from for at in acts)
        after += sum(t.churned_at - window <= at < t.churned_at for at in acts)
    assert after < before / 2


def test_newcomers_join_midway_and_stayers_never_leave(community) -> None:
    sim, events = community
    joined = {e.user_id: e.at for e in events if isinstance(e, MemberJoined)}
    assert len(joined) == len(sim.ground_truth)
    for uid, truth in sim.ground_truth.items():
        assert joined[uid] == truth.joined_at
        if truth.archetype == "newcomer":
            assert (truth.joined_at - START).days >= 12  # 20% of 60 days
        if truth.archetype in ("helper", "asker", "lurker"):
            assert not truth.churned
    left = {e.user_id for e in events if isinstance(e, MemberLeft)}
    assert left == {uid for uid, t in sim.ground_truth.items() if t.churned}


def test_catalog_is_a_dag_in_topological_order() -> None:
    for language in ("en", "zh", "mixed"):
        items = python_course(language)
        seen: set[str] = set()
        for item in items:
            assert set(item.prerequisites) <= seen, item.key  # prerequisites come first: no cycle
            seen.add(item.key)
        assert len(seen) == len(items) >= 12
        assert all(item.url.startswith("https://") and item.points > 0 for item in items)
    assert all(CJK.search(item.title) for item in python_course("zh"))
    with pytest.raises(ValueError):
        python_course("fr")


def test_links_and_completions_point_at_catalog_items(community) -> None:
    sim, events = community
    urls = {item.url for item in sim.catalog}
    links = [link for e in events if isinstance(e, MessagePosted) for link in e.links]
    assert links and set(links) <= urls
    prerequisites = {item.key: set(item.prerequisites) for item in sim.catalog}
    done: defaultdict[str, set[str]] = defaultdict(set)
    completions = list(sim.completions)
    assert completions
    for completion in completions:
        assert prerequisites[completion.item_key] <= done[completion.user_id]
        done[completion.user_id].add(completion.item_key)
    clicks = [e for e in events if isinstance(e, ButtonClicked)]
    assert [(c.user_id, c.item_key, c.at) for c in completions] == [
        (e.user_id, e.data.removeprefix("done:"), e.at) for e in clicks
    ]


def test_chinese_and_mixed_text() -> None:
    zh = list(itertools.islice(simulate_community(2, members=50, days=10, language="zh").events, 2000))
    texts = [e.text for e in zh if isinstance(e, MessagePosted)]
    assert texts and sum(bool(CJK.search(t)) for t in texts) / len(texts) > 0.9
    mixed = simulate_community(2, members=80, days=10, language="mixed")
    languages = Counter(t.language for t in mixed.ground_truth.values())
    assert languages["zh"] > 10 and languages["en"] > 10


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        simulate_community(1, members=0)
    with pytest.raises(ValueError):
        simulate_community(1, language="fr")
    with pytest.raises(ValueError):
        simulate_community(1, start=datetime(2024, 1, 1))
    with pytest.raises(KeyError):
        simulate_community(1, members=3).ground_truth["u3"]


def test_memory_does_not_grow_with_days() -> None:
    sim = simulate_community(3, members=500, days=30)
    tracemalloc.start()
    try:
        count = sum(1 for _ in sim.events)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count > 15_000  # a list of these alone would take more than the bound
    assert peak < 5_000_000, f"peak {peak / 1e6:.1f} MB"
