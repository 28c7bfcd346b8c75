"""Top-k categories with "other", chosen with differential privacy and paid from the budget.

A column with hundreds of values (diagnosis codes, specialties, free-text categories) cannot be
modelled value by value, and listing the values seen in the data would leak which ones occur.
A column may instead declare ``"top_k": {"k": 30}``: its categories are then the (at most) k most
frequent values, *selected with OpenDP* on the private table, plus one category ``<other>`` that
every other value is mapped to (a row-wise map once the categories are fixed: it costs nothing).

The selection is OpenDP's key-set thresholding (``group_by(column).agg(dp.len())`` in a zCDP
context with δ): each value's count gets integer Gaussian noise and a value is released only when
its noisy count clears a threshold calibrated to δ, so a value held by one person is not released
(except with probability δ). The k largest released noisy counts are kept; choosing them from
released counts is post-processing. The spend is the context's (ρ, δ): it is recorded in the
column's ``top_k`` (``rho``, ``delta``, ``epsilon``) and must be charged to the dataset's budget
like any release (the CLI prints it; the platform charges it before the table is read).

The selection itself is synthgen.topk_select (this module is the declaration, which the schema
parses). The privacy unit is the schema's: with a person column, at most ``max_rows`` rows per person are
kept (synthgen.encoding.bound_rows_per_person) and OpenDP is told ``contributions = max_rows``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from synthgen.errors import SchemaError

#: Most categories a top-k column may keep (one more, ``<other>``, is added).
MAX_TOP_K = 500
OTHER_LABEL = "<other>"


@dataclass(frozen=True)
class TopK:
    """A column's top-k declaration and, once selected, what the selection spent.

    ``rho``/``delta`` are OpenDP's privacy map of this column's selection (zCDP ρ plus the δ of
    key thresholding) and ``epsilon`` the same in user terms (ε at that δ); all three are None
    until ``select_top_k`` has run."""

    k: int
    other: str = OTHER_LABEL
    rho: float | None = None
    delta: float | None = None
    epsilon: float | None = None

    @property
    def selected(self) -> bool:
        return self.rho is not None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"k": self.k}
        if self.other != OTHER_LABEL:
            out["other"] = self.other
        if self.selected:
            out.update(rho=self.rho, delta=self.delta, epsilon=self.epsilon)
        return out


def check_k(where: str, k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_TOP_K:
        raise SchemaError(f"{where} ({k!r}) must be a whole number between 1 and {MAX_TOP_K}")
    return k


def parse_top_k(column: str, value: Any) -> TopK:
    """A column's ``top_k`` field: ``{"k": 30}`` (declared) or with ``rho``/``delta``/``epsilon`` (selected)."""
    if isinstance(value, TopK):
        check_k(f"column '{column}': top_k.k", value.k)
        return value
    if not isinstance(value, dict):
        raise SchemaError(f"column '{column}': top_k ({value!r}) must be an object such as {{\"k\": 30}}")
    unknown = sorted(set(value) - {"k", "other", "rho", "delta", "epsilon"})
    if unknown:
        raise SchemaError(f"column '{column}': top_k has unknown field(s) {', '.join(unknown)}")
    k = check_k(f"column '{column}': top_k.k", value.get("k"))
    other = value.get("other", OTHER_LABEL)
    if not isinstance(other, str) or not other.strip():
        raise SchemaError(f"column '{column}': top_k.other ({other!r}) must be non-empty text")
    spent = [value.get(f) for f in ("rho", "delta", "epsilon")]
    if any(v is not None for v in spent):
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0 for v in spent):
            raise SchemaError(f"column '{column}': top_k rho, delta and epsilon must all be numbers >= 0 once selected")
        return TopK(k=k, other=other, rho=float(spent[0]), delta=float(spent[1]), epsilon=float(spent[2]))
    return TopK(k=k, other=other)
