"""Mirror descent over a junction tree in NumPy: mbi's estimator without JAX compilation.

mbi 1.1's ``mirror_descent`` jit-compiles a fresh update function on every call, and AIM calls
it once per round with a new set of cliques: on Adult that compilation, not the arithmetic, was
most of AIM's time (and most of its memory). This is the same algorithm (Algorithm 1 of McKenna,
Sheldon, Miklau 2019, with mbi's Armijo line search and initial step 2 / (L · total)) on the same
junction tree, in NumPy: nothing to compile, so its cost is the arithmetic on the small clique
tables. Pure post-processing of OpenDP's noisy measurements: it reads only
``LinearMeasurement``s (noisy marginals and their standard deviations), never the data.

Differences from mbi that change no result beyond float rounding: the accepted point's
marginals are reused for the next iteration (mbi recomputes them), and the Lipschitz constant of
the squared loss is computed in closed form (mbi's power iteration starts from the top
eigenvector, the constant vector, and so returns the same value).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

Clique = tuple[str, ...]


def _is_identity(query: Any) -> bool:
    from mbi import Factor

    return query is Factor.datavector or getattr(query, "__func__", None) is Factor.datavector


def supported(measurements: list[Any]) -> bool:
    """True when every measurement is a plain noisy marginal (what OpenDP's MST and AIM make)."""
    return all(_is_identity(m.query) for m in measurements)


def _logsumexp(values: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    if not axes:
        return values
    top = values.max(axis=axes, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    out = np.log(np.exp(values - top).sum(axis=axes, keepdims=True)) + top
    return out.squeeze(axis=axes)


def _aligner(source: Clique, target: Clique):
    """A function that lays an array over ``source`` (axes in that order) out to broadcast over
    ``target`` (which contains every attribute of ``source``)."""
    kept = [a for a in target if a in source]
    perm = [source.index(a) for a in kept]
    shape_index = [target.index(a) for a in kept]

    def align(values: np.ndarray) -> np.ndarray:
        moved = values.transpose(perm) if perm != list(range(len(perm))) else values
        shape = [1] * len(target)
        for axis, size in zip(shape_index, moved.shape):
            shape[axis] = size
        return moved.reshape(shape)

    return align


def _projector(source: Clique, target: Clique):
    """Sum an array over ``source`` down to ``target`` (a subset), axes in ``target``'s order."""
    drop = tuple(i for i, a in enumerate(source) if a not in target)
    kept = [a for a in source if a in target]
    perm = [kept.index(a) for a in target]

    def project(values: np.ndarray) -> np.ndarray:
        out = values.sum(axis=drop) if drop else values
        return out.transpose(perm) if perm != list(range(len(perm))) else out

    return project


@dataclass
class _Plan:
    """Everything about one clique structure that does not depend on the numbers."""

    cliques: list[Clique]  # the potentials' cliques (maximal measured cliques)
    nodes: list[Clique]  # junction-tree nodes
    host: dict[Clique, Clique]  # potential clique -> junction-tree node containing it
    order: list[tuple[Clique, Clique]]  # message passing order
    incoming: dict[tuple[Clique, Clique], list[tuple[Clique, Clique]]]
    tree: Any = None  # the junction tree (networkx graph over ``nodes``)


def _plan(domain, cliques: list[Clique]) -> _Plan:
    from mbi import junction_tree
    from mbi.clique_utils import clique_mapping

    jtree = junction_tree.make_junction_tree(domain, cliques)[0]
    order = [tuple(m) for m in junction_tree.message_passing_order(jtree)]
    nodes = [tuple(n) for n in junction_tree.maximal_cliques(jtree)]
    host = clique_mapping(nodes, cliques, domain=domain)
    incoming = {msg: [m2 for m2 in order[:i] if m2[1] == msg[0] and m2[0] != msg[1]] for i, msg in enumerate(order)}
    return _Plan(cliques, nodes, host, order, incoming, jtree)


class _Oracle:
    """Marginals of the potential cliques (and junction-tree nodes) from log-potentials."""

    def __init__(self, domain, plan: _Plan):
        self.plan = plan
        self.shape = {n: tuple(domain.size(a) for a in n) for n in plan.nodes}
        self.into_node = {c: _aligner(c, plan.host[c]) for c in plan.cliques}
        self.members = {n: [c for c in plan.cliques if plan.host[c] == n] for n in plan.nodes}
        self.sep = {(i, j): tuple(a for a in i if a in j) for i, j in plan.order}
        self.sep_axes = {(i, j): tuple(k for k, a in enumerate(i) if a not in j) for i, j in plan.order}
        self.msg_into = {(i, j): _aligner(self.sep[(i, j)], j) for i, j in plan.order}
        self.node_to_clique = {c: _projector(plan.host[c], c) for c in plan.cliques}
        self.into = {n: [msg for msg in plan.order if msg[1] == n] for n in plan.nodes}

    def __call__(self, theta: dict[Clique, np.ndarray], total: float):
        plan = self.plan
        psi = {}
        for node in plan.nodes:
            acc = np.zeros(self.shape[node])
            for c in self.members[node]:
                acc = acc + self.into_node[c](theta[c])
            psi[node] = acc
        messages: dict[tuple[Clique, Clique], np.ndarray] = {}
        for msg in plan.order:
            i, j = msg
            acc = psi[i]
            for k in plan.incoming[msg]:
                acc = acc + self.msg_into[k](messages[k])
            messages[msg] = _logsumexp(acc, self.sep_axes[msg])
        beliefs = {}
        for node in plan.nodes:
            acc = psi[node]
            for msg in self.into[node]:
                acc = acc + self.msg_into[msg](messages[msg])
            log_z = _logsumexp(acc, tuple(range(acc.ndim)))
            beliefs[node] = np.exp(acc - log_z) * total
        mu = {c: self.node_to_clique[c](beliefs[plan.host[c]]) for c in plan.cliques}
        return mu, beliefs


def _loss_terms(measurements, cliques: list[Clique]):
    """(clique of the potentials it is read from, projector, y, 1/σ²) per measurement; mbi reads
    each measurement from the first potential clique that contains it."""
    terms = []
    for m in measurements:
        clique = tuple(m.clique)
        parent = next(c for c in cliques if set(clique) <= set(c))
        y = np.asarray(m.noisy_measurement, dtype=np.float64)
        weight = 1.0 / max(float(m.stddev), 1e-12) ** 2
        terms.append((parent, clique, _projector(parent, clique), _aligner(clique, parent), y, weight))
    return terms


def _loss_and_grad(mu, terms, with_grad: bool = True):
    loss = 0.0
    grad = {c: np.zeros_like(v) for c, v in mu.items()} if with_grad else None
    for parent, clique, project, align, y, weight in terms:
        proj = project(mu[parent])
        diff = proj.reshape(-1) - y
        loss += 0.5 * weight * float(diff @ diff)
        if with_grad:
            grad[parent] = grad[parent] + align((weight * diff).reshape(proj.shape))
    return loss, grad


def _lipschitz(domain, terms, cliques: list[Clique]) -> float:
    """Largest eigenvalue of the loss's Hessian Σ Qᵀ Q / σ², block-diagonal by potential clique.
    Each marginalisation Q from clique c onto m has top eigenvalue |c| / |m| on the constant
    vector, which all terms of a block share, so the block's top eigenvalue is their sum."""
    blocks: dict[Clique, float] = {c: 0.0 for c in cliques}
    for parent, clique, _, _, _, weight in terms:
        blocks[parent] += weight * domain.size(parent) / max(domain.size(clique), 1)
    return max(blocks.values()) if blocks else 1.0


def mirror_descent(domain, measurements, *, potentials=None, iters: int = 1000, known_total: float | None = None):
    """Fit a graphical model to noisy marginals; returns (potentials, marginals, node beliefs,
    total) as NumPy dicts. ``potentials`` (an mbi CliqueVector) warm-starts the fit."""
    from mbi.clique_utils import maximal_subset, reverse_clique_mapping
    from mbi.estimation import minimum_variance_unbiased_total

    total = float(known_total if known_total is not None else minimum_variance_unbiased_total(measurements))
    cliques = [tuple(c) for c in maximal_subset([tuple(m.clique) for m in measurements])]
    theta = {c: np.zeros(tuple(domain.size(a) for a in c)) for c in cliques}
    if potentials is not None:
        # Lay the previous potentials onto the new cliques (mbi's CliqueVector.expand): the
        # distribution they represent is unchanged, so the fit starts where the last one ended.
        old = [tuple(c) for c in potentials.cliques]
        mapping = reverse_clique_mapping(cliques, old, domain=domain)
        for c, sources in mapping.items():
            for s in sources:
                theta[c] = theta[c] + _aligner(s, c)(np.asarray(potentials[s].values, dtype=np.float64))
    plan = _plan(domain, cliques)
    oracle = _Oracle(domain, plan)
    terms = _loss_terms(measurements, cliques)
    alpha = 2.0 / (_lipschitz(domain, terms, cliques) * total)
    mu, beliefs = oracle(theta, total)
    loss, grad = _loss_and_grad(mu, terms)
    for _ in range(iters):
        theta2 = {c: theta[c] - alpha * grad[c] for c in cliques}
        mu2, beliefs2 = oracle(theta2, total)
        loss2, grad2 = _loss_and_grad(mu2, terms)
        decrease = sum(float(np.vdot(grad[c], mu[c] - mu2[c])) for c in cliques)
        if loss - loss2 >= 0.5 * alpha * decrease:
            alpha *= 1.01
            theta, mu, beliefs, loss, grad = theta2, mu2, beliefs2, loss2, grad2
        else:
            alpha *= 0.5
    return theta, mu, beliefs, total, plan.tree


class TreeMarginals:
    """Any marginal of a fitted model, from its junction-tree node marginals.

    A marginal over columns that no node holds is carried along the tree path between nodes
    that hold them: at each step the carried table over (columns found so far ∪ separator) is
    multiplied by the next node's conditional table given the separator, which is exact because
    a junction tree's separator makes the two sides independent. Each step is a small product,
    where one ``einsum`` over the whole model (what the projection did before) spent tens of
    milliseconds per call only choosing its contraction order on a 50-column table.
    """

    def __init__(self, tree, beliefs: dict[Clique, np.ndarray], total: float):
        import networkx as nx

        self.tree = tree
        self.total = float(total)
        self.prob = {n: b / self.total for n, b in beliefs.items()}
        self.component = {}
        for k, comp in enumerate(nx.connected_components(tree)):
            for n in comp:
                self.component[n] = k
        self._sep: dict[tuple[Clique, Clique], tuple[Clique, np.ndarray]] = {}

    def _holder(self, attr: str, near: Clique | None) -> Clique:
        import networkx as nx

        holders = [n for n in self.prob if attr in n]
        if near is None:
            return holders[0]
        same = [n for n in holders if self.component[n] == self.component[near]]
        if not same:
            return holders[0]
        lengths = nx.single_source_shortest_path_length(self.tree, near)
        return min(same, key=lambda n: lengths[n])

    def _separator(self, x: Clique, y: Clique) -> tuple[Clique, np.ndarray]:
        if (x, y) not in self._sep:
            sep = tuple(a for a in y if a in x)
            self._sep[(x, y)] = (sep, _projector(y, sep)(self.prob[y]))
        return self._sep[(x, y)]

    def _walk(self, start: Clique, attrs: Clique) -> tuple[Clique, np.ndarray]:
        import networkx as nx

        carried, table = start, self.prob[start]
        node = start
        for attr in attrs:
            if attr in carried:
                continue
            target = self._holder(attr, node)
            if self.component[target] != self.component[node]:
                # another component of the junction forest: independent of what is carried
                keep = tuple(a for a in carried if a in attrs)
                table = np.multiply.outer(_projector(carried, keep)(table), self.prob[target])
                carried, node = keep + target, target
                continue
            for nxt in nx.shortest_path(self.tree, node, target)[1:]:
                sep, p_sep = self._separator(node, nxt)
                keep = tuple(a for a in carried if a in attrs or a in sep)
                table = _projector(carried, keep)(table)
                cond = self.prob[nxt] / np.maximum(_aligner(sep, nxt)(p_sep), 1e-300)
                out = keep + tuple(a for a in nxt if a not in keep)
                labels = {a: i for i, a in enumerate(out)}
                table = np.einsum(table, [labels[a] for a in keep], cond, [labels[a] for a in nxt],
                                  [labels[a] for a in out])
                carried, node = out, nxt
        return carried, table

    def project(self, attrs: Clique) -> np.ndarray:
        """Counts (scaled to the model's total) over ``attrs``, axes in that order."""
        attrs = tuple(attrs)
        for n, p in self.prob.items():
            if set(attrs) <= set(n):
                return _projector(n, attrs)(p) * self.total
        carried, table = self._walk(self._holder(attrs[0], None), attrs)
        return _projector(carried, attrs)(table) * self.total
