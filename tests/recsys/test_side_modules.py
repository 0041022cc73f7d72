from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from engine.catalog.paths import CatalogCycleError, UnknownTargetError, learning_path, validate_catalog
from engine.recsys.bandit import ThompsonSlot, slot_report
from engine.recsys.content import CatalogItem, ContentIndex, popularity_fallback
from engine.recsys.feedback import Interaction, build_feedback_matrix, decay_factor

CATALOG = [
    CatalogItem("py-async", "Python 异步编程入门", ("asyncio", "python"), "事件循环、协程与 await 的用法"),
    CatalogItem("ml-basics", "机器学习基础", ("ml",), "线性回归、梯度下降和过拟合"),
    CatalogItem("sql", "SQL 查询优化", ("database",), "索引、执行计划与慢查询"),
]


def test_tfidf_matches_chinese_text() -> None:
    index = ContentIndex().fit(CATALOG)
    picks = index.suggest(["请问协程和事件循环是什么关系？", "await 总是报错"], k=2)
    assert picks[0].item_id == "py-async"
    assert index.suggest(["梯度下降为什么会过拟合"], k=1)[0].item_id == "ml-basics"
    assert index.suggest(["", "  "]) == []


def test_content_reason_names_tag_and_exclude() -> None:
    index = ContentIndex().fit(CATALOG)
    pick = index.suggest(["how do I cancel an asyncio task?"], k=1)[0]
    assert pick.item_id == "py-async" and pick.reason == "matches your questions about #asyncio"
    assert all(p.item_id != "py-async" for p in index.suggest(["asyncio 协程"], exclude={"py-async"}))


def test_popularity_fallback_orders_and_excludes() -> None:
    picks = popularity_fallback({"a": 3, "b": 9, "c": 3}, k=2, exclude={"b"})
    assert [p.item_id for p in picks] == ["a", "c"] and picks[0].reason == "popular in this community"


def test_bandit_explores_then_exploits() -> None:
    rng = np.random.default_rng(0)
    slot = ThompsonSlot()
    true_ctr = {"good": 0.6, "meh": 0.2, "bad": 0.05}
    picks = []
    for _ in range(600):
        item = slot.choose(true_ctr, rng)[0]
        picks.append(item)
        slot.record(item, bool(rng.random() < true_ctr[item]))
    early, late = picks[:30], picks[-200:]
    assert len(set(early)) == 3  # everything gets tried while posteriors are wide
    assert late.count("good") / len(late) > 0.9
    assert slot.posterior_mean("good") > slot.posterior_mean("bad")


def test_bandit_deterministic_for_generator() -> None:
    slot = ThompsonSlot()
    slot.record("x", True)
    a = slot.choose(["x", "y", "z"], np.random.default_rng(42), n=2)
    b = slot.choose(["x", "y", "z"], np.random.default_rng(42), n=2)
    assert a == b and len(a) == 2 and slot.choose([], np.random.default_rng(0)) == []


def test_slot_report_separates_ctr() -> None:
    report = slot_report([("explore", True), ("explore", False), ("main", True), ("main", True), ("main", False), ("main", False)])
    assert (report.explore_ctr, report.main_ctr) == (0.5, 0.5)
    assert report.explore_impressions == 2 and report.main_clicks == 2
    with pytest.raises(ValueError):
        slot_report([("sidebar", True)])


PREREQS = {"asyncio": ["functions", "generators"], "generators": ["functions"], "functions": [], "aiohttp": ["asyncio"]}


def test_learning_path_respects_order_and_skips_completed() -> None:
    assert learning_path("aiohttp", PREREQS) == ["functions", "generators", "asyncio", "aiohttp"]
    assert learning_path("aiohttp", PREREQS, completed={"functions", "asyncio"}) == ["generators", "aiohttp"]
    assert learning_path("aiohttp", PREREQS, completed=PREREQS) == []


def test_learning_path_for_tag() -> None:
    tags = {"asyncio": ["concurrency"], "aiohttp": ["web"]}
    assert learning_path("concurrency", PREREQS, completed={"functions"}, item_tags=tags) == ["generators", "asyncio"]
    with pytest.raises(UnknownTargetError):
        learning_path("rust", PREREQS, item_tags=tags)


def test_cycle_detected_with_items_named() -> None:
    cyclic = {"a": ["c"], "b": ["a"], "c": ["b"], "d": []}
    with pytest.raises(CatalogCycleError) as info:
        validate_catalog(cyclic)
    assert set(info.value.cycle) == {"a", "b", "c"}
    assert "a" in str(info.value) and "d" not in info.value.cycle


NOW = datetime(2024, 6, 1, tzinfo=UTC)


def test_feedback_weights_and_decay() -> None:
    weights = {"click": 1.0, "completion": 4.0}
    rows = [
        Interaction("ann", "l1", "click", NOW),
        Interaction("ann", "l1", "completion", NOW),
        Interaction("bob", "l2", "completion", NOW - timedelta(days=10)),
        ("bob", "l1", "click", NOW - timedelta(days=20)),
    ]
    fb = build_feedback_matrix(rows, kind_weights=weights, half_life_days=10, now=NOW)
    m = fb.matrix.toarray()
    ann, bob = fb.member_index["ann"], fb.member_index["bob"]
    l1, l2 = fb.item_index["l1"], fb.item_index["l2"]
    assert m[ann, l1] == pytest.approx(5.0)  # repeated interactions add up
    assert m[bob, l2] == pytest.approx(2.0)  # one half-life halves the weight
    assert m[bob, l1] == pytest.approx(0.25)
    assert decay_factor(5, None) == 1.0


def test_feedback_fixed_catalog_and_unknown_kind() -> None:
    fb = build_feedback_matrix([("ann", "gone", "click", NOW)], item_ids=["l1", "l2"], half_life_days=None)
    assert fb.matrix.shape == (0, 2) and fb.item_ids == ["l1", "l2"]
    with pytest.raises(ValueError, match="unknown interaction kind"):
        build_feedback_matrix([("ann", "l1", "teleport", NOW)])
    skipped = build_feedback_matrix([("ann", "l1", "teleport", NOW)], ignore_unknown_kinds=True)
    assert skipped.matrix.nnz == 0
