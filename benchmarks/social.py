"""Social analysis + digest benchmark: graph metrics, segments, topics and rendering.

Three parts, each printed with the time of every step:

* ``synthetic``: a community of ``--members`` (50,000) and ``--interactions`` (500,000:
  half reactions, 40 % replies, 10 % mentions, four fifths inside one of 200 groups,
  activity log-normal) plus ``--posts`` (100,000) EN/中文 posts, built in memory as an
  :class:`~engine.social.log.ActivityLog`; target: graph + segments + topics + rendering
  ≤ 30 s. ``--networkx`` also times networkx's own Louvain on the same graph (the peer:
  what the digest would cost without NetworKit).
* ``bicycles-meta``: the Stack Exchange dump (``../shared/data/stackexchange/bicycles-meta``)
  imported with the existing importer into a temporary SQLite database, then the digest
  of the busiest 30 days built from the store (load included).
* ``--compare-zh``: the Chinese tokenisers (jieba vs character n-grams) side by side on
  the simulator's Chinese text.

    nice .venv/bin/python benchmarks/social.py
    nice .venv/bin/python benchmarks/social.py --members 5000 --interactions 50000 --posts 10000
    nice .venv/bin/python benchmarks/social.py --compare-zh --skip-synthetic --skip-se
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # 2 shared cores: no BLAS oversubscription
os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# ../shared beside the repository (a worktree may sit one level deeper)
DEFAULT_SE = next((p / "shared" / "data" / "stackexchange" / "bicycles-meta" for p in ROOT.parents
                   if (p / "shared" / "data" / "stackexchange" / "bicycles-meta").exists()),
                  ROOT.parent / "shared" / "data" / "stackexchange" / "bicycles-meta")
T = TypeVar("T")

_EN = ["How do I {t} in Python?", "Why does {t} give a TypeError?", "Here is how to {t}: use the standard library",
       "Try to {t} step by step", "Thanks, {t} works now", "Anyone else stuck on how to {t}?"]
_ZH = ["怎么{t}？", "为什么{t}会报错？", "试着一步步{t}", "{t}的时候要注意边界", "谢谢，{t}可以了"]
_TOPICS_EN = ["read a csv file", "sort a dict by value", "write a decorator", "use asyncio tasks",
              "set up a virtual environment", "parse json", "write unit tests with pytest", "handle exceptions"]
_TOPICS_ZH = ["读取文件", "给字典排序", "写装饰器", "创建虚拟环境", "解析 JSON", "写单元测试", "处理异常"]


CPU: dict[str, float] = {}  # process CPU seconds per step (fairer than wall time on a shared machine)


def timed(label: str, fn: Callable[[], T], times: dict[str, float]) -> T:
    start, cpu = time.perf_counter(), time.process_time()
    result = fn()
    times[label] = time.perf_counter() - start
    CPU[label] = time.process_time() - cpu
    print(f"  {label:<28} {times[label]:7.2f} s wall {CPU[label]:7.2f} s CPU", flush=True)
    return result


def synthetic_log(members: int, interactions: int, posts: int, seed: int = 0) -> Any:
    from engine.social.log import ActivityLog, MemberInfo, Post

    rng = np.random.default_rng(seed)
    end = datetime(2026, 3, 2, tzinfo=UTC)
    start = end - timedelta(days=7)
    log = ActivityLog(1, "console", "bench", start, end)
    joined = rng.uniform(0, 120, members)
    for m in range(1, members + 1):
        log.members[m] = MemberInfo(m, f"member {m}", end - timedelta(days=float(joined[m - 1])))
    activity = rng.lognormal(0, 1.3, members)
    activity /= activity.sum()
    groups = rng.integers(0, 200, members)
    by_group = [np.flatnonzero(groups == g) for g in range(200)]
    src = rng.choice(members, interactions, p=activity)
    inside = rng.random(interactions) < 0.8
    dst = rng.choice(members, interactions, p=activity)
    for i in np.flatnonzero(inside):
        pool = by_group[groups[src[i]]]
        dst[i] = pool[rng.integers(0, len(pool))]
    kinds = rng.choice(3, interactions, p=[0.4, 0.1, 0.5])
    t0 = int((end - timedelta(days=37)).timestamp())
    # four fifths in the digest's week, the rest over the month before (previous period, MAU)
    in_week = rng.random(interactions) < 0.8
    at = np.where(in_week, rng.integers(int(start.timestamp()), int(end.timestamp()), interactions),
                  rng.integers(t0, int(start.timestamp()), interactions))
    keep = src != dst
    log.edges = np.column_stack([src[keep] + 1, dst[keep] + 1, kinds[keep], at[keep]]).astype(np.int64)
    log.active = log.edges[:, [0, 3]].copy()
    authors = rng.choice(members, posts, p=activity) + 1
    post_at = np.sort(np.where(rng.random(posts) < 0.8,
                               rng.integers(int(start.timestamp()), int(end.timestamp()), posts),
                               rng.integers(t0, int(start.timestamp()), posts)))
    for i in range(posts):
        zh = rng.random() < 0.4
        template = _ZH[rng.integers(0, len(_ZH))] if zh else _EN[rng.integers(0, len(_EN))]
        topic = _TOPICS_ZH[rng.integers(0, len(_TOPICS_ZH))] if zh else _TOPICS_EN[rng.integers(0, len(_TOPICS_EN))]
        log.posts.append(Post(i + 1, int(authors[i]), datetime.fromtimestamp(int(post_at[i]), UTC),
                              template.format(t=topic), str(i + 1), "c1"))
    # every third post replies to a random earlier one
    for i in range(3, posts, 3):
        j = int(rng.integers(0, i))
        p = log.posts[i]
        log.posts[i] = Post(p.id, p.author_id, p.at, p.text, p.external_id, "c1",
                            reply_to_external_id=log.posts[j].external_id, reply_to_author_id=log.posts[j].author_id)
    return log


def digest_parts(log: Any, start: datetime, end: datetime, times: dict[str, float], *, fast: bool = True) -> Any:
    from engine.digest.build import Digest, Period
    from engine.digest.kpis import compute_kpis, daily
    from engine.social.graph import analyse, build_graph
    from engine.social.questions import find_questions, unanswered
    from engine.social.segments import segment_members
    from engine.social.topics import topics_of

    graph = timed("graph: build", lambda: build_graph(log, start, end), times)
    social = timed("graph: metrics", lambda: analyse(log, start, end, graph=graph, fast=fast), times)
    print(f"    {graph.size:,} members, {graph.edge_count:,} weighted ties; Louvain by {social.community_backend}, "
          f"{social.community_count} groups, modularity {social.modularity:.2f}; betweenness "
          f"{'sampled' if social.betweenness_sampled else 'exact'}")
    segments = timed("segments (K-means)", lambda: segment_members(log, end), times)
    print("    " + ", ".join(f"{s.name} {s.size:,}" for s in segments.segments))
    topics = timed("topics (TF-IDF + NMF)", lambda: topics_of(log, start, end), times)
    for t in topics.topics[:3]:
        print("    " + " · ".join(t.keywords))

    def kpis() -> tuple[Any, Any, Any, Any]:
        prev = Period("week", start - (end - start), start)
        qs = find_questions(log, start=start, end=end)
        pq = find_questions(log, start=prev.start, end=prev.end)
        return compute_kpis(log, start, end, UTC, qs), compute_kpis(log, prev.start, prev.end, UTC, pq), qs, \
            daily(log, start, end, UTC)

    now_k, prev_k, qs, days = timed("questions + KPIs", kpis, times)
    digest = Digest(1, "Benchmark community", "console", "en", "UTC", Period("week", start, end), now_k, prev_k,
                    days, social, segments=segments, topics=topics, unanswered=unanswered(qs, now=end))
    digest._names = {m: log.name(m) for m in list(log.members)[:0]}
    return digest


def render_all(digest: Any, times: dict[str, float]) -> None:
    from engine.digest.chart import render_chart
    from engine.digest.render import render_html, render_json, render_markdown, render_markup

    def render() -> int:
        return len(render_markdown(digest)) + len(render_html(digest)) + len(render_json(digest)) \
            + len(render_markup(digest)) + len(render_chart(digest))

    timed("render md+html+json+png", render, times)


def run_synthetic(args: argparse.Namespace) -> None:
    print(f"synthetic: {args.members:,} members, {args.interactions:,} interactions, {args.posts:,} posts")
    times: dict[str, float] = {}
    log = timed("generate (not counted)", lambda: synthetic_log(args.members, args.interactions, args.posts), {})
    digest = digest_parts(log, log.start, log.end, times)
    render_all(digest, times)
    total = sum(times.values())
    cpu = sum(CPU[k] for k in times)
    print(f"  {'TOTAL (target ≤ 30 s)':<28} {total:7.2f} s wall {cpu:7.2f} s CPU  "
          f"{'met' if total <= 30 else 'not met in wall time'}{'' if total <= 30 else (', met in CPU time' if cpu <= 30 else '')}")
    if args.networkx:
        from engine.social.graph import build_graph, communities

        graph = build_graph(log, log.start, log.end)
        t: dict[str, float] = {}
        groups, q, backend = timed("peer: networkx Louvain", lambda: communities(
            graph.nodes, graph.undirected(), fast=None), t)
        print(f"    {backend}: {len(groups)} groups, modularity {q:.2f}")


def run_se(args: argparse.Namespace) -> None:
    from sqlalchemy import func, select

    from bot.bootstrap import build_app
    from bot.history_import import import_events
    from bot.settings import load_settings
    from engine.digest.build import build_digest, period_ending
    from engine.events import Platform
    from engine.history import read_stackexchange_dump
    from engine.store.models import Community, Message

    se = Path(args.se_dir)
    if not (se / "Posts.xml").exists():
        print(f"bicycles-meta: {se} not found, skipped")
        return
    print(f"bicycles-meta: {se}")
    with tempfile.TemporaryDirectory(prefix="cohort-social-bench-") as tmp:
        app = build_app(load_settings(storage={"url": f"sqlite:///{tmp}/se.db"}, log_level="WARNING"))
        app.store.create_schema()
        app.start()
        try:
            started = time.perf_counter()
            asyncio.run(import_events(app, read_stackexchange_dump(se), platform=Platform.STACKEXCHANGE))
            print(f"  {'import (not counted)':<28} {time.perf_counter() - started:7.2f} s")

            def busiest(session: Any) -> tuple[int, datetime]:
                cid = int(session.scalar(select(Community.id).limit(1)))
                month = func.strftime("%Y-%m", Message.posted_at)
                top = session.execute(select(month, func.count()).where(Message.community_id == cid)
                                      .group_by(month).order_by(func.count().desc()).limit(1)).one()[0]
                y, m = (int(x) for x in top.split("-"))
                return cid, datetime(y + (m == 12), m % 12 + 1, 1, tzinfo=UTC)

            cid, end = app.store.read_sync(busiest)
            times: dict[str, float] = {}
            digest = timed("load + whole digest", lambda: app.store.read_sync(
                lambda s: build_digest(s, cid, period_ending("month", end, UTC))), times)
            render_all(digest, times)
            k = digest.kpis
            print(f"    month to {end:%Y-%m-%d}: {k.messages} posts, {k.questions} questions, "
                  f"{len(digest.unanswered)} unanswered, {digest.social.members} members in the graph; "
                  f"top influencer {digest.social.influencers[0].name if digest.social.influencers else '-'}")
            print(f"  {'TOTAL':<28} {sum(times.values()):7.2f} s wall {sum(CPU[k] for k in times):7.2f} s CPU")
        finally:
            app.stop()


def compare_zh(args: argparse.Namespace) -> None:
    from engine.events import MessagePosted
    from engine.sim import simulate_community
    from engine.social.log import Post
    from engine.social.topics import trending_topics

    sim = simulate_community(7, members=200, days=30, language="zh", community_id="zh")
    posts = [Post(i, 1, ev.at, ev.text) for i, ev in enumerate(sim.events)
             if isinstance(ev, MessagePosted) and ev.text]
    print(f"Chinese topics on the simulator's text ({len(posts):,} posts):")
    for kind in ("chars", "jieba"):
        started = time.perf_counter()
        report = trending_topics(posts, kind=kind, keywords=6)
        print(f"  {kind} ({time.perf_counter() - started:.2f} s)")
        for t in report.topics:
            print("    " + " · ".join(t.keywords))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--members", type=int, default=50_000)
    p.add_argument("--interactions", type=int, default=500_000)
    p.add_argument("--posts", type=int, default=100_000)
    p.add_argument("--se-dir", default=str(DEFAULT_SE))
    p.add_argument("--networkx", action="store_true", help="also time networkx's Louvain (the peer)")
    p.add_argument("--compare-zh", action="store_true")
    p.add_argument("--skip-synthetic", action="store_true")
    p.add_argument("--skip-se", action="store_true")
    args = p.parse_args()
    if not args.skip_synthetic:
        run_synthetic(args)
    if not args.skip_se:
        run_se(args)
    if args.compare_zh:
        compare_zh(args)


if __name__ == "__main__":
    main()
