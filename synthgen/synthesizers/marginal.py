"""AIM and MST through OpenDP's ``dp.mbi`` (Context + ``contingency_table``).

Privacy reasoning, end to end:

* The only things OpenDP sees are integer codes produced by :func:`synthgen.encoding.encode`
  from the public schema (a row-wise map, so no privacy cost), and the keys ``0..k-1`` of each
  column, which come from the schema, never from the data. Identifier columns are never encoded.
* With keys for every column OpenDP requires pure zCDP (δ = 0 inside the release); the user's
  (ε, δ) is converted to ρ once, by OpenDP's conversion, in :class:`synthgen.budget.PrivacyBudget`.
* The privacy unit is one row, or, when the schema names a person column, one person with at most
  ``max_rows`` rows: rows beyond that are dropped per person *before* encoding, and OpenDP is told
  ``contributions = max_rows`` so that every sensitivity is multiplied accordingly. Rows with
  no person id are left out (never pooled into one "person"; see
  :func:`synthgen.encoding.bound_rows_per_person`). How many rows the bound set aside is exact,
  so it goes to the data owner only (``FittedModel.data_owner_facts``), never into the model.
* No timing of the fit is recorded in the model: how long a fit takes grows with the table's
  size, so a duration in a shipped file would be an unpaid statistic of the private table.
* The number of rows is never passed in: the model's total is OpenDP's noisy estimate, and it is
  the default number of synthetic rows.
* The budget recorded in the model is what OpenDP's compositor reports as consumed.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

import numpy as np
import pandas as pd

from synthgen.budget import PrivacyBudget
from synthgen.encoding import BoundedRows, bound_rows_per_person, encode
from synthgen.errors import InternalError, SynthgenError
from synthgen.sampler import CompiledSampler, compile_mrf
from synthgen.schema import Schema
from synthgen.synthesizers.config import AIM, MST

logger = logging.getLogger(__name__)

Progress = Callable[[float, str], None]


class FitFailedError(SynthgenError):
    """OpenDP refused or crashed after the budget was committed; the budget counts as spent."""


def _independent_model(domain, measurements):
    """Closed-form fit when only one-way marginals have been measured (MST's first step).

    With one-way measurements only, the maximum-entropy model is the product of the (clipped,
    normalised) noisy one-way marginals; fitting it with mirror descent costs tens of seconds of
    JAX compilation for the same answer. Pure post-processing of DP measurements.
    """
    import jax.numpy as jnp
    from mbi import CliqueVector, Factor, MarkovRandomField
    from mbi.estimation import minimum_variance_unbiased_total

    total = float(minimum_variance_unbiased_total(measurements))
    by_col: dict[str, list[tuple[np.ndarray, float]]] = {}
    for m in measurements:
        if len(m.clique) == 1:
            by_col.setdefault(m.clique[0], []).append((np.asarray(m.noisy_measurement, dtype=float), float(m.stddev)))
    probs: dict[str, np.ndarray] = {}
    for col in domain.attrs:
        size = domain.size(col)
        entries = [(y, s) for y, s in by_col.get(col, []) if y.shape == (size,)]
        if entries:
            weights = np.array([1.0 / s**2 for _, s in entries])
            y = sum(w * v for w, (v, _) in zip(weights, entries)) / weights.sum()
        else:
            y = np.ones(size)
        y = np.clip(y, 0.0, None)
        probs[col] = y / y.sum() if y.sum() > 0 else np.full(size, 1.0 / size)

    cliques = [(c,) for c in domain.attrs]
    potentials = CliqueVector(domain, cliques, {
        (c,): Factor(domain.project((c,)), jnp.asarray(np.log(np.maximum(probs[c], 1e-30)))) for c in domain.attrs
    })
    marginals = CliqueVector(domain, cliques, {
        (c,): Factor(domain.project((c,)), jnp.asarray(probs[c] * total)) for c in domain.attrs
    })

    class _IndependentMRF(MarkovRandomField):
        # Projections of an independent model are outer products; computing them in NumPy
        # avoids one JAX compilation per pair in MST's selection scores.
        def project(self, attrs):
            attrs = (attrs,) if isinstance(attrs, str) else tuple(attrs)
            table = np.ones(())
            for a in attrs:
                table = np.multiply.outer(table, probs[a])
            # NumPy, not JAX: OpenDP's MST subtracts this from each exact pair count, and a JAX
            # array there compiles a subtraction for every new shape
            return Factor(domain.project(attrs), table * total)

    return _IndependentMRF(potentials=potentials, marginals=marginals, total=total)


def _numpy_projection_model(model):
    """The same fitted model, with ``project`` answered in NumPy.

    AIM scores every candidate marginal in every round through ``model.project``; for cliques the
    model does not contain, mbi runs JAX variable elimination, which compiles anew for every
    shape: minutes per round on Adult. The model is a Bayesian network once compiled along its
    junction tree (see synthgen.sampler), so any marginal is one ``einsum`` over the conditional
    tables. Pure post-processing of DP output; the values equal mbi's up to float rounding.
    """
    import jax.numpy as jnp
    from mbi import Factor, MarkovRandomField

    domain = model.domain
    sizes = {a: domain.size(a) for a in domain.attrs}
    compiled = compile_mrf(model, sizes)
    labels = {a: i for i, a in enumerate(compiled.order)}
    operands: list[Any] = []
    for col in compiled.order:
        operands += [compiled.cpts[col], [labels[p] for p in compiled.parents[col]] + [labels[col]]]
    covered = {tuple(cl): f for cl, f in model.marginals.arrays.items()}
    total = float(model.total)

    class _NumpyProjectionMRF(MarkovRandomField):
        def project(self, attrs):
            attrs = (attrs,) if isinstance(attrs, str) else tuple(attrs)
            for factor in covered.values():
                if set(attrs) <= set(factor.domain.attrs):
                    return factor.project(attrs)
            table = np.einsum(*operands, [labels[a] for a in attrs], optimize="greedy")
            return Factor(domain.project(attrs), jnp.asarray(table * total))

    return _NumpyProjectionMRF(potentials=model.potentials, marginals=model.marginals, total=model.total)


def _numpy_model(domain, measurements, potentials, iters: int):
    """Mirror descent in NumPy (synthgen.synthesizers._numpy_md), wrapped as an mbi model whose
    ``project`` is NumPy too. Same estimate as mbi's mirror descent up to float rounding, without
    a JAX compilation per call. Pure post-processing of OpenDP's noisy measurements."""
    from mbi import CliqueVector, Factor, MarkovRandomField

    from synthgen.synthesizers import _numpy_md

    theta, mu, beliefs, total, tree = _numpy_md.mirror_descent(domain, measurements, potentials=potentials, iters=iters)
    cliques = list(theta)
    potentials_out = CliqueVector(domain, cliques, {c: Factor(domain.project(c), theta[c]) for c in cliques})
    marginals_out = CliqueVector(domain, cliques, {c: Factor(domain.project(c), mu[c]) for c in cliques})
    marginals_of = _numpy_md.TreeMarginals(tree, beliefs, total)

    class _NumpyMRF(MarkovRandomField):
        node_tables = {n: (n, b) for n, b in beliefs.items()}  # read by compile_mrf

        def project(self, attrs):
            attrs = (attrs,) if isinstance(attrs, str) else tuple(attrs)
            return Factor(domain.project(attrs), marginals_of.project(attrs))

    return _NumpyMRF(potentials=potentials_out, marginals=marginals_out, total=total)


def _make_estimator(
    iters: int, on_fit: Callable[[int], None], *, numpy_projection: bool, on_iteration: Callable[[int, int], None] | None = None,
    numpy_estimation: bool = True,
) -> Callable[..., Any]:
    from mbi.estimation import mirror_descent

    from synthgen.synthesizers import _fast_jtree, _numpy_md

    # the same junction trees, faster: OpenDP's AIM sizes one for every candidate every round
    _fast_jtree.install()
    calls = {"n": 0}

    def estimator(domain, loss_fn, *, potentials=None):
        calls["n"] += 1
        on_fit(calls["n"])
        if potentials is None and isinstance(loss_fn, list) and all(len(m.clique) <= 1 for m in loss_fn):
            return _independent_model(domain, loss_fn)
        if numpy_estimation and isinstance(loss_fn, list) and _numpy_md.supported(loss_fn):
            return _numpy_model(domain, loss_fn, potentials, iters)
        step = {"i": 0}

        def callback(_marginals) -> None:
            step["i"] += 1
            if on_iteration is not None and step["i"] % 50 == 0:
                on_iteration(step["i"], iters)

        model = mirror_descent(domain, loss_fn, potentials=potentials, iters=iters, callback_fn=callback)
        return _numpy_projection_model(model) if numpy_projection else model

    return estimator


def _final_model(model, marginals, config: MST | AIM):
    """AIM's last round fitted its model with ``estimation_iters`` iterations, like every round;
    continue that fit (warm-started, same measurements) for ``final_iters`` more, which the
    NumPy estimator makes cheap. Post-processing of the measurements OpenDP released: no budget,
    and the total stays the same estimate from the noisy marginals."""
    iters = getattr(config, "final_iters", 0)
    measurements = marginals.flatten()
    if not iters or not measurements or not all(len(m.clique) >= 1 for m in measurements):
        return model
    from synthgen.synthesizers import _numpy_md

    if not _numpy_md.supported(measurements):
        return model
    return _numpy_model(model.domain, measurements, model.potentials, iters)


def aim_workload(config: AIM, columns: list[str]):
    """AIM's workload: every ``max_degree``-way marginal of the synthesized columns, each with
    weight 1, except those holding ``config.target``, weighted ``config.target_weight``.

    Privacy: the weights come from the config and the schema only (the target is named by a
    person, never read off the data). OpenDP prices them: its score transformation's
    sensitivity is the largest weight times the marginals' sensitivity, so a weight > 1 widens
    the selection noise instead of spending more ρ (the budget split is unchanged). Without a
    target this is exactly OpenDP's own workload for ``queries=max_degree``."""
    from itertools import combinations

    from synthgen._opendp import dp

    degree = min(config.max_degree, len(columns))
    if config.target is None:
        return degree
    return [dp.mbi.Count(by, config.target_weight if config.target in by else 1.0)
            for by in combinations(columns, degree)]


def _algorithm(config: MST | AIM, estimator, columns: list[str], on_oneway_share: Callable[[float], None] | None = None):
    from synthgen._opendp import dp
    from synthgen.synthesizers._opendp_mst import SafeMST

    if isinstance(config, MST):
        # every column is keyed, so OpenDP's own one-way step is skipped and SafeMST measures them
        return SafeMST(
            estimator=estimator, measure_split=config.measure_split, oneway_share=config.oneway_share, oneway="unkeyed"
        )
    from synthgen.synthesizers._aim import SizedAIM

    # every column is keyed, so OpenDP's own one-way step is skipped and SizedAIM measures them,
    # as much as the table's size calls for (synthgen.synthesizers._aim)
    return SizedAIM(
        estimator=estimator,
        measure_split=config.measure_split,
        queries=aim_workload(config, columns),
        max_size=config.max_model_mb,
        rounds=config.rounds or 4 * len(columns),
        oneway="unkeyed",
        oneway_share=config.oneway_share,
        oneway_share_max=config.oneway_share_max,
        oneway_target_tvd=config.oneway_target_tvd,
        on_oneway_share=on_oneway_share,
    )


def _release(data, keys: dict[str, list[int]], contributions: int, rho: float, algorithm):
    """The single point where private data meets OpenDP: everything passed here is either the
    encoded table or public (keys from the schema, the declared privacy unit, the budget)."""
    from synthgen._opendp import dp

    context = dp.Context.compositor(
        data=data,
        privacy_unit=dp.unit_of(contributions=contributions),
        privacy_loss=dp.loss_of(rho=rho),
    )
    table = context.query(rho=rho).contingency_table(keys=keys, algorithm=algorithm).release()
    return table, context


def fit_marginal(
    frame: pd.DataFrame,
    schema: Schema,
    config: MST | AIM,
    budget: PrivacyBudget,
    *,
    progress: Progress | None = None,
) -> tuple[CompiledSampler, float, dict[str, Any], BoundedRows]:
    """Fit AIM or MST; return the compiled sampler, the DP row estimate, accounting details and
    the person-level bound's outcome (its counts are for the data owner only).

    Called by :func:`synthgen.synthesizers.fit` only, after ``check_fit_inputs`` checked the
    budget (a positive PrivacyBudget) and the schema before the private table was read."""
    import polars as pl

    (progress or (lambda f, m: None))(0.02, "encoding the table with the public schema")
    bounded = bound_rows_per_person(frame, schema.privacy_unit)
    encoded = encode(bounded.frame, schema)
    # Only these integer columns reach OpenDP; identifiers are not among them.
    data = pl.LazyFrame({name: pl.Series(name, codes, dtype=pl.Int64) for name, codes in encoded.codes.items()})
    sampler, estimated_rows, details = fit_marginal_encoded(data, schema, config, budget, progress=progress,
                                                            engine="memory")
    return sampler, estimated_rows, details, bounded


def fit_marginal_encoded(
    data,
    schema: Schema,
    config: MST | AIM,
    budget: PrivacyBudget,
    *,
    progress: Progress | None = None,
    engine: str,
    counter: Callable[[list[tuple[str, ...]], dict[str, int]], dict[tuple[str, ...], np.ndarray]] | None = None,
) -> tuple[CompiledSampler, float, dict[str, Any]]:
    """Fit on already encoded codes: a Polars LazyFrame of the synthesized columns' integer codes
    (in memory or scanned from a file). With ``counter``, exact marginals are counted by another
    engine (Polars out of core, Spark; MST and AIM) and only the noisy ones are kept: see
    synthgen.engines and synthgen.synthesizers._aim. Reached through
    ``fit`` or ``fit_file``, both of which run ``check_fit_inputs`` first."""
    report = progress or (lambda fraction, message: None)
    columns = schema.synthesized_columns
    cardinalities = {c.name: c.cardinality for c in columns}
    keys = {c.name: list(range(c.cardinality)) for c in columns}
    contributions = schema.privacy_unit.max_rows

    def on_fit(n: int) -> None:
        if isinstance(config, MST):
            stages = {1: (0.1, "measuring one-way marginals"), 2: (0.3, "selecting the spanning tree"), 3: (0.5, "fitting the model")}
            report(*stages.get(n, (0.8, "fitting the model")))
        else:
            report(min(0.1 + 0.02 * n, 0.9), f"AIM round {n}: fitting the model")

    def on_iteration(i: int, total: int) -> None:
        # only MST's final fit is long enough to need a moving bar between its stages
        if isinstance(config, MST):
            report(0.5 + 0.38 * i / total, f"fitting the model: iteration {i} of {total}")

    estimator = _make_estimator(
        config.estimation_iters, on_fit, numpy_projection=isinstance(config, AIM), on_iteration=on_iteration
    )
    report(0.05, f"measuring with OpenDP ({config.name.upper()}, rho={budget.rho:.6g}, engine {engine})")
    started = time.monotonic()  # for the log only (see the module docstring)
    oneway_shares: list[float] = []
    algorithm = _algorithm(config, estimator, [c.name for c in columns], oneway_shares.append)
    if counter is not None:
        from dataclasses import replace

        # SafeMST and SizedAIM both count through ``counter`` when one is given
        algorithm = replace(algorithm, counter=counter)
    try:
        table, context = _release(data, keys, contributions, budget.rho, algorithm)
    except Exception as exc:  # noqa: BLE001 - OpenDP raises many types; all mean "budget committed, no model"
        raise FitFailedError(
            f"{config.name.upper()} failed inside OpenDP after the privacy budget was committed "
            f"({exc.__class__.__name__}); the budget counts as spent"
        ) from exc
    consumed = budget.rho - float(context.remaining_privacy_loss())
    if consumed > budget.rho * (1 + 1e-12):
        raise InternalError(f"OpenDP reports rho {consumed} consumed, more than the {budget.rho} granted")
    report(0.9, "compiling the model for sampling")
    for col in cardinalities:
        key_values = table.keys[col].to_list()
        if key_values[: cardinalities[col]] != list(range(cardinalities[col])):
            raise InternalError(f"OpenDP reordered the keys of column {col!r}")
    model = _final_model(table.model, table.marginals, config)
    sampler = compile_mrf(model, cardinalities)
    estimated_rows = float(model.total)
    details = {
        "privacy_unit": (
            f"one person ({schema.privacy_unit.person_column!r}) with at most {contributions} rows"
            if schema.privacy_unit.person_column else "one row"
        ),
        "contributions": contributions,
        "rho_consumed": consumed,
        "measured_cliques": [list(c) for c in table.marginals.cliques()],
        # AIM sizes its one-way step from its own noisy row estimate (post-processing of DP output)
        **({"oneway_share": oneway_shares[0]} if oneway_shares else {}),
        "engine": engine,
    }
    logger.info("%s fitted in %.1f s", config.name.upper(), time.monotonic() - started)
    return sampler, estimated_rows, details
