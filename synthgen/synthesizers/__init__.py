"""Synthesizers behind one interface: ``fit(frame, schema, config, budget) -> FittedModel``.

DP synthesizers (AIM, MST) run through OpenDP; SDV baselines are *not* differentially private and
are marked ``dp=False`` in their config, their model info and everything derived from them.
"""

from __future__ import annotations

from typing import Callable

import pandas as pd

from synthgen.budget import PrivacyBudget
from synthgen.encoding import BoundedRows, check_columns_present
from synthgen.errors import BudgetError, InvalidInputError
from synthgen.model import FittedModel, build_info
from synthgen.schema import Schema
from synthgen.synthesizers.config import (
    AIM,
    MST,
    SYNTHESIZERS,
    CTGANBaseline,
    GaussianCopulaBaseline,
    SynthesizerConfig,
    config_by_name,
    config_from_dict,
)

__all__ = [
    "AIM", "MST", "CTGANBaseline", "GaussianCopulaBaseline", "SynthesizerConfig", "SYNTHESIZERS",
    "FittedModel", "fit", "fit_file", "config_by_name", "config_from_dict", "check_fit_inputs",
]

#: A synthesizer model above this many cells would not fit in memory on a 2-core/24 GB machine.
MAX_DOMAIN_CELLS_PER_PAIR = 1_000_000


def person_bound_facts(bounded: BoundedRows) -> dict[str, int]:
    """What the person-level bound set aside: exact counts of the private table, for the data
    owner and the privacy officers reviewing the dataset only (never saved with the model)."""
    return {
        "rows_set_aside_by_person_bound": bounded.rows_set_aside,
        "rows_over_person_limit": bounded.rows_over_limit,
        "rows_without_person_id": bounded.rows_without_person,
    }


def check_fit_inputs(schema: Schema, config: SynthesizerConfig, budget: PrivacyBudget | None) -> None:
    """Everything that can be checked before the private data is read (KNOWN-PITFALLS #3)."""
    if not isinstance(schema, Schema):
        raise InvalidInputError(f"schema ({type(schema).__name__}) must be a synthgen Schema")
    if not isinstance(config, SynthesizerConfig):
        raise InvalidInputError(f"config ({type(config).__name__}) must be a synthesizer config such as MST()")
    schema.require_top_k_selected()  # a pending top-k column has no categories to fit
    target = getattr(config, "target", None)
    if target is not None and target not in {c.name for c in schema.synthesized_columns}:
        raise InvalidInputError(f"target ({target!r}) must be a synthesized column of the schema")
    if config.dp:
        if budget is None:
            raise BudgetError(f"budget must be given for the DP synthesizer {config.name}")
        if not isinstance(budget, PrivacyBudget) or budget.rho <= 0:
            raise BudgetError(f"budget ({budget!r}) must be a positive PrivacyBudget")
        if schema.derived_from_private_data:
            raise InvalidInputError(
                "schema is flagged derived_from_private_data: review it (public categories, bounds and cuts) "
                "and clear the flag before a DP fit, otherwise the release would leak what the draft read off the data"
            )
        cards = sorted((c.cardinality for c in schema.synthesized_columns), reverse=True)
        if len(cards) >= 2 and cards[0] * cards[1] > MAX_DOMAIN_CELLS_PER_PAIR:
            raise InvalidInputError(
                f"schema: the two largest columns have {cards[0]} x {cards[1]} values; a pair must have at most "
                f"{MAX_DOMAIN_CELLS_PER_PAIR:,} cells (merge categories or use fewer bins)"
            )
    elif budget is not None and budget.rho > 0:
        raise BudgetError(f"budget must not be given for {config.name}: it is not differentially private")


def fit(
    frame: pd.DataFrame,
    schema: Schema,
    config: SynthesizerConfig,
    budget: PrivacyBudget | None,
    *,
    progress: Callable[[float, str], None] | None = None,
    rng=None,
) -> FittedModel:
    """Fit ``config`` on ``frame`` under ``schema``.

    DP synthesizers spend exactly ``budget`` (recorded in ``model.info["budget"]``); their noise
    comes from OpenDP and is never seeded. ``rng`` is only used by non-DP baselines.
    """
    check_fit_inputs(schema, config, budget)
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInputError(f"data ({type(frame).__name__}) must be a pandas DataFrame")
    check_columns_present(frame, schema)
    if isinstance(config, (MST, AIM)):
        from synthgen.synthesizers.marginal import fit_marginal

        sampler, estimated_rows, details, bounded = fit_marginal(frame, schema, config, budget, progress=progress)
        return _marginal_model(schema, config, budget, sampler, estimated_rows, details, progress,
                               data_owner_facts=person_bound_facts(bounded))
    from synthgen.synthesizers.baselines import fit_baseline

    return fit_baseline(frame, schema, config, progress=progress, rng=rng)


def _marginal_model(schema, config, budget, sampler, estimated_rows, details, progress, *,
                    data_owner_facts=None) -> FittedModel:
    spent = {"rho": details["rho_consumed"], "rho_requested": budget.rho}
    info = build_info(schema=schema, config=config, budget=spent, default_rows=estimated_rows, details=details)
    info["engine"] = details.get("engine", "memory")
    if progress:
        progress(1.0, "done")
    return FittedModel(schema=schema, config=config, info=info, sampler=sampler,
                       **({} if data_owner_facts is None else {"data_owner_facts": data_owner_facts}))


def fit_file(
    path,
    schema: Schema,
    config: SynthesizerConfig,
    budget: PrivacyBudget | None,
    *,
    engine: str = "polars",
    progress: Callable[[float, str], None] | None = None,
    spark=None,
) -> FittedModel:
    """Fit a DP synthesizer on a CSV or Parquet file without loading it into pandas.

    ``engine`` is ``polars`` (out of core on this machine) or ``spark`` (MST, counting on the
    given or default Spark session); ``memory`` reads the file and calls :func:`fit`. The engine
    is recorded in ``model.info["engine"]``. Noise and accounting are OpenDP's in every case.
    """
    from synthgen.engines import check_engine, fit_polars, fit_spark

    check_fit_inputs(schema, config, budget)
    check_engine(engine, config)
    if engine == "memory":
        from synthgen.io import read_table

        return fit(read_table(path), schema, config, budget, progress=progress)
    if engine == "polars":
        sampler, rows, details, facts = fit_polars(path, schema, config, budget, progress=progress)
    else:
        sampler, rows, details, facts = fit_spark(path, schema, config, budget, spark=spark, progress=progress)
    return _marginal_model(schema, config, budget, sampler, rows, details, progress, data_owner_facts=facts)
