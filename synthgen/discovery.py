"""Schema discovery under differential privacy: the no-peeking alternative to ``draft_schema``.

The data owner declares only what is public anyway (which columns are identifiers, which are
numeric and their public bounds); everything else is *released* with OpenDP and paid from the
budget:

* categories of each categorical column by OpenDP's key thresholding (a noisy count per value,
  released only above a threshold calibrated to δ, so a value held by one person never appears);
* bin cuts of each numeric column by DP quantiles over a public grid of candidates inside the
  declared bounds.

Released categories and cuts are post-processing of DP output, so the resulting schema is not
"derived from private data" in the leaking sense; the spend is recorded in ``accounting`` and in
the schema notes, and must be charged to the dataset's budget like any other release.

The privacy unit is the dataset's: when a person may hold up to ``max_rows`` rows, discovery
keeps at most that many per person (rows without a person id are left out, as in every fit)
and tells OpenDP ``contributions = max_rows``. OpenDP then scales the noise and raises the key
threshold for a person who can add ``max_rows`` to each of ``max_rows`` counts; measuring with
``contributions = 1`` while charging a person-level budget would cost about ``max_rows**2`` times
the ρ charged, and would release a category held by one person with many rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from synthgen.budget import PrivacyBudget, check_delta
from synthgen.errors import InvalidInputError
from synthgen.encoding import bound_rows_per_person
from synthgen.schema import Column, PrivacyUnit, Schema

#: Public upper bound on the number of rows, required by OpenDP for quantiles.
MAX_ROWS = 100_000_000
MAX_CANDIDATES = 256


@dataclass(frozen=True)
class NumericSpec:
    lower: float
    upper: float
    integer: bool = True

    def __post_init__(self) -> None:
        if not self.lower < self.upper:
            raise InvalidInputError(f"numeric bounds ({self.lower}, {self.upper}) must satisfy lower < upper")

    def candidates(self) -> list[float]:
        if self.integer:
            grid = np.unique(np.linspace(self.lower, self.upper, MAX_CANDIDATES).round().astype(np.int64))
            return [int(v) for v in grid]
        return [float(v) for v in np.linspace(self.lower, self.upper, MAX_CANDIDATES)]


def parse_numeric_spec(text: str) -> tuple[str, NumericSpec]:
    """``name=lower:upper`` (integers) or ``name=lower:upper:float``."""
    try:
        name, rng = text.split("=", 1)
        parts = rng.split(":")
        lower, upper = float(parts[0]), float(parts[1])
        integer = not (len(parts) > 2 and parts[2] == "float")
    except (ValueError, IndexError):
        raise InvalidInputError(f"--numeric ({text!r}) must look like name=lower:upper or name=lower:upper:float") from None
    if integer:
        lower, upper = int(lower), int(upper)
    return name, NumericSpec(lower, upper, integer)


def discover_schema(
    frame: pd.DataFrame,
    *,
    numeric: dict[str, NumericSpec],
    identifiers: list[str],
    budget: PrivacyBudget,
    delta: float,
    bins: int = 8,
    name: str = "table",
    privacy_unit: PrivacyUnit | None = None,
) -> tuple[Schema, dict[str, Any]]:
    """Release a schema for ``frame`` with ``budget`` (ρ, zCDP) plus ``delta`` for thresholding.

    ``privacy_unit`` is the dataset's (default: one row); its person column must be among
    ``identifiers``. The released schema carries it.
    """
    import polars as pl

    from synthgen._opendp import SLACK, dp

    delta = check_delta(delta)
    if not 2 <= bins <= 64:
        raise InvalidInputError(f"bins ({bins}) must be between 2 and 64")
    columns = [str(c) for c in frame.columns]
    for col in [*numeric, *identifiers]:
        if col not in columns:
            raise InvalidInputError(f"unknown column {col!r}; the table has {', '.join(map(repr, columns))}")
    unit = privacy_unit or PrivacyUnit()
    if not isinstance(unit, PrivacyUnit):
        raise InvalidInputError(f"privacy_unit ({unit!r}) must be a PrivacyUnit")
    if unit.person_column is not None and unit.person_column not in identifiers:
        raise InvalidInputError(
            f"privacy_unit.person_column ({unit.person_column!r}) must be one of the identifier columns"
        )
    # the same person-level bound as every fit, before anything is measured
    frame = bound_rows_per_person(frame, unit).frame
    categorical = [c for c in columns if c not in numeric and c not in identifiers]
    queries = len(categorical) + len(numeric)
    if queries == 0:
        raise InvalidInputError("there is nothing to discover: every column is an identifier")

    data: dict[str, Any] = {}
    for col in categorical:
        data[col] = pl.Series(col, [None if pd.isna(v) else str(v) for v in frame[col]], dtype=pl.String)
    for col, spec in numeric.items():
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
        values = np.where(np.isfinite(values), values, spec.lower)  # public imputation: the lower bound
        data[col] = pl.Series(col, values.round().astype(np.int64) if spec.integer else values)
    context = dp.Context.compositor(
        data=pl.LazyFrame(data),
        privacy_unit=dp.unit_of(contributions=unit.max_rows),
        privacy_loss=dp.loss_of(rho=budget.rho, delta=delta),
        margins=[dp.polars.Margin(max_length=MAX_ROWS)],
    )
    # Not ``split_evenly_over``: OpenDP sums its even parts back rounding upwards and, for many
    # (ρ, δ), refuses its own budget before measuring anything. Each query asks for a part a
    # hair below the even share instead (SLACK), which always composes within the total.
    per_query = {"rho": budget.rho * (1 - SLACK) / queries, "delta": delta * (1 - SLACK) / queries}
    alphas = [i / bins for i in range(1, bins)]
    out: list[Column] = []
    thresholds: dict[str, int] = {}
    for col in columns:
        if col in identifiers:
            out.append(Column(name=col, kind="categorical", role="identifier"))
        elif col in numeric:
            spec = numeric[col]
            cands = spec.candidates()
            expr = [pl.col(col).clip(spec.lower, spec.upper).dp.quantile(a, cands).alias(f"q{i}") for i, a in enumerate(alphas)]
            released = context.query(**per_query).select(*expr).release().collect().row(0)
            cuts: list[float] = []
            for q in sorted(released):
                if spec.lower < q <= spec.upper and (not cuts or q > cuts[-1]):
                    cuts.append(q)
            if spec.integer:
                cuts = [c for c in cuts if c < spec.upper or c == spec.upper]
            out.append(Column(name=col, kind="numeric", nullable=False, lower=spec.lower, upper=spec.upper, cuts=tuple(cuts), integer=spec.integer))
        else:
            # unsigned counts: a key is released only when its noisy count clears the threshold
            query = context.query(**per_query).group_by(col).agg(dp.len(signed=False))
            # OpenDP's threshold for this unit: public (it depends on ρ, δ and the unit only)
            thresholds[col] = int(query.summarize()["threshold"][0])
            released = query.release().collect()
            keys = [k for k in released[col].to_list()]
            cats = sorted(k for k in keys if k is not None and k != "")
            if not cats:
                raise InvalidInputError(
                    f"column {col!r}: no category is frequent enough to be released at this budget; "
                    "declare its categories by hand or spend more on discovery"
                )
            out.append(Column(name=col, kind="categorical", nullable=True, categories=tuple(cats)))
    accounting = {
        "mechanism": "OpenDP key thresholding (categories) and DP quantiles (numeric cuts)",
        "rho": budget.rho,
        "delta": delta,
        "queries": queries,
        "contributions": unit.max_rows,
        "key_thresholds": thresholds,
        "epsilon_at_delta": budget.epsilon(delta) if budget.rho > 0 else 0.0,
    }
    schema = Schema(
        columns=tuple(out),
        name=name,
        privacy_unit=unit,
        notes=(
            f"Discovered with differential privacy: rho {budget.rho:.6g} (zCDP) plus delta {delta:g} for "
            "key thresholding, spent on this table's budget. Categories held by few people are not listed "
            "(they appear as <missing>). Review roles before use."
        ),
    )
    return schema, accounting
