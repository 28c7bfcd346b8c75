"""Utility metrics: marginals, per-column distances, association, TSTR/TRTR and SDMetrics' score.

Everything is measured on the fixed discretisation of :mod:`evaluation.discretise` (quantile
bins of the real training table, exact values for columns with few distinct values, the schema's
categories), never on the schema's own bins; a value the schema cannot hold is left out of
every marginal involving its column (so no output reveals that such values exist).

* TVD of a marginal is ``0.5 * sum |p_real - p_syn|`` over its cells; every 1- and 2-way
  marginal is measured, and 3-way marginals on all column triples up to
  :data:`MAX_3WAY_MARGINALS` (beyond that a uniform sample of that many triples, drawn from the
  evaluation's ``rng``). The report gives the mean, the worst 1-way marginal and the mean of the
  10 worst per order.
* Per numeric column: the Kolmogorov-Smirnov distance (largest gap between the two cumulative
  distributions, 0..1) on the values clipped to the schema bounds: it sees errors at any
  resolution, inside bins too.
* Association: Pearson correlation for numeric/datetime pairs (pairwise complete rows),
  Cramér's V on the fixed discretisation for every other pair. An undefined association (a
  constant column) counts as 0.
* TSTR/TRTR: scikit-learn HistGradientBoosting trained on the synthetic table (TSTR) or on the
  training table (TRTR), both with the same number of rows (the smaller of the two, at most
  :data:`MAX_MODEL_ROWS`), both tested on the control table, which neither has seen. Both scores
  are reported beside their ratio, and the AUC's *skill ratio* ``(AUC_tstr - 0.5) / (AUC_trtr - 0.5)``
  (the share of the real model's advantage over chance that the synthetic model keeps): a plain
  AUC ratio of 0.78 can hide a synthetic model that kept only half of it (0.72 against 0.91).
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd

from evaluation.discretise import Coded, ColumnBins, numeric_values
from synthgen.encoding import encode_column, normalised
from synthgen.schema import Column

MAX_MODEL_ROWS = 10_000
MODEL_MAX_ITER = 60
SDMETRICS_ROWS = 5_000
SDMETRICS_MAX_COLUMNS = 30
MAX_3WAY_MARGINALS = 500
WORST_K = 10


def _joint(codes: np.ndarray, idx: tuple[int, ...], cards: tuple[int, ...]) -> tuple[np.ndarray, int]:
    """One key per row for the marginal on ``idx``; rows with a left-out value get key -1."""
    key = np.zeros(len(codes), dtype=np.int64)
    bad = np.zeros(len(codes), dtype=bool)
    size = 1
    for i in idx:
        c = codes[:, i]
        bad |= c < 0
        key = key * cards[i] + np.maximum(c, 0)
        size *= cards[i]
    return np.where(bad, -1, key), size


def _probabilities(key: np.ndarray, size: int) -> dict | np.ndarray:
    key = key[key >= 0]
    if size <= 2_000_000:
        counts = np.bincount(key, minlength=size).astype(float)
        return counts / max(len(key), 1)
    uniq, counts = np.unique(key, return_counts=True)
    return dict(zip(uniq.tolist(), (counts / max(len(key), 1)).tolist()))


def _tvd(p, q) -> float:
    if isinstance(p, np.ndarray):
        return float(0.5 * np.abs(p - q).sum())
    keys = set(p) | set(q)
    return float(0.5 * sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in keys))


def marginal_tvds(real: Coded, syn: Coded, rng: np.random.Generator, max_order: int = 3) -> dict[int, list[tuple[tuple[int, ...], float]]]:
    """TVD of the 1-, 2- and (up to :data:`MAX_3WAY_MARGINALS`) 3-way marginals, keyed by order."""
    k = real.codes.shape[1]
    out: dict[int, list[tuple[tuple[int, ...], float]]] = {}
    for order in range(1, max_order + 1):
        combos = list(itertools.combinations(range(k), order))
        if order == 3 and len(combos) > MAX_3WAY_MARGINALS:
            pick = np.sort(rng.choice(len(combos), size=MAX_3WAY_MARGINALS, replace=False))
            combos = [combos[i] for i in pick]
        rows = []
        for idx in combos:
            kr, size = _joint(real.codes, idx, real.cards)
            ks, _ = _joint(syn.codes, idx, syn.cards)
            rows.append((idx, _tvd(_probabilities(kr, size), _probabilities(ks, size))))
        out[order] = rows
    return out


def column_distribution(real: Coded, syn: Coded, i: int) -> dict:
    """Real and synthetic shares of every cell of column ``i`` (left-out values excluded)."""
    pr = _probabilities(real.codes[:, i], real.cards[i])
    ps = _probabilities(syn.codes[:, i], syn.cards[i])
    keep = np.flatnonzero((pr > 0) | (ps > 0))
    return {"labels": [real.labels[i][j] for j in keep], "real": pr[keep].tolist(), "synthetic": ps[keep].tolist()}


def ks_distance(col: Column, real: pd.DataFrame, syn: pd.DataFrame) -> float | None:
    """Kolmogorov-Smirnov distance of a numeric/datetime column (values clipped to the bounds)."""
    x = numeric_values(col, real[col.name])
    y = numeric_values(col, syn[col.name])
    x, y = np.sort(x[~np.isnan(x)]), np.sort(y[~np.isnan(y)])
    if not len(x) or not len(y):
        return None
    grid = np.concatenate([x, y])
    cdf_x = np.searchsorted(x, grid, side="right") / len(x)
    cdf_y = np.searchsorted(y, grid, side="right") / len(y)
    return float(np.abs(cdf_x - cdf_y).max())


# -- association --------------------------------------------------------------------------
def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    ok = ~(np.isnan(x) | np.isnan(y))
    if ok.sum() < 3:
        return 0.0
    x, y = x[ok], y[ok]
    sx, sy = x.std(), y.std()
    if sx == 0 or sy == 0:
        return 0.0
    return float(np.mean((x - x.mean()) * (y - y.mean())) / (sx * sy))


def _cramers_v(a: np.ndarray, b: np.ndarray, ca: int, cb: int) -> float:
    ok = (a >= 0) & (b >= 0)
    a, b = a[ok], b[ok]
    n = len(a)
    if n == 0:
        return 0.0
    table = np.bincount(a * cb + b, minlength=ca * cb).reshape(ca, cb).astype(float)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    r, c = table.shape
    if r < 2 or c < 2:
        return 0.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    return float(math.sqrt(chi2 / (n * (min(r, c) - 1))))


def association_matrix(frame: pd.DataFrame, coded: Coded, bins: list[ColumnBins]) -> np.ndarray:
    columns = [b.column for b in bins]
    k = len(columns)
    numeric = [c.kind in ("numeric", "datetime") for c in columns]
    values = [(numeric_values(c, frame[c.name]) if numeric[i] else None) for i, c in enumerate(columns)]
    mat = np.eye(k)
    for i, j in itertools.combinations(range(k), 2):
        if numeric[i] and numeric[j]:
            v = _pearson(values[i], values[j])
        else:
            v = _cramers_v(coded.codes[:, i], coded.codes[:, j], coded.cards[i], coded.cards[j])
        mat[i, j] = mat[j, i] = v
    return mat


# -- TSTR / TRTR -----------------------------------------------------------------------------
def _features(frame: pd.DataFrame, columns: list[Column]) -> tuple[np.ndarray, list[bool]]:
    cols, is_cat = [], []
    for col in columns:
        if col.kind in ("numeric", "datetime"):
            cols.append(numeric_values(col, frame[col.name]))
            is_cat.append(False)
        else:
            codes, _ = encode_column(col, frame[col.name])
            cols.append(np.where(codes < 0, np.nan, codes).astype(float))  # outside the schema: missing
            is_cat.append(col.cardinality <= 255)
    return np.column_stack(cols), is_cat


def _target(frame: pd.DataFrame, col: Column) -> np.ndarray:
    """Target values; NaN (a row left out) where the value is missing or outside the schema."""
    if col.kind in ("numeric", "datetime"):
        return numeric_values(col, frame[col.name])
    codes, _ = encode_column(col, frame[col.name])
    return np.where(codes < 0, np.nan, codes.astype(float))


def tstr(train, syn, control, features, target, seed) -> dict:
    """Scores of TSTR and TRTR on the control table; ``{"task", "scores": {name: (tstr, trtr)}, "flags"}``.

    Runs with one OpenMP/BLAS thread: on a small shared machine OpenMP spin-waiting makes
    HistGradientBoosting many times slower than single-threaded.
    """

    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return _tstr(train, syn, control, features, target, seed)


def _tstr(
    train: pd.DataFrame,
    syn: pd.DataFrame,
    control: pd.DataFrame,
    features: list[Column],
    target: Column,
    seed: int,
) -> dict:
    """Scores of TSTR and TRTR on the control table; ``{"task", "scores": {name: (tstr, trtr)}, "flags"}``."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.metrics import accuracy_score, r2_score, roc_auc_score

    regression = target.kind in ("numeric", "datetime")
    flags: list[str] = []
    n = min(len(train), len(syn), MAX_MODEL_ROWS)
    rng = np.random.default_rng(seed)
    Xte, cat = _features(control, features)
    yte = _target(control, target)
    scores: dict[str, list[float | None]] = {}
    results = {}
    for label, frame in (("tstr", syn), ("trtr", train)):
        pick = np.sort(rng.choice(len(frame), size=n, replace=False)) if len(frame) > n else np.arange(len(frame))
        sub = frame.iloc[pick]
        X, _ = _features(sub, features)
        y = _target(sub, target)
        ok = ~np.isnan(y)
        X, y = X[ok], y[ok]
        kw = dict(categorical_features=np.array(cat), early_stopping=True, max_iter=MODEL_MAX_ITER, random_state=seed)
        model = HistGradientBoostingRegressor(**kw) if regression else HistGradientBoostingClassifier(**kw)
        if len(y) < 10 or (not regression and len(np.unique(y)) < 2):
            flags.append(f"{label}: the training rows do not have two target classes or ten target values")
            results[label] = None
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X, y)
        results[label] = model
    ok = ~np.isnan(yte)
    Xte, yte = Xte[ok], yte[ok]
    task = "regression" if regression else "classification"
    for label, model in results.items():
        if model is None:
            continue
        if regression:
            scores.setdefault("r2", [None, None])[label == "trtr"] = float(r2_score(yte, model.predict(Xte)))
            continue
        pred = model.predict(Xte)
        scores.setdefault("accuracy", [None, None])[label == "trtr"] = float(accuracy_score(yte, pred))
        proba = model.predict_proba(Xte)
        classes = model.classes_
        try:
            present = np.unique(yte)
            if len(present) < 2:
                raise ValueError("the control table has only one target class")
            if len(classes) == 2:
                auc = roc_auc_score((yte == classes[1]).astype(int), proba[:, 1])
            else:
                mask = np.isin(yte, classes)
                full = np.zeros((len(yte), len(classes)))
                full[:, :] = proba
                auc = roc_auc_score(yte[mask], full[mask], multi_class="ovr", average="weighted", labels=classes)
            scores.setdefault("auc", [None, None])[label == "trtr"] = float(auc)
        except ValueError as exc:
            flags.append(f"{label}: ROC AUC undefined ({exc})")
    return {"task": task, "scores": scores, "flags": flags, "rows": n, "test_rows": int(len(yte))}


# -- SDMetrics -------------------------------------------------------------------------------
def _sdm_frame(frame: pd.DataFrame, columns: list[Column]) -> pd.DataFrame:
    out = {}
    for col in columns:
        if col.kind in ("numeric", "datetime"):
            out[col.name] = numeric_values(col, frame[col.name])
        else:
            out[col.name] = normalised(frame[col.name].reset_index(drop=True))
    return pd.DataFrame(out)


def sdmetrics_quality(real: pd.DataFrame, syn: pd.DataFrame, columns: list[Column], seed: int) -> dict:
    """SDMetrics' QualityReport score on at most :data:`SDMETRICS_ROWS` rows of each table."""
    rng = np.random.default_rng(seed)
    if len(columns) > SDMETRICS_MAX_COLUMNS:  # its pair trends grow with the square of the columns
        columns = [columns[i] for i in np.sort(rng.choice(len(columns), size=SDMETRICS_MAX_COLUMNS, replace=False))]
    pick = lambda f: f.iloc[np.sort(rng.choice(len(f), size=SDMETRICS_ROWS, replace=False))] if len(f) > SDMETRICS_ROWS else f
    r, s = _sdm_frame(pick(real), columns), _sdm_frame(pick(syn), columns)
    metadata = {"tables": {"table": {"columns": {
        c.name: {"sdtype": "numerical" if c.kind in ("numeric", "datetime") else "categorical"} for c in columns
    }}}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from sdmetrics.reports import QualityReport

        report = QualityReport()
        report.generate({"table": r}, {"table": s}, metadata, verbose=False)
        score = float(report.get_score())
        props = {row["Property"]: float(row["Score"]) for _, row in report.get_properties().iterrows()}
    return {"score": score, "properties": props, "rows": [len(r), len(s)], "columns": [c.name for c in columns]}
