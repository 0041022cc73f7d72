"""Who holds the community together: the reply / mention / reaction graph and its metrics.

An edge ``a → b`` means *a* replied to, mentioned or reacted to *b*; its weight adds a
reply as 3, a mention as 2 and a reaction as 1 (answering someone says more than a 👍).

* **Influencers** (意见领袖): PageRank on that graph — attention flowing in from members
  who themselves get attention. Computed by power iteration on a SciPy sparse matrix
  (same definition as ``networkx.pagerank``, which a test checks; 50× faster at 500k edges).
* **Sub-communities**: Louvain on the undirected graph (weights of a→b and b→a summed),
  ``networkx.community.louvain_communities``; on large graphs NetworKit's PLM (the same
  Louvain method in C++) when it is installed — at 50,000 members × 500,000 edges
  networkx takes over a minute, PLM a few seconds (``benchmarks/social.py``).
* **Bridges**: betweenness centrality (shortest paths with distance 1/weight), exact on
  small graphs, estimated from ``k`` sampled sources on large ones and then only over
  the strongest members' backbone (bridges between groups are among the active members;
  the long tail of one-edge members only adds cost).
* **Isolated newcomers**: joined in the last 14 days, still here, no reply received.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import ModuleType

import networkx as nx
import numpy as np
import scipy.sparse as sp

from engine.social.log import ActivityLog, ts

KIND_WEIGHTS = np.array([3.0, 2.0, 1.0])  # reply, mention, reaction (EDGE_KINDS order)
EXACT_BETWEENNESS_NODES = 1000  # above this, betweenness is estimated from k sources
BETWEENNESS_SAMPLES = 32
BACKBONE_NODES = 3000  # betweenness on large graphs runs over this many strongest members
FAST_COMMUNITY_NODES = 5000  # above this, Louvain runs in NetworKit when it is installed


@dataclass(frozen=True, slots=True)
class Ranked:
    member_id: int
    name: str
    score: float


@dataclass(frozen=True, slots=True)
class SubCommunity:
    size: int
    core: tuple[Ranked, ...]  # its most central members (PageRank)
    internal_share: float  # share of its members' tie weight that stays inside


@dataclass
class SocialReport:
    members: int  # nodes: members with at least one tie in the window
    edges: int
    influencers: list[Ranked] = field(default_factory=list)
    bridges: list[Ranked] = field(default_factory=list)
    communities: list[SubCommunity] = field(default_factory=list)
    modularity: float = 0.0
    isolated_newcomers: list[Ranked] = field(default_factory=list)
    betweenness_sampled: bool = False
    community_backend: str = "networkx"
    community_count: int = 0  # groups of 3 or more (``communities`` holds the largest)


@dataclass(frozen=True, slots=True)
class SocialGraph:
    """Directed weighted adjacency over ``nodes`` (member ids; row/column = index)."""

    nodes: np.ndarray
    adjacency: sp.csr_matrix

    @property
    def size(self) -> int:
        return len(self.nodes)

    @property
    def edge_count(self) -> int:
        return int(self.adjacency.nnz)

    def undirected(self) -> sp.csr_matrix:
        return (self.adjacency + self.adjacency.T).tocsr()

    def to_networkx(self) -> nx.DiGraph:
        g = nx.DiGraph()
        coo = self.adjacency.tocoo()
        ids = self.nodes
        g.add_weighted_edges_from(zip(ids[coo.row].tolist(), ids[coo.col].tolist(), coo.data.tolist(), strict=True))
        return g


def build_graph(log: ActivityLog, start: datetime, end: datetime) -> SocialGraph:
    """The weighted directed graph of ties in ``[start, end)`` (no self-loops)."""
    e = log.edges
    if len(e):
        e = e[(e[:, 3] >= ts(start)) & (e[:, 3] < ts(end)) & (e[:, 0] != e[:, 1])]
    if not len(e):
        return SocialGraph(np.zeros(0, dtype=np.int64), sp.csr_matrix((0, 0)))
    nodes, index = np.unique(e[:, :2], return_inverse=True)
    index = index.reshape(-1, 2)
    n = len(nodes)
    adjacency = sp.csr_matrix((KIND_WEIGHTS[e[:, 2]], (index[:, 0], index[:, 1])), shape=(n, n))
    adjacency.sum_duplicates()
    return SocialGraph(nodes, adjacency)


def pagerank(adjacency: sp.csr_matrix, *, alpha: float = 0.85, tol: float = 1e-10,
             max_iter: int = 200) -> np.ndarray:
    """PageRank by power iteration, as ``networkx.pagerank`` defines it (weighted, dangling
    nodes spread uniformly, stop when the L1 change is below ``n * tol``)."""
    n = adjacency.shape[0]
    if n == 0:
        return np.zeros(0)
    out = np.asarray(adjacency.sum(axis=1)).ravel()
    dangling = out == 0
    inv = np.divide(1.0, out, out=np.zeros(n), where=~dangling)
    transition = (sp.diags(inv) @ adjacency).T.tocsr()
    rank = np.full(n, 1.0 / n)
    for _ in range(max_iter):
        new = alpha * (transition @ rank) + (alpha * rank[dangling].sum() + 1.0 - alpha) / n
        done = np.abs(new - rank).sum() < n * tol
        rank = new
        if done:
            break
    return rank


def _networkit() -> ModuleType | None:
    """NetworKit when installed (an optional speed-up), else None."""
    if importlib.util.find_spec("networkit") is None:
        return None
    return importlib.import_module("networkit")


def _undirected_nx(nodes: np.ndarray, undirected: sp.csr_matrix) -> nx.Graph:
    upper = sp.triu(undirected, k=1).tocoo()
    g = nx.Graph()
    g.add_nodes_from(nodes.tolist())
    g.add_edges_from(
        (int(nodes[a]), int(nodes[b]), {"weight": float(w), "distance": 1.0 / float(w)})
        for a, b, w in zip(upper.row, upper.col, upper.data, strict=True)
    )
    return g


def communities(nodes: np.ndarray, undirected: sp.csr_matrix, *, seed: int = 0,
                fast: ModuleType | None = None) -> tuple[list[set[int]], float, str]:
    """(groups of member ids, modularity, backend name) by Louvain."""
    if fast is not None and len(nodes) > FAST_COMMUNITY_NODES:
        fast.setSeed(seed, False)
        upper = sp.triu(undirected, k=1).tocoo()
        g = fast.Graph(len(nodes), weighted=True, directed=False)
        g.addEdges((upper.data, (upper.row, upper.col)))
        plm = fast.community.PLM(g, refine=False, par="none")
        plm.run()
        partition = plm.getPartition()
        quality = float(fast.community.Modularity().getQuality(partition, g))
        labels = np.asarray(partition.getVector())
        groups = [set(nodes[labels == label].tolist()) for label in np.unique(labels)]
        return groups, quality, "networkit PLM"
    g = _undirected_nx(nodes, undirected)
    found = nx.community.louvain_communities(g, weight="weight", seed=seed)
    return [set(c) for c in found], float(nx.community.modularity(g, found, weight="weight")), "networkx"


def bridges(nodes: np.ndarray, undirected: sp.csr_matrix, *, seed: int = 0) -> tuple[dict[int, float], bool]:
    """Betweenness centrality per member; ``True`` when it was estimated (sampled)."""
    strength = np.asarray(undirected.sum(axis=1)).ravel()
    keep = np.arange(len(nodes))
    if len(nodes) > BACKBONE_NODES:
        keep = np.sort(np.argsort(-strength, kind="stable")[:BACKBONE_NODES])
    sub = undirected[keep][:, keep]
    g = _undirected_nx(nodes[keep], sub)
    sampled = len(nodes) > EXACT_BETWEENNESS_NODES
    k = min(BETWEENNESS_SAMPLES, g.number_of_nodes()) if sampled else None
    scores: dict[int, float] = nx.betweenness_centrality(g, k=k, weight="distance", seed=seed)
    return scores, sampled


def _ranked(log: ActivityLog, scores: dict[int, float], limit: int) -> list[Ranked]:
    best = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return [Ranked(m, log.name(m), float(s)) for m, s in best if s > 0]


def isolated_newcomers(log: ActivityLog, end: datetime, *, days: int = 14, limit: int = 10) -> list[Ranked]:
    """Members who joined in the ``days`` before ``end``, are still here, and have not
    received a single reply (score: days since they joined), longest-waiting first."""
    since = end - timedelta(days=days)
    e = log.edges
    replied_to = set(e[(e[:, 2] == 0) & (e[:, 3] < ts(end)), 1].tolist()) if len(e) else set()
    out = [
        Ranked(m.member_id, log.name(m.member_id), round((end - m.joined_at).total_seconds() / 86400, 1))
        for m in log.members.values()
        if since <= m.joined_at < end and (m.left_at is None or m.left_at >= end)
        and m.member_id not in replied_to
    ]
    return sorted(out, key=lambda r: (-r.score, r.member_id))[:limit]


def analyse(log: ActivityLog, start: datetime, end: datetime, *, top: int = 5, seed: int = 0,
            graph: SocialGraph | None = None, fast: bool = True, top_groups: int = 6) -> SocialReport:
    """Influencers, bridges, sub-communities and isolated newcomers of ``[start, end)``.

    ``fast=False`` forces networkx's Louvain even when NetworKit is installed."""
    g = graph if graph is not None else build_graph(log, start, end)
    report = SocialReport(g.size, g.edge_count, isolated_newcomers=isolated_newcomers(log, end))
    if g.edge_count == 0:
        return report
    ranks = pagerank(g.adjacency)
    by_member = dict(zip(g.nodes.tolist(), ranks.tolist(), strict=True))
    report.influencers = _ranked(log, by_member, top)
    undirected = g.undirected()
    between, report.betweenness_sampled = bridges(g.nodes, undirected, seed=seed)
    report.bridges = _ranked(log, between, top)
    groups, report.modularity, report.community_backend = communities(
        g.nodes, undirected, seed=seed, fast=_networkit() if fast else None)
    index = {int(m): i for i, m in enumerate(g.nodes.tolist())}
    strength = np.asarray(undirected.sum(axis=1)).ravel()
    report.community_count = sum(1 for c in groups if len(c) >= 3)
    for group in sorted(groups, key=lambda c: (-len(c), min(c)))[:top_groups]:
        if len(group) < 3:
            break
        rows = np.fromiter((index[m] for m in group), dtype=np.int64)
        inside = float(undirected[rows][:, rows].sum())
        total = float(strength[rows].sum()) or 1.0
        core = _ranked(log, {m: by_member[m] for m in group}, 3)
        report.communities.append(SubCommunity(len(group), tuple(core), inside / total))
    return report
