"""Privacy-risk metrics: anonymeter attacks, distance to closest record, exact copies.

Reproducibility. anonymeter 1.1.0 draws from several generators it does not expose: pandas'
``DataFrame.sample`` (numpy's legacy global state), polars' ``DataFrame.sample`` (polars' global
seed) and an unseeded ``np.random.default_rng()`` for the linkability baseline. Every attack
therefore runs inside :func:`controlled_anonymeter`, which (under a process-wide lock) seeds
numpy's legacy global state and polars' seed from ``rng`` (and replaces anonymeter's size-correction
sampling by the same procedure with explicit polars seeds, and its univariate and baseline query
builders by the same builders with a fixed polars group/unique order), restores numpy's previous state
afterwards, and captures anonymeter's log warnings and Python warnings. The singling-out
evaluator gets an explicit seed, and the linkability baseline is redrawn from ``rng``.

Speed. anonymeter's nearest-neighbour search (numba, one query row at a time, a full argsort
of all candidates per query) is swapped, inside the same context, for a numpy implementation of
the *same* Gower-style distance (L1 on range-scaled numbers, 0/1 on categories, anonymeter's
NaN rules) that returns the nearest candidate, lowest index first among ties.
Multivariate singling-out query generation is bounded by ``max_attempts = 10 × n_attacks``
(a deterministic bound; a wall-clock bound would break reproducibility).

Any anonymeter warning (too few queries generated, attack no better than the baseline,
100 % control success) is recorded in the metric's ``details["flags"]``, which makes the
policy verdict ``inconclusive``.

Distance to closest record (DCR). Rows are one-hot encoded on the schema's categories/bins
(each categorical mismatch contributes 1 to the squared distance) and numeric/datetime values
are scaled to [0, 1] by the schema bounds. Up to :data:`DCR_MAX_SYNTHETIC` synthetic rows are
compared with equally many training and control rows (the smaller of the two tables, at most
:data:`DCR_MAX_REFERENCE`), so that neither side wins by being larger. ``dcr_share`` is the
share of synthetic rows strictly closer to the training sample than to the control sample, ties
counting one half; about 0.5 means the synthesizer did not memorise. NNDR is the ratio of the
distances to the nearest and second-nearest training rows (0 = an isolated training row was
reproduced; 1 when both distances are 0).
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import warnings
from typing import Any, Iterator

import numpy as np
import pandas as pd

from synthgen.encoding import _to_seconds, encode_column
from synthgen.schema import Column, normalise_category

DCR_MAX_SYNTHETIC = 10_000
DCR_MAX_REFERENCE = 20_000
MULTIVARIATE_N_COLS = 4
MAX_ATTEMPTS_FACTOR = 10
CONFIDENCE = 0.95
MISSING = "<missing>"

_LOCK = threading.RLock()


# -- anonymeter control --------------------------------------------------------------------
def _fast_nearest_neighbors(queries, candidates, cat_cols_index, n_neighbors):
    """Drop-in for anonymeter's numba ``_nearest_neighbors`` (same distance, see module doc)."""
    cand = np.asarray(candidates, dtype=float)
    idx = np.zeros((queries.shape[0], n_neighbors), dtype=np.int64)
    dists = np.zeros((queries.shape[0], n_neighbors), dtype=np.float64)
    c_nan = np.isnan(cand)
    for i, row in enumerate(np.asarray(queries, dtype=float)):
        r_nan = np.isnan(row)
        num = np.abs(cand[:, :cat_cols_index] - row[:cat_cols_index])
        num[c_nan[:, :cat_cols_index] & r_nan[:cat_cols_index]] = 1.0
        cat = (cand[:, cat_cols_index:] != row[cat_cols_index:]).sum(axis=1)
        dist = num.sum(axis=1) + cat
        key = np.where(np.isnan(dist), np.inf, dist)
        if n_neighbors == 1:
            best = np.array([int(np.argmin(key))])
        else:
            best = np.argsort(key, kind="stable")[:n_neighbors]
        idx[i] = best
        dists[i] = dist[best]
    return idx, dists


def _seeded_measure_queries_success(seed: int):
    """anonymeter's ``_measure_queries_success`` with explicit polars sampling seeds (polars'
    global seed does not make ``DataFrame.sample`` reproducible across its thread pool)."""
    from anonymeter.evaluators.singling_out_evaluator import _evaluate_queries

    def measure(df, queries, n_repeat, n_meas):
        sizes, successes = [], []
        min_rows = min(1000, len(df))
        k = 0
        for n_rows in np.linspace(min_rows, len(df), n_meas).astype(int):
            for _ in range(n_repeat):
                sample = df.sample(int(n_rows), with_replacement=False, seed=(seed + k) % (2**32))
                successes.append(len(_evaluate_queries(df=sample, queries=queries)))
                sizes.append(n_rows)
                k += 1
        return np.array(sizes), np.array(successes)

    return measure


def _ordered_univariate_queries(df, n_queries, rng):
    """anonymeter's ``univariate_singling_out_queries`` with ``group_by(..., maintain_order=True)``:
    polars' default group order varies from run to run, which made the query set irreproducible."""
    import polars as pl
    from anonymeter.evaluators.singling_out_evaluator import UniqueSinglingOutQueries

    queries = []
    schema = df.schema
    for col in df.columns:
        if df.select(pl.col(col).is_null().sum()).item() == 1:
            queries.append(pl.col(col).is_null())
        if schema[col].is_numeric() and df[col].drop_nulls().len() > 0:
            queries.extend([pl.col(col) <= df[col].min(), pl.col(col) >= df[col].max()])
        counts = df.group_by(col, maintain_order=True).len()
        rare = counts.filter(pl.col("len") == 1).select(col).to_series().to_list()
        queries.extend([pl.col(col) == val for val in rare])
    rng.shuffle(queries)
    unique = UniqueSinglingOutQueries(max_size=n_queries)
    unique.check_and_extend(queries, df)
    return unique.queries


def _ordered_random_queries(df, n_queries, n_cols, rng):
    """anonymeter's baseline ``_random_queries`` with ``unique(maintain_order=True)`` (same reason)."""
    from anonymeter.evaluators.singling_out_evaluator import _convert_polars_dtype, _random_query

    unique_values = {col: df[col].unique(maintain_order=True).to_list() for col in df.columns}
    column_types = {col: _convert_polars_dtype(df[col].dtype) for col in df.columns}
    queries = []
    for _ in range(n_queries):
        cols = rng.choice(df.columns, size=n_cols, replace=False).tolist()
        queries.append(_random_query(unique_values=unique_values, cols=cols, column_types=column_types, rng=rng))
    return queries


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def controlled_anonymeter(seed: int) -> Iterator[list[str]]:
    """Seed anonymeter's hidden generators, swap in the fast NN search, capture warnings.

    Yields a list that collects every warning message raised inside the block.
    """
    import polars as pl

    import anonymeter.evaluators  # noqa: F401  (import order: avoids anonymeter's import cycle)
    from anonymeter.evaluators import singling_out_evaluator as soe
    from anonymeter.neighbors import mixed_types_kneighbors as mtk

    with _LOCK:
        state = np.random.get_state()
        original_nn = mtk._nearest_neighbors
        original_measure = soe._measure_queries_success
        original_univariate = soe.univariate_singling_out_queries
        original_random = soe._random_queries
        logger = logging.getLogger("anonymeter")
        handler = _Capture()
        old_propagate = logger.propagate
        logger.addHandler(handler)
        logger.propagate = False
        np.random.seed(seed % (2**32))
        pl.set_random_seed(seed % (2**32))
        mtk._nearest_neighbors = _fast_nearest_neighbors
        soe._measure_queries_success = _seeded_measure_queries_success(seed)
        soe.univariate_singling_out_queries = _ordered_univariate_queries
        soe._random_queries = _ordered_random_queries
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                messages: list[str] = []
                yield messages
            messages.extend(handler.messages)
            messages.extend(str(w.message) for w in caught)
        finally:
            mtk._nearest_neighbors = original_nn
            soe._measure_queries_success = original_measure
            soe.univariate_singling_out_queries = original_univariate
            soe._random_queries = original_random
            logger.removeHandler(handler)
            logger.propagate = old_propagate
            np.random.set_state(state)


def attack_frame(frame: pd.DataFrame, columns: list[Column]) -> pd.DataFrame:
    """The table as anonymeter sees it: columns renamed ``c0..ck`` (any original name works),
    categories as text with missing as ``<missing>``, numbers and datetimes as floats."""
    out = {}
    for i, col in enumerate(columns):
        values = frame[col.name].reset_index(drop=True)
        if col.kind == "numeric":
            out[f"c{i}"] = pd.to_numeric(values, errors="coerce").astype(float)
        elif col.kind == "datetime":
            out[f"c{i}"] = _to_seconds(values)
        else:
            out[f"c{i}"] = values.map(lambda v: normalise_category(v) or MISSING).astype(object)
    return pd.DataFrame(out)


def _unique_dedup(messages: list[str]) -> list[str]:
    seen: list[str] = []
    for m in messages:
        if m not in seen:
            seen.append(m)
    return seen


def _risk_result(results: Any, flags: list[str], extra: dict) -> dict:
    risk = results.risk()
    attack = results.attack_rate
    baseline = results.baseline_rate
    control = results.control_rate
    return {
        "value": float(risk.value),
        "interval": (float(risk.ci[0]), float(risk.ci[1])),
        "details": {
            "attack_rate": float(attack.value),
            "attack_error": float(attack.error),
            "baseline_rate": float(baseline.value),
            "baseline_error": float(baseline.error),
            "control_rate": None if control is None else float(control.value),
            "control_error": None if control is None else float(control.error),
            "n_attacks": int(results.n_attacks_ori),
            "n_success": int(results.n_success),
            "n_baseline": int(results.n_baseline),
            "n_control": None if results.n_control is None else float(results.n_control),
            "confidence_level": CONFIDENCE,
            "flags": _unique_dedup(flags),
            **extra,
        },
    }


def singling_out(train: pd.DataFrame, syn: pd.DataFrame, control: pd.DataFrame, mode: str, n_attacks: int, seed: int) -> dict:
    from anonymeter.evaluators import SinglingOutEvaluator

    n_cols = min(MULTIVARIATE_N_COLS, train.shape[1])
    with controlled_anonymeter(seed) as messages:
        ev = SinglingOutEvaluator(
            ori=train, syn=syn, control=control, n_attacks=n_attacks, n_cols=n_cols,
            max_attempts=MAX_ATTEMPTS_FACTOR * n_attacks, seed=seed,
        )
        ev.evaluate(mode=mode)
        results = ev.results(confidence_level=CONFIDENCE)
    extra = {"mode": mode, "n_queries": len(ev.queries())}
    if mode == "multivariate":
        extra.update(n_cols=n_cols, max_attempts=MAX_ATTEMPTS_FACTOR * n_attacks)
    return _risk_result(results, messages, extra)


def linkability_columns(columns: list[Column], card: dict[str, int]) -> tuple[list[int], list[int]]:
    """Split the auxiliary columns (quasi-identifiers, then attributes; most distinct values first)
    alternately into the attacker's two datasets, so that each holds about half the QIs."""
    qis = [i for i, c in enumerate(columns) if c.role == "quasi_identifier"]
    attrs = [i for i, c in enumerate(columns) if c.role == "attribute"]
    order = sorted(qis, key=lambda i: -card[columns[i].name]) + sorted(attrs, key=lambda i: -card[columns[i].name])
    return order[0::2], order[1::2]


def linkability(train: pd.DataFrame, syn: pd.DataFrame, control: pd.DataFrame, aux: tuple[list[str], list[str]], n_attacks: int, seed: int) -> dict:
    from anonymeter.evaluators import LinkabilityEvaluator
    from anonymeter.evaluators.linkability_evaluator import LinkabilityIndexes

    rng = np.random.default_rng(seed)
    n = min(n_attacks, len(train), len(control))
    targets = train.iloc[np.sort(rng.choice(len(train), size=n, replace=False))].reset_index(drop=True)
    ctargets = control.iloc[np.sort(rng.choice(len(control), size=n, replace=False))].reset_index(drop=True)
    with controlled_anonymeter(seed) as messages:
        ev = LinkabilityEvaluator(ori=targets, syn=syn, aux_cols=(list(aux[0]), list(aux[1])), n_attacks=n, control=ctargets, n_neighbors=1)
        ev.evaluate(n_jobs=1)
        # anonymeter draws its random-guess baseline from an unseeded generator: redraw it from rng.
        ev._baseline_links = LinkabilityIndexes(
            idx_0=rng.integers(0, len(syn), size=(n, 1)), idx_1=rng.integers(0, len(syn), size=(n, 1))
        )
        results = ev.results(confidence_level=CONFIDENCE)
    return _risk_result(results, messages, {"n_neighbors": 1})


def inference(train: pd.DataFrame, syn: pd.DataFrame, control: pd.DataFrame, aux: list[str], secret: str, regression: bool, n_attacks: int, seed: int) -> dict:
    from anonymeter.evaluators import InferenceEvaluator

    with controlled_anonymeter(seed) as messages:
        ev = InferenceEvaluator(
            ori=train, syn=syn, control=control, aux_cols=list(aux), secret=secret,
            regression=regression, n_attacks=n_attacks,
        )
        ev.evaluate(n_jobs=1)
        results = ev.results(confidence_level=CONFIDENCE)
    return _risk_result(results, messages, {"regression": regression})


# -- DCR / NNDR / exact copies ---------------------------------------------------------------
def dcr_features(frame: pd.DataFrame, columns: list[Column]) -> np.ndarray:
    blocks = []
    for col in columns:
        values = frame[col.name].reset_index(drop=True)
        if col.kind in ("numeric", "datetime"):
            nums = _to_seconds(values) if col.kind == "datetime" else pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
            edges = col.edges()
            lo, hi = edges[0], edges[-1]
            missing = np.isnan(nums)
            scaled = (np.clip(np.where(missing, lo, nums), lo, hi) - lo) / (hi - lo)
            blocks.append(scaled[:, None])
            if missing.any() or col.nullable:
                blocks.append(missing.astype(float)[:, None])
        else:
            codes, _ = encode_column(col, values)
            card = col.cardinality + 1
            codes = np.where(codes < 0, card - 1, codes)
            onehot = np.zeros((len(codes), card))
            onehot[np.arange(len(codes)), codes] = 1.0 / math.sqrt(2.0)
            blocks.append(onehot)
    return np.hstack(blocks).astype(np.float32)


def _nearest(reference: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=min(k, len(reference)), algorithm="brute", n_jobs=2)
    nn.fit(reference)
    dists, _ = nn.kneighbors(queries)
    # float32 GEMM round-off: treat distances below 1e-3 as exact zeros.
    dists = np.where(dists < 1e-3, 0.0, dists)
    return dists


def dcr(train: pd.DataFrame, syn: pd.DataFrame, control: pd.DataFrame, columns: list[Column], rng: np.random.Generator) -> dict:
    n_syn = min(len(syn), DCR_MAX_SYNTHETIC)
    m = min(len(train), len(control), DCR_MAX_REFERENCE)
    pick = lambda f, k: f.iloc[np.sort(rng.choice(len(f), size=k, replace=False))] if len(f) > k else f
    s = dcr_features(pick(syn, n_syn), columns)
    tr = dcr_features(pick(train, m), columns)
    co = dcr_features(pick(control, m), columns)
    d_tr = _nearest(tr, s, 2)
    d_co = _nearest(co, s, 2)
    closer = np.where(d_tr[:, 0] < d_co[:, 0], 1.0, np.where(d_tr[:, 0] == d_co[:, 0], 0.5, 0.0))
    share = float(closer.mean())
    half = 1.959963984540054 * math.sqrt(max(share * (1 - share), 1e-12) / len(closer))

    def nndr(d: np.ndarray) -> np.ndarray:
        if d.shape[1] < 2:
            return np.ones(len(d))
        return np.where(d[:, 1] > 0, d[:, 0] / np.where(d[:, 1] > 0, d[:, 1], 1.0), 1.0)

    r_tr, r_co = nndr(d_tr), nndr(d_co)
    return {
        "share": share,
        "interval": (max(0.0, share - half), min(1.0, share + half)),
        "synthetic_rows": int(len(s)),
        "reference_rows": int(m),
        "ties": float(np.mean(d_tr[:, 0] == d_co[:, 0])),
        "dcr_train_median": float(np.median(d_tr[:, 0])),
        "dcr_control_median": float(np.median(d_co[:, 0])),
        "dcr_train_p05": float(np.quantile(d_tr[:, 0], 0.05)),
        "dcr_control_p05": float(np.quantile(d_co[:, 0], 0.05)),
        "nndr_train_mean": float(r_tr.mean()),
        "nndr_control_mean": float(r_co.mean()),
        "nndr_train_p05": float(np.quantile(r_tr, 0.05)),
        "nndr_control_p05": float(np.quantile(r_co, 0.05)),
    }


def row_keys(frame: pd.DataFrame, columns: list[Column]) -> np.ndarray:
    """A 64-bit hash per row of the normalised values of ``columns`` (for exact-match tests)."""
    norm = {}
    for col in columns:
        values = frame[col.name].reset_index(drop=True)
        if col.kind == "numeric":
            norm[col.name] = pd.to_numeric(values, errors="coerce").astype(float)
        elif col.kind == "datetime":
            norm[col.name] = pd.Series(_to_seconds(values))
        else:
            norm[col.name] = values.map(normalise_category).astype(object)
    if not norm:
        return np.zeros(len(frame), dtype=np.uint64)
    return pd.util.hash_pandas_object(pd.DataFrame(norm), index=False).to_numpy()


def exact_copies(train_keys: np.ndarray, syn_keys: np.ndarray, control_keys: np.ndarray) -> dict:
    in_train = np.isin(syn_keys, train_keys)
    n = len(syn_keys)
    rate = float(in_train.mean()) if n else 0.0
    return {
        "rate": rate,
        "count": int(in_train.sum()),
        "synthetic_rows": int(n),
        "control_in_train_rate": float(np.isin(control_keys, train_keys).mean()) if len(control_keys) else 0.0,
    }
