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


def install() -> None:
    """Use this order in mbi's junction trees (same output, so same models and same sizes)."""
    global _original
    from mbi import junction_tree

    with _lock:
        if _original is None:
            _original = junction_tree.greedy_order
            junction_tree.greedy_order = greedy_order
