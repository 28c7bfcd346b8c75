"""AIM over OpenDP 0.16 with its exact marginals counted by another engine (Polars out of core,
Spark): the counterpart of ``SafeMST.counter`` (synthgen.synthesizers._opendp_mst).

OpenDP's AIM reads the private rows in two places: its one-way step (one Polars query per column
on the frame) and the stable transformation that counts every marginal of the workload. With an
external engine the frame OpenDP sees is an empty placeholder, so both must go through the
counter:

* the one-way step is skipped (``oneway="unkeyed"``: every column is keyed by the schema) and
  the one-way marginals are measured here, with ``oneway_share`` of the budget, from the counts;
* the *function* of OpenDP's marginal transformation is replaced by the counter (one clique at a
  time for Polars, one ``GROUPING SETS`` job for Spark). Its stability map, the noise (OpenDP's
  ``make_noise_marginals``, scales found by ``fast_chain`` and checked by OpenDP's privacy map),
  the selection and the composition are OpenDP's, so only noisy marginals leave the engine and
  the accounting is OpenDP's.

The rounds after the one-way step are OpenDP 0.16's AIM loop unchanged (``_make_aim_marginal``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from opendp._internal import _make_transformation, _new_pure_function
from opendp.combinators import make_adaptive_composition, make_fully_adaptive_composition, make_privacy_filter
from opendp.extras.mbi._aim import AIM as _OpenDPAIM
from opendp.extras.mbi._aim import _expand_queries, _make_aim_marginal
from opendp.extras.mbi._utilities import (
    get_associated_metric, get_cardinalities, make_noise_marginals, make_stable_marginals, prior,
)

from synthgen._opendp import SLACK
from synthgen.synthesizers._opendp_mst import fast_chain


@dataclass(kw_only=True, frozen=True)
class CountedAIM(_OpenDPAIM):
    """AIM whose exact marginals come from ``counter(cliques, sizes)``; use with ``oneway="unkeyed"``."""

    oneway_share: float = 0.5
    counter: Any = None

    def make_marginals(self, input_domain, input_metric, output_measure, d_in, d_out, *, marginals, model):
        from mbi import MarkovRandomField

        if not isinstance(model, MarkovRandomField):
            raise ValueError("model must be a MarkovRandomField")
        queries = _expand_queries(self.queries, input_domain.columns)
        algorithm = replace(self, queries=queries)
        columns = list(input_domain.columns)
        cliques = list(dict.fromkeys([(c,) for c in columns] + [q.by for q in queries]))
        t_marginals = make_stable_marginals(input_domain, input_metric, get_associated_metric(output_measure), cliques)
        # OpenDP's key sets carry one extra key for null (never used by our codes): table shapes
        # come from OpenDP's domain, as in SafeMST
        count, sizes = self.counter, dict(get_cardinalities(input_domain))
        t_marginals = _make_transformation(
            *t_marginals.input_space, *t_marginals.output_space,
            function=lambda _placeholder: count(cliques, sizes), stability_map=t_marginals.map,
        )
        d_marginals = t_marginals.map(d_in)
        space = t_marginals.output_space
        budget = d_out * (1.0 - SLACK)
        d_oneway = budget * self.oneway_share
        d_rounds = budget - d_oneway
        oneway = [(c,) for c in columns]
        rounds = algorithm.rounds or (16 * len(columns))

        def function(qbl) -> tuple[Any, Any]:
            m_oneway = fast_chain(lambda s: make_noise_marginals(*space, output_measure, oneway, scale=s), d_marginals, d_oneway)
            current_marginals = marginals.add(*qbl(m_oneway))
            current_model = self.estimator(model.domain, current_marginals.flatten(), potentials=None)
            # OpenDP 0.16's AIM rounds, on what is left after the one-way step
            inner = qbl(make_privacy_filter(make_fully_adaptive_composition(*space, output_measure), d_in=d_marginals, d_out=d_rounds))
            d_step, d_spent = d_rounds / rounds, 0.0
            while d_step:
                m_step = _make_aim_marginal(
                    *space, output_measure, d_marginals, d_step, marginals=current_marginals, model=current_model,
                    max_size=algorithm.max_size * (d_spent + d_step) / d_rounds, algorithm=algorithm,
                )
                if not m_step:
                    break
                current_marginals, current_model, significant = inner(m_step)
                if not significant:
                    d_step *= 4
                d_spent = inner.privacy_loss(d_marginals)
                d_step = min(d_step, max(prior(d_rounds - d_spent), 0))
            return current_marginals, current_model

        m_all = make_adaptive_composition(*space, output_measure, d_in=d_marginals, d_mids=[d_oneway, d_rounds])
        return t_marginals >> m_all >> _new_pure_function(function)


def counted_aim(algorithm: _OpenDPAIM, counter, oneway_share: float) -> CountedAIM:
    """``algorithm`` (an OpenDP AIM as synthgen configures it) counting through ``counter``."""
    return CountedAIM(
        estimator=algorithm.estimator, measure_split=algorithm.measure_split, queries=algorithm.queries,
        max_size=algorithm.max_size, rounds=algorithm.rounds, oneway="unkeyed", oneway_share=oneway_share, counter=counter,
    )


def with_counter(algorithm, counter, config):
    """The algorithm ``_algorithm`` built for ``config`` (MST or AIM), counting through ``counter``."""
    from synthgen.synthesizers._opendp_mst import SafeMST

    if isinstance(algorithm, SafeMST):
        return replace(algorithm, counter=counter)
    return counted_aim(algorithm, counter, config.oneway_share)
