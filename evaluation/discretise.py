"""The fixed discretisation on which utility is measured, independent of the schema's bins.

Why not the schema's bins: they are coarse and chosen before the data was seen, so errors
inside a bin are invisible (an income column decoded uniformly inside its top bin, or a 20-code
column decoded as continuous noise, scored as perfect). Utility is therefore measured at the
resolution of the real training table itself:

* **categorical / boolean** columns: the schema's categories (exact values);
* **numeric / datetime** columns with at most :data:`EXACT_MAX_VALUES` distinct values in the
  real training table: those exact values; a synthetic value that is none of them falls in one
  cell of its own ("other value"), so codes that do not exist show up as a difference;
* other numeric / datetime columns: :data:`QUANTILE_BINS` quantile bins of the real training
  table (edges that coincide, e.g. at a point mass such as capital-gain = 0, are merged).

Out-of-schema values. The full report must not reveal whether the real table holds values the
schema does not describe (README: nothing reveals that they exist). So every table is first
seen the way the synthesizer saw it: numbers are clipped to the schema's bounds, and a value the
schema cannot hold (an unknown category, a missing value in a non-nullable column) gets code
``-1`` and is left out of every marginal that involves its column, as the synthesizer leaves it
out of its measurements. The cells themselves never include an "outside the schema" value.

The quantile edges and exact values are statistics of the real table: they appear only in the
full report (data owner and that dataset's privacy officers), never in the ML-team rendering.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthgen.encoding import _to_seconds, encode_column
from synthgen.schema import Column

EXACT_MAX_VALUES = 50
QUANTILE_BINS = 20
OTHER = "other value"
MISSING = "missing"


def numeric_values(col: Column, series: pd.Series) -> np.ndarray:
    """Numbers of a numeric/datetime column (seconds for datetimes), clipped to the schema bounds."""
    series = series.reset_index(drop=True)
    raw = _to_seconds(series) if col.kind == "datetime" else pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    edges = col.edges()
    return np.clip(raw, edges[0], edges[-1])


def _fmt(v: float) -> str:
    """Short labels: 3 significant digits, k/M for large magnitudes (71k, 1.49M)."""
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.3g}M"
    if a >= 1e4:
        return f"{v / 1e3:.3g}k"
    return f"{v:.4g}"


@dataclass(frozen=True)
class ColumnBins:
    """How one column is cut: ``mode`` is ``category``, ``exact`` or ``quantile``."""

    column: Column
    mode: str
    points: tuple[float, ...] = ()  # exact values, or inner quantile edges
    labels: tuple[str, ...] = ()

    @property
    def cardinality(self) -> int:
        return len(self.labels)

    def codes(self, frame: pd.DataFrame) -> np.ndarray:
        """Cell of every row, ``-1`` for a value the schema cannot hold (left out)."""
        col = self.column
        if self.mode == "category":
            return encode_column(col, frame[col.name])[0].astype(np.int64)
        x = numeric_values(col, frame[col.name])
        missing = np.isnan(x)
        missing_code = len(self.labels) - 1 if col.nullable else -1
        pts = np.asarray(self.points, dtype=float)
        if self.mode == "exact":
            pos = np.clip(np.searchsorted(pts, x), 0, max(len(pts) - 1, 0))
            hit = len(pts) > 0
            match = np.isclose(pts[pos], x, rtol=1e-9, atol=1e-9) if hit else np.zeros(len(x), bool)
            codes = np.where(match, pos, len(pts))  # len(pts): the "other value" cell
        else:
            codes = np.searchsorted(pts, x, side="left")  # cell i = (edge[i-1], edge[i]]
        return np.where(missing, missing_code, codes).astype(np.int64)


def column_bins(col: Column, real: pd.DataFrame) -> ColumnBins:
    """The cells of ``col`` from the real training table (see module docstring)."""
    if col.kind in ("categorical", "boolean"):
        return ColumnBins(col, "category", (), tuple(col.value_labels()))
    x = numeric_values(col, real[col.name])
    x = x[~np.isnan(x)]
    tail = (MISSING,) if col.nullable else ()
    distinct = np.unique(x)
    if len(distinct) <= EXACT_MAX_VALUES:
        labels = tuple(_fmt(v) for v in distinct) + (OTHER,) + tail
        return ColumnBins(col, "exact", tuple(float(v) for v in distinct), labels)
    inner = np.unique(np.quantile(x, np.arange(1, QUANTILE_BINS) / QUANTILE_BINS))
    inner = inner[inner < distinct[-1]]  # an edge at the maximum would leave an empty top cell
    cells = [f"≤ {_fmt(inner[0])}"] if len(inner) else ["all values"]
    cells += [f"({_fmt(a)}, {_fmt(b)}]" for a, b in zip(inner[:-1], inner[1:])]
    if len(inner):
        cells.append(f"> {_fmt(inner[-1])}")
    return ColumnBins(col, "quantile", tuple(float(v) for v in inner), tuple(cells) + tail)


@dataclass(frozen=True)
class Coded:
    """Codes (n × k) of the evaluated columns on the fixed discretisation; ``-1`` = left out."""

    codes: np.ndarray
    cards: tuple[int, ...]
    labels: tuple[tuple[str, ...], ...]


def discretiser(real: pd.DataFrame, columns: list[Column]) -> list[ColumnBins]:
    return [column_bins(c, real) for c in columns]


def code_table(frame: pd.DataFrame, bins: list[ColumnBins]) -> Coded:
    cols = [b.codes(frame) for b in bins]
    mat = np.column_stack(cols) if cols else np.zeros((len(frame), 0), dtype=np.int64)
    # column-major: every marginal reads whole columns, which are then contiguous in memory
    return Coded(np.asfortranarray(mat, dtype=np.int64), tuple(b.cardinality for b in bins), tuple(b.labels for b in bins))
