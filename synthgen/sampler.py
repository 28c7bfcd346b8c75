"""Sampling rows from a fitted marginal model, with an explicit random generator.

We do not use mbi 1.1's ``synthetic_data``: its default ``"round"`` method makes sibling
columns artificially comonotone (KNOWN-PITFALLS #1), its ``"sample"`` method draws from the
global NumPy generator, and it conditions each column on the *model's* cliques, which is wrong
for non-tree models such as AIM's (fixed upstream in mbi 2.0).

Instead the fitted model is compiled once into conditional probability tables along the junction
tree: columns are visited in reverse elimination order, and each column is conditioned on the
already-sampled columns it shares a junction-tree clique with. In a triangulated graph those
parents plus the column always lie inside one junction-tree clique, so their joint marginal is
exact, and ancestral sampling reproduces the model's distribution. The compiled tables are plain
arrays, which is also what a saved model stores: sampling never needs the private data again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthgen.errors import InternalError

#: Rows sampled per chunk; bounds memory to a few arrays of this length.
CHUNK_ROWS = 250_000


@dataclass(frozen=True)
class CompiledSampler:
    """Ancestral sampler: ``order`` of columns, each with ``parents`` and a conditional table
    ``cpts[col]`` of shape ``(*parent_cardinalities, cardinality)`` whose last axis sums to 1."""

    order: tuple[str, ...]
    parents: dict[str, tuple[str, ...]]
    cpts: dict[str, np.ndarray]

    def cardinality(self, column: str) -> int:
        return int(self.cpts[column].shape[-1])

    def sample_codes(self, rows: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """``rows`` rows of integer codes, one array per column."""
        if rows < 0:
            raise InternalError(f"rows ({rows}) must be non-negative")
        chunks: list[dict[str, np.ndarray]] = []
        remaining = rows
        while remaining > 0 or not chunks:
            n = min(remaining, CHUNK_ROWS)
            chunks.append(self._sample_chunk(n, rng))
            remaining -= n
        return {c: np.concatenate([ch[c] for ch in chunks]) for c in self.order}

    def _sample_chunk(self, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for col in self.order:
            cpt = self.cpts[col]
            k = cpt.shape[-1]
            parents = self.parents[col]
            if parents:
                flat_parent = np.ravel_multi_index(tuple(out[p] for p in parents), cpt.shape[:-1])
                table = cpt.reshape(-1, k)
            else:
                flat_parent = np.zeros(n, dtype=np.int64)
                table = cpt.reshape(1, k)
            # Inverse-CDF sampling for every row at once: shift the CDF of parent configuration i
            # into [i, i+1] so that one searchsorted over the flattened CDFs serves all rows.
            cdf = np.cumsum(table, axis=1)
            cdf[:, -1] = 1.0
            shifted = (cdf + np.arange(table.shape[0])[:, None]).ravel()
            u = rng.random(n)
            idx = np.searchsorted(shifted, flat_parent + u, side="right") - flat_parent * k
            out[col] = np.clip(idx, 0, k - 1).astype(np.int64)
        return out

    # -- persistence (plain arrays, no pickle) ------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        return {f"cpt/{i}": self.cpts[c].astype(np.float64) for i, c in enumerate(self.order)}

    def layout(self) -> dict:
        return {"order": list(self.order), "parents": {c: list(p) for c, p in self.parents.items()}}

    @classmethod
    def from_parts(cls, layout: dict, arrays: dict[str, np.ndarray]) -> "CompiledSampler":
        order = tuple(layout["order"])
        parents = {c: tuple(layout["parents"][c]) for c in order}
        cpts = {c: np.asarray(arrays[f"cpt/{i}"], dtype=np.float64) for i, c in enumerate(order)}
        sampler = cls(order=order, parents=parents, cpts=cpts)
        sampler.validate()
        return sampler

    def validate(self) -> None:
        seen: set[str] = set()
        for col in self.order:
            cpt = self.cpts[col]
            if cpt.ndim != len(self.parents[col]) + 1:
                raise ValueError(f"table of {col!r} has {cpt.ndim} axes for {len(self.parents[col])} parents")
            for p, size in zip(self.parents[col], cpt.shape[:-1]):
                if p not in seen or size != self.cardinality(p):
                    raise ValueError(f"parent {p!r} of {col!r} is out of order or has the wrong size")
            if not np.all(np.isfinite(cpt)) or np.any(cpt < 0) or not np.allclose(cpt.sum(axis=-1), 1.0, atol=1e-6):
                raise ValueError(f"table of {col!r} is not a conditional distribution")
            seen.add(col)


def _normalise(joint: np.ndarray) -> np.ndarray:
    """Conditional distribution over the last axis; configurations without mass become uniform."""
    joint = np.clip(np.asarray(joint, dtype=np.float64), 0.0, None)
    mass = joint.sum(axis=-1, keepdims=True)
    k = joint.shape[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        cond = np.where(mass > 0, joint / np.where(mass > 0, mass, 1.0), 1.0 / k)
    return cond


def compile_mrf(model, cardinalities: dict[str, int], tables: dict | None = None) -> CompiledSampler:
    """Compile an mbi ``MarkovRandomField`` into a :class:`CompiledSampler`.

    ``cardinalities`` gives the number of *real* values of each column. OpenDP appends one extra
    "null" key to every keyed column; our encoding never produces it, so its (pure-noise) cell is
    cut off here, which is post-processing of the DP model.
    """
    from mbi import junction_tree, marginal_oracles

    domain = model.domain
    for col, card in cardinalities.items():
        if domain.size(col) not in (card, card + 1):
            raise InternalError(f"model column {col!r} has {domain.size(col)} cells for {card} values")
    cliques = [set(cl) for cl in model.cliques]
    jtree, elimination_order = junction_tree.make_junction_tree(domain, cliques)
    nodes = [tuple(n) for n in jtree.nodes]
    # The fitted model's clique marginals already cover every junction-tree node when the model
    # is a tree (MST); projecting them in NumPy avoids JAX compilations. Otherwise, run message
    # passing over the junction tree once.
    # ``tables`` (junction-tree node marginals, attrs -> (attrs, array)) may be passed by an
    # estimator that already computed them.
    tables = dict(tables or getattr(model, "node_tables", None) or {})
    tables.update({tuple(cl): (tuple(f.domain.attrs), np.asarray(f.values, dtype=np.float64))
                   for cl, f in model.marginals.arrays.items()})
    if not all(any(set(n) <= set(attrs) for attrs, _ in tables.values()) for n in nodes):
        expanded = marginal_oracles.message_passing_stable(model.potentials.expand(nodes))
        tables = {tuple(cl): (tuple(f.domain.attrs), np.asarray(f.values, dtype=np.float64)) for cl, f in expanded.arrays.items()}

    def project(attrs: tuple[str, ...]) -> np.ndarray:
        for source_attrs, values in tables.values():
            if set(attrs) <= set(source_attrs):
                drop = tuple(i for i, a in enumerate(source_attrs) if a not in attrs)
                summed = values.sum(axis=drop) if drop else values
                kept = [a for a in source_attrs if a in attrs]
                return np.transpose(summed, [kept.index(a) for a in attrs])
        raise InternalError(f"no clique of the fitted model covers {attrs}")

    order = [c for c in elimination_order[::-1] if c in cardinalities]
    parents: dict[str, tuple[str, ...]] = {}
    cpts: dict[str, np.ndarray] = {}
    used: list[str] = []
    for col in order:
        containing = [set(n) for n in nodes if col in n]
        neighbourhood = set().union(*containing) if containing else set()
        col_parents = tuple(p for p in used if p in neighbourhood)
        joint = project(col_parents + (col,))
        # cut the null cell of every axis: our codes never take it
        joint = joint[tuple(slice(0, cardinalities[a]) for a in (*col_parents, col))]
        parents[col] = col_parents
        cpts[col] = _normalise(joint)
        used.append(col)
    sampler = CompiledSampler(order=tuple(order), parents=parents, cpts=cpts)
    sampler.validate()
    return sampler
