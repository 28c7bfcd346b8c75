"""Running the top-k selection of synthgen.topk on the private table with OpenDP, and its accounting."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from synthgen.errors import InvalidInputError, SchemaError
from synthgen.topk import OTHER_LABEL, TopK, check_k

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from synthgen.schema import Schema

#: Public upper bound on the number of rows, required by OpenDP's Polars margins.
MAX_ROWS = 100_000_000


def parse_column_k(text: str) -> tuple[str, int]:
    """``NAME=K`` of the command line."""
    name, sep, k = text.partition("=")
    if not sep or not name:
        raise InvalidInputError(f"--column ({text!r}) must look like NAME=K")
    try:
        value = int(k)
    except ValueError:
        raise InvalidInputError(f"--column {name}: k ({k!r}) must be a whole number") from None
    try:
        check_k(f"--column {name}: k", value)
    except SchemaError as exc:
        raise InvalidInputError(str(exc)) from None
    return name, value


def check_epsilon(epsilon: Any) -> float:
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not math.isfinite(epsilon) or epsilon <= 0:
        raise InvalidInputError(f"epsilon ({epsilon!r}) must be a number > 0")
    return float(epsilon)


def top_k_columns(schema: "Schema", columns: dict[str, int] | None = None) -> dict[str, int]:
    """The columns a selection will measure, with their k: ``columns`` (name → k) validated, or
    every declared top-k not selected yet. Public facts only: check them before budget is spent."""
    if columns is not None and not isinstance(columns, dict):
        raise InvalidInputError("columns must map column names to k")
    wanted: dict[str, int] = {}
    for name, k in (columns or {}).items():
        try:
            col = schema.column(name)
        except SchemaError as exc:
            raise InvalidInputError(str(exc)) from None
        if col.kind != "categorical" or not col.synthesized or col.code_list is not None:
            raise InvalidInputError(f"column {name!r} must be a synthesized categorical column without a code_list for top-k")
        try:
            wanted[name] = check_k(f"top-k k of column {name!r}", k)
        except SchemaError as exc:
            raise InvalidInputError(str(exc)) from None
    if not wanted:
        wanted = {c.name: c.top_k.k for c in schema.columns if c.top_k is not None and not c.top_k.selected}
    if not wanted:
        raise InvalidInputError("no column declares a top_k still to be selected; name columns with --column NAME=K")
    return wanted


def select_top_k(
    frame: "pd.DataFrame", schema: "Schema", *, epsilon: float, delta: float, columns: dict[str, int] | None = None,
) -> tuple["Schema", dict[str, Any]]:
    """Choose the categories of every top-k column with OpenDP, spending ``epsilon`` at ``delta``.

    ``columns`` (name → k) declares or re-declares top-k columns; without it, every column whose
    ``top_k`` is declared but not yet selected is selected. The budget is split evenly over the
    columns. Returns the schema with the chosen categories and the accounting (ρ, δ, ε, per
    column and in total), to be charged to the dataset's budget.

    A review recorded on ``schema`` stays valid: the selection changes only the categories of
    top-k columns, which are released with DP, not read off the data.
    """
    import numpy as np
    import polars as pl

    from synthgen._opendp import SLACK, dp
    from synthgen.budget import PrivacyBudget, check_delta
    from synthgen.encoding import bound_rows_per_person
    from synthgen.schema import normalise_category

    check_epsilon(epsilon)
    delta = check_delta(delta)
    wanted = top_k_columns(schema, columns)
    missing = [n for n in wanted if n not in frame.columns]
    if missing:
        raise InvalidInputError(f"the table has no column {missing[0]!r}")
    unit = schema.privacy_unit
    review_valid = schema.review is not None and schema.review.fingerprint == schema.content_fingerprint()

    # the same person-level bound as every fit, before anything is measured
    keep = list(dict.fromkeys([*wanted, *([unit.person_column] if unit.person_column else [])]))
    bounded = bound_rows_per_person(frame[keep], unit).frame
    data = {n: pl.Series(n, [normalise_category(v) for v in bounded[n]], dtype=pl.String) for n in wanted}
    budget = PrivacyBudget.from_epsilon(float(epsilon), delta)
    context = dp.Context.compositor(
        data=pl.LazyFrame(data),
        privacy_unit=dp.unit_of(contributions=unit.max_rows),
        privacy_loss=dp.loss_of(rho=budget.rho, delta=delta),
        margins=[dp.polars.Margin(max_length=MAX_ROWS)],
    )
    # a hair below the even share (SLACK): OpenDP's composition of even parts rounds upwards
    part = {"rho": budget.rho * (1 - SLACK) / len(wanted), "delta": delta * (1 - SLACK) / len(wanted)}
    out = schema
    per_column: dict[str, Any] = {}
    for name, k in wanted.items():
        # unsigned counts: a value is released only when its noisy count clears the threshold
        query = context.query(**part).group_by(name).agg(dp.len(signed=False))
        threshold = int(query.summarize()["threshold"][0])  # public: depends on ρ, δ and the unit only
        rho_used, delta_used = query.resolve().map(unit.max_rows)  # OpenDP's own privacy map
        released = query.release().collect()
        old = schema.column(name)
        other = old.top_k.other if old.top_k is not None else OTHER_LABEL
        keys = released[name].to_list()
        noisy = released["len"].to_numpy().astype(np.int64)
        ranked = [keys[i] for i in np.argsort(-noisy, kind="stable") if keys[i] is not None and keys[i] != other]
        chosen = sorted(ranked[:k])  # sorted: the order of noisy counts is not needed downstream
        spent = TopK(k=k, other=other, rho=float(rho_used), delta=float(delta_used),
                     epsilon=PrivacyBudget.from_rho(float(rho_used)).epsilon(delta) if rho_used > 0 else 0.0)
        col = replace(
            old, categories=tuple(chosen) + (other,), top_k=spent,
            read_from_data=tuple(p for p in old.read_from_data if p != "categories"),
        )
        out = out.replace_column(col)
        per_column[name] = {"k": k, "kept": len(chosen), "rho": float(rho_used), "delta": float(delta_used),
                            "epsilon": spent.epsilon, "key_threshold": threshold}
    if review_valid:
        # the reviewed data-read values are untouched; only DP-released categories changed
        out = replace(out, review=replace(schema.review, fingerprint=out.content_fingerprint()))
    accounting = {
        "mechanism": "OpenDP key-set thresholding (integer Gaussian noise), k largest released counts",
        "epsilon": float(epsilon), "delta": delta, "rho": budget.rho,
        "contributions": unit.max_rows, "columns": per_column,
    }
    return out, accounting
