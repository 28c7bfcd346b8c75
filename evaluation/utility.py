"""Utility metrics: marginals, pairwise association, TSTR/TRTR and SDMetrics' quality score.

Binning: every column is encoded with :func:`synthgen.encoding.encode_column`, i.e. numeric and
datetime columns are binned exactly as the schema declares and categories are the schema's.
A value that does not fit the schema (code -1: a missing value in a non-nullable column or an
unknown category) is kept as one extra value of its own, so that it shows up as a difference
rather than silently disappearing.

* TVD of a marginal is ``0.5 * sum |p_real - p_syn|`` over its cells; every 1-, 2- and 3-way
  marginal of the evaluated columns is measured; the report gives the mean and the mean of the
  10 worst per order, and the worst marginals themselves.
* Association: Pearson correlation for numeric/datetime pairs (pairwise complete rows),
  Cramér's V on the schema codes for every other pair (numeric columns binned as declared).
  An undefined association (a constant column) counts as 0.
* TSTR/TRTR: scikit-learn HistGradientBoosting trained on the synthetic table (TSTR) or on the
  training table (TRTR), both with the same number of rows (the smaller of the two, at most
  :data:`MAX_MODEL_ROWS`), and both tested on the control table, which neither has seen.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthgen.encoding import _to_seconds, encode_column
from synthgen.schema import Column, normalise_category

MAX_MODEL_ROWS = 50_000
SDMETRICS_ROWS = 5_000
WORST_K = 10


@dataclass(frozen=True)
class Coded:
    """Codes (n × k) of the evaluated columns; code -1 remapped to ``cardinality``."""

    codes: np.ndarray
    cards: tuple[int, ...]
    labels: tuple[tuple[str, ...], ...]


def code_table(frame: pd.DataFrame, columns: list[Column]) -> Coded:
    cols, cards, labels = [], [], []
    for col in columns:
        codes, _ = encode_column(col, frame[col.name].reset_index(drop=True))
        card = col.cardinality
        cols.append(np.where(codes < 0, card, codes))
        cards.append(card + 1)
        labels.append(tuple(col.value_labels()) + ("<outside schema>",))
    mat = np.column_stack(cols) if cols else np.zeros((len(frame), 0), dtype=np.int64)
    return Coded(mat.astype(np.int64), tuple(cards), tuple(labels))


def _joint(codes: np.ndarray, idx: tuple[int, ...], cards: tuple[int, ...]) -> np.ndarray:
    key = np.zeros(len(codes), dtype=np.int64)
    size = 1
    for i in idx:
        key = key * cards[i] + codes[:, i]
        size *= cards[i]
    return key, size


def _probabilities(key: np.ndarray, size: int) -> dict | np.ndarray:
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


def marginal_tvds(real: Coded, syn: Coded, max_order: int = 3) -> dict[int, list[tuple[tuple[int, ...], float]]]:
    """TVD of every 1-, 2- and 3-way marginal, keyed by order."""
    k = real.codes.shape[1]
    out: dict[int, list[tuple[tuple[int, ...], float]]] = {}
    for order in range(1, max_order + 1):
        rows = []
        for idx in itertools.combinations(range(k), order):
            kr, size = _joint(real.codes, idx, real.cards)
            ks, _ = _joint(syn.codes, idx, syn.cards)
            rows.append((idx, _tvd(_probabilities(kr, size), _probabilities(ks, size))))
        out[order] = rows
    return out


def marginal_figure(real: Coded, syn: Coded, idx: tuple[int, ...], names: list[str], max_cells: int = 30) -> dict:
    """Side-by-side distribution of one marginal (the ``max_cells`` heaviest cells)."""
    kr, size = _joint(real.codes, idx, real.cards)
    ks, _ = _joint(syn.codes, idx, syn.cards)
    cells = np.union1d(np.unique(kr), np.unique(ks))
    pr = pd.Series(kr).value_counts(normalize=True).reindex(cells, fill_value=0.0).to_numpy()
    ps = pd.Series(ks).value_counts(normalize=True).reindex(cells, fill_value=0.0).to_numpy()
    order = np.argsort(-np.maximum(pr, ps), kind="stable")[:max_cells]
    labels = []
    for cell in cells[order]:
        parts = []
        rest = int(cell)
        for i in reversed(idx):
            parts.append(real.labels[i][rest % real.cards[i]])
            rest //= real.cards[i]
        labels.append(" | ".join(reversed(parts)))
    return {
        "columns": [names[i] for i in idx],
        "labels": labels,
        "real": pr[order].tolist(),
        "synthetic": ps[order].tolist(),
    }


# -- association --------------------------------------------------------------------------
def _numeric_values(col: Column, series: pd.Series) -> np.ndarray:
    if col.kind == "datetime":
        return _to_seconds(series.reset_index(drop=True))
    return pd.to_numeric(series.reset_index(drop=True), errors="coerce").to_numpy(dtype=float)


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


def association_matrix(frame: pd.DataFrame, coded: Coded, columns: list[Column]) -> np.ndarray:
    k = len(columns)
    numeric = [c.kind in ("numeric", "datetime") for c in columns]
    values = [(_numeric_values(c, frame[c.name]) if numeric[i] else None) for i, c in enumerate(columns)]
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
            cols.append(_numeric_values(col, frame[col.name]))
            is_cat.append(False)
        else:
            codes, _ = encode_column(col, frame[col.name].reset_index(drop=True))
            codes = np.where(codes < 0, col.cardinality, codes).astype(float)
            cols.append(codes)
            is_cat.append(col.cardinality + 1 <= 255)
    return np.column_stack(cols), is_cat


def _target(frame: pd.DataFrame, col: Column) -> np.ndarray:
    if col.kind in ("numeric", "datetime"):
        return _numeric_values(col, frame[col.name])
    codes, _ = encode_column(col, frame[col.name].reset_index(drop=True))
    return np.where(codes < 0, col.cardinality, codes)


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
        if regression:
            ok = ~np.isnan(y)
            X, y = X[ok], y[ok]
            model = HistGradientBoostingRegressor(categorical_features=np.array(cat), early_stopping=True, random_state=seed)
        else:
            model = HistGradientBoostingClassifier(categorical_features=np.array(cat), early_stopping=True, random_state=seed)
        if len(y) < 10 or (not regression and len(np.unique(y)) < 2):
            flags.append(f"{label}: the training rows do not have two target classes or ten target values")
            results[label] = None
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X, y)
        results[label] = model
    if regression:
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
            out[col.name] = _numeric_values(col, frame[col.name])
        else:
            out[col.name] = frame[col.name].reset_index(drop=True).map(normalise_category).astype(object)
    return pd.DataFrame(out)


def sdmetrics_quality(real: pd.DataFrame, syn: pd.DataFrame, columns: list[Column], seed: int) -> dict:
    """SDMetrics' QualityReport score on at most :data:`SDMETRICS_ROWS` rows of each table."""
    rng = np.random.default_rng(seed)
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
    return {"score": score, "properties": props, "rows": [len(r), len(s)]}
