"""Learning paths: prerequisites between catalog items form a DAG (networkx).

An edge ``a -> b`` means "do a before b". A path to a target is every prerequisite
ancestor not yet completed, in a topological order, ending with the target itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import networkx as nx

from engine.refusal import Refusal


class CatalogCycleError(Refusal, ValueError):
    """Prerequisites loop back on themselves; ``cycle`` lists the items in loop order."""

    def __init__(self, cycle: list[str]) -> None:
        self.cycle = cycle
        super().__init__("prerequisite cycle: " + " -> ".join([*cycle, cycle[0]]))


class UnknownTargetError(KeyError):
    """The requested item or tag is not in the catalog."""


def build_graph(prereqs: Mapping[str, Iterable[str]]) -> nx.DiGraph:
    """DiGraph with an edge ``prerequisite -> item`` for each ``item: [prerequisites]`` entry."""
    graph = nx.DiGraph()
    for item, requirements in prereqs.items():
        graph.add_node(item)
        for requirement in requirements:
            graph.add_edge(requirement, item)
    return graph


def validate_catalog(prereqs: Mapping[str, Iterable[str]]) -> nx.DiGraph:
    """Return the prerequisite DAG; raises :class:`CatalogCycleError` naming a cycle's items."""
    graph = build_graph(prereqs)
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return graph
    raise CatalogCycleError([edge[0] for edge in cycle])


def learning_path(
    target: str,
    prereqs: Mapping[str, Iterable[str]],
    completed: Iterable[str] = (),
    item_tags: Mapping[str, Iterable[str]] | None = None,
) -> list[str]:
    """Ordered steps still to do to reach ``target`` (an item id, or a tag via ``item_tags``).

    For a tag the path covers every item carrying it. Order is a deterministic topological
    order (ties broken by id) of the targets and their ancestors; completed items are
    skipped. Raises :class:`CatalogCycleError` on a cyclic catalog and
    :class:`UnknownTargetError` if ``target`` is neither an item nor a known tag.
    """
    graph = validate_catalog(prereqs)
    if item_tags:
        graph.add_nodes_from(item_tags)
    if target in graph:
        goals = {target}
    else:
        goals = {item for item, tags in (item_tags or {}).items() if target in set(tags)}
        if not goals:
            raise UnknownTargetError(target)
    needed = set(goals)
    for goal in goals:
        needed |= nx.ancestors(graph, goal)
    done = set(completed)
    order = nx.lexicographical_topological_sort(graph.subgraph(needed))
    return [item for item in order if item not in done]
