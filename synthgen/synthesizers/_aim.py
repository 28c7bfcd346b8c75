"""synthgen's AIM over OpenDP 0.16: OpenDP's AIM rounds after a one-way step sized to the table.

Every AIM fit, in memory or out of core, goes through :class:`SizedAIM`. It differs from OpenDP's
``AIM`` in two places, both before OpenDP's rounds (``_make_aim_marginal``, unchanged):

* **The one-way step is sized to the table.** The one-way marginals get ``oneway_share`` of the
  budget first. Their noisy total is a DP estimate of the row count, so *after* that measurement
  (post-processing, no privacy cost) we know how noisy the one-ways are against the table's size.
  When their expected noise would still move a column's distribution by more than
  ``oneway_target_tvd`` (total variation, averaged over the columns), they are measured again
  with more of the budget, up to ``oneway_share_max`` in all; the rounds get what is left. Why:
  a share tuned on Adult (34,189 rows, a tenth of ρ) leaves the one-ways of a 624-row table at
  about 50 rows of noise per cell at ε = 1; AIM then spent its rounds on a few pairs and Fare's
  distribution came out wrong in 12 of 20 Titanic fits (benchmarks/README.md, "One-way step
  sized to the table"). Two Gaussian measurements of the same marginals carry the information of
  one with the sum of their ρ, so measuring in two steps loses nothing.
* **Counting can be done by another engine** (``counter``: Polars out of core, Spark). OpenDP's
  AIM reads the private rows in its one-way step and in the stable transformation that counts the
  workload's marginals; with an external engine the frame OpenDP sees is an empty placeholder, so
  the *function* of OpenDP's marginal transformation is replaced by the counter (one clique at a
  time for Polars, one ``GROUPING SETS`` job for Spark). Its stability map, the noise (OpenDP's
  ``make_noise_marginals``, scales found by ``fast_chain`` and checked by OpenDP's privacy map),
  the selection and the composition stay OpenDP's, so only noisy marginals leave the engine and
  the accounting is OpenDP's.

Use with ``oneway="unkeyed"``: every column is keyed by the schema, so OpenDP's own one-way step
is skipped and this class measures the one-ways.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Sequence

from opendp._internal import _new_pure_function
from opendp.combinators import make_adaptive_composition, make_fully_adaptive_composition, make_privacy_filter
from opendp.extras.mbi._aim import AIM as _OpenDPAIM
from opendp.extras.mbi._aim import _expand_queries, _make_aim_marginal
from opendp.extras.mbi._utilities import get_cardinalities, make_noise_marginals, prior

from synthgen._opendp import SLACK
from synthgen.synthesizers._opendp_mst import fast_chain, stable_marginals


def oneway_share_needed(estimated_rows: float, noise_stddev: float, first_share: float, cardinalities: Sequence[int],
                        target_tvd: float, max_share: float) -> float:
    """The share of the budget the one-way marginals should have in all, given the first
    measurement (``first_share`` of the budget, Gaussian noise ``noise_stddev`` per cell) and the
    row count it estimates.

    Pure noise of standard deviation σ on a column of k cells has an expected L1 error of
    k·σ·√(2/π), a total variation of k·σ·√(2/π) / (2n) on n rows. Averaged over the columns that
    is at most ``target_tvd`` when σ ≤ σ* = 2·n·target / (mean k · √(2/π)). The noise's variance
    falls as 1/ρ, so reaching σ* takes first_share·(σ/σ*)² of the budget in all, capped at
    ``max_share`` and never below what was already spent.

    Privacy: ``estimated_rows`` and ``noise_stddev`` are outputs of the DP measurement (or public
    parameters of it), ``cardinalities`` come from the schema: this is post-processing.
    """
    if estimated_rows <= 0 or not cardinalities:
        return max_share  # the estimate says "almost no rows": the one-ways need all they can get
    mean_cells = sum(cardinalities) / len(cardinalities)
    target_stddev = 2.0 * estimated_rows * target_tvd / (mean_cells * math.sqrt(2.0 / math.pi))
    needed = first_share * (noise_stddev / target_stddev) ** 2
    return min(max_share, max(first_share, needed))


@dataclass(kw_only=True, frozen=True)
class SizedAIM(_OpenDPAIM):
    """AIM with its one-way step sized to the table (module docstring); counts through
    ``counter(cliques, sizes)`` when one is given. Use with ``oneway="unkeyed"``."""

    oneway_share: float = 0.1
    oneway_share_max: float = 0.5
    oneway_target_tvd: float = 0.05
    counter: Any = None
    #: told the share of the budget the one-way marginals got in all (a function of the DP row
    #: estimate, so it may be recorded in the model's accounting)
    on_oneway_share: Any = None

    def make_marginals(self, input_domain, input_metric, output_measure, d_in, d_out, *, marginals, model):
        from mbi import MarkovRandomField

        if not isinstance(model, MarkovRandomField):
            raise ValueError("model must be a MarkovRandomField")
        queries = _expand_queries(self.queries, input_domain.columns)
        algorithm = replace(self, queries=queries)
        columns = list(input_domain.columns)
        cliques = list(dict.fromkeys([(c,) for c in columns] + [q.by for q in queries]))
        t_marginals = stable_marginals(input_domain, input_metric, output_measure, cliques, self.counter)
        d_marginals = t_marginals.map(d_in)
        space = t_marginals.output_space
        budget = d_out * (1.0 - SLACK)
        d_oneway = budget * self.oneway_share
        d_rounds = budget - d_oneway
        oneway = [(c,) for c in columns]
        rounds = algorithm.rounds or (16 * len(columns))
        # the real cells of each column (without OpenDP's unused null key), for the sizing rule
        sizes = get_cardinalities(input_domain)
        cells = [max(1, int(sizes[c]) - 1) for c in columns]

        def measure_oneways(qbl, d: float):
            return qbl(fast_chain(lambda s: make_noise_marginals(*space, output_measure, oneway, scale=s), d_marginals, d))

        def function(qbl) -> tuple[Any, Any]:
            first = measure_oneways(qbl, d_oneway)
            current_marginals = marginals.add(*first)
            current_model = self.estimator(model.domain, current_marginals.flatten(), potentials=None)
            share = oneway_share_needed(float(current_model.total), float(first[0].stddev), self.oneway_share, cells,
                                        self.oneway_target_tvd, self.oneway_share_max)
            # OpenDP 0.16's AIM rounds, on what is left after the one-way step
            inner = qbl(make_privacy_filter(make_fully_adaptive_composition(*space, output_measure), d_in=d_marginals, d_out=d_rounds))
            d_more = max(0.0, min(budget * (share - self.oneway_share), d_rounds * 0.999))
            if self.on_oneway_share is not None:
                self.on_oneway_share(self.oneway_share + d_more / budget)
            if d_more > 0:
                current_marginals = current_marginals.add(*measure_oneways(inner, d_more))
                current_model = self.estimator(model.domain, current_marginals.flatten(), potentials=None)
            d_left = d_rounds - d_more
            d_step, d_spent = d_left / rounds, 0.0
            while d_step:
                m_step = _make_aim_marginal(
                    *space, output_measure, d_marginals, d_step, marginals=current_marginals, model=current_model,
                    max_size=algorithm.max_size * (d_spent + d_step) / d_left, algorithm=algorithm,
                )
                if not m_step:
                    break
                current_marginals, current_model, significant = inner(m_step)
                if not significant:
                    d_step *= 4
                spent = inner.privacy_loss(d_marginals)
                d_spent = spent - d_more  # by the rounds, for the size cap's growth
                # what is left is read off OpenDP's odometer, never recomputed from our own sums:
                # floating-point rounding there once asked the filter for one ulp too many
                d_step = min(d_step, max(prior(d_rounds - spent), 0))
            return current_marginals, current_model

        m_all = make_adaptive_composition(*space, output_measure, d_in=d_marginals, d_mids=[d_oneway, d_rounds])
        return t_marginals >> m_all >> _new_pure_function(function)
