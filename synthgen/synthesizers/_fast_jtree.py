"""mbi's greedy elimination order, computed on an adjacency graph instead of a list of cliques.

OpenDP's AIM asks mbi for the size of the model that each candidate marginal would make
(``hypothetical_model_size``), every round, for every candidate: on a 50-column table that is
1,275 junction trees per round, and mbi 1.1's ``greedy_order`` rebuilds a ``Domain`` for every
attribute at every step (about 25 s per round, measured). This returns the same order: the
cost of eliminating ``a`` is the size of ``a`` with its current neighbours (1 when no clique
holds ``a``), ties go to the first attribute in mbi's order, and eliminating ``a`` joins its
neighbours into a clique, as mbi's update of the clique list does. tests compare the two on
random clique sets. Only public structure (column names, cardinalities, cliques) is involved.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_original: Any = None


def greedy_order(domain, cliques, stochastic: bool = False, elim=None):
    if stochastic:  # mbi's randomised variant is not used by the fits; keep its own code
        return _original(domain, cliques, stochastic=stochastic, elim=elim)
    size = dict(zip(domain.attributes, domain.shape))
    neighbours: dict[str, set[str]] = {a: set() for a in domain.attributes}
    covered: set[str] = set()
    for clique in cliques:
        members = set(clique)
        covered |= members
        for a in members:
            neighbours.setdefault(a, set()).update(members - {a})
    unmarked = list(elim) if elim is not None else list(domain.attributes)
    order: list[str] = []
    total_cost = 0
    for _ in range(len(unmarked)):
        best, best_cost = None, None
        for a in unmarked:
            if a in covered:
                cost = size[a]
                for b in neighbours[a]:
                    cost *= size[b]
            else:
                cost = 1
            if best_cost is None or cost < best_cost:
                best, best_cost = a, cost
        order.append(best)
        unmarked.remove(best)
        joined = neighbours.pop(best)
        for b in joined:
            neighbours[b].discard(best)
            neighbours[b].update(joined - {b})
        covered.discard(best)
        total_cost += best_cost
    return order, total_cost


def hypothetical_model_size(domain, cliques) -> float:
    """mbi's ``hypothetical_model_size`` (MB of the junction tree's maximal cliques), without
    building networkx graphs. Same steps as mbi's ``make_junction_tree``: a graph that is a tree
    keeps its edges as cliques; otherwise the greedy order triangulates it, and the maximal
    cliques of the result are the maximal sets {v} ∪ (neighbours of v when v is eliminated)."""
    size = dict(zip(domain.attributes, domain.shape))
    adjacency: dict[str, set[str]] = {a: set() for a in domain.attributes}
    for clique in cliques:
        for a in clique:
            adjacency[a].update(b for b in clique if b != a)
    n_edges = sum(len(v) for v in adjacency.values()) // 2
    if n_edges and n_edges == len(adjacency) - 1 and _connected(adjacency):
        maximal = [{a, b} for a in adjacency for b in adjacency[a] if a < b]
    else:
        order, _ = greedy_order(domain, [tuple(c) for c in cliques])
        graph = {a: set(v) for a, v in adjacency.items()}
        elimination: list[set[str]] = []
        for v in order:
            neighbours = graph.pop(v)
            elimination.append({v} | neighbours)
            for b in neighbours:
                graph[b].discard(v)
                graph[b].update(neighbours - {b})
        maximal = [c for i, c in enumerate(elimination) if not any(c < d for d in elimination[:i])]
    cells = 0
    for clique in maximal:
        product = 1
        for a in clique:
            product *= size[a]
        cells += product
    return cells * 8 / 2**20


def _connected(adjacency: dict[str, set[str]]) -> bool:
    start = next(iter(adjacency))
    seen, stack = {start}, [start]
    while stack:
        for b in adjacency[stack.pop()]:
            if b not in seen:
                seen.add(b)
                stack.append(b)
    return len(seen) == len(adjacency)


_original_size: Any = None


def install() -> None:
    """Use these in mbi's junction trees (same output, so same models and same sizes)."""
    global _original, _original_size
    from mbi import junction_tree

    with _lock:
        if _original is None:
            _original = junction_tree.greedy_order
            junction_tree.greedy_order = greedy_order
        if _original_size is None:
            _original_size = junction_tree.hypothetical_model_size
            junction_tree.hypothetical_model_size = hypothetical_model_size
