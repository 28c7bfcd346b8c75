"""anonymeter 1.1.0, made reproducible, fast and correct: every change in one place.

Each attack of :mod:`evaluation.risk.attacks` runs inside :func:`controlled_anonymeter`, which
(under a process-wide lock) swaps the pieces below into anonymeter for the duration of the
block and puts the originals back afterwards. For each: what it fixes, and why the result is
still anonymeter's measurement.

1. **Hidden generators** (reproducibility). anonymeter draws from numpy's legacy global state
   (pandas ``DataFrame.sample``), polars' global seed and an unseeded ``default_rng()``. Fix:
   seed both globals from the evaluation's ``rng`` inside the block and restore numpy's previous
   state after it; the linkability baseline is redrawn from ``rng`` by the caller. Sound: only
   *which* random draws are made changes, not their distribution.
2. **Unordered polars groups** (reproducibility). ``group_by`` / ``unique`` return groups in a
   varying order, so the same seed gave different query sets. Fix:
   :func:`_ordered_univariate_queries` and :func:`_ordered_random_queries` are anonymeter's
   builders with ``maintain_order=True``. Sound: the same set of candidate queries, in a fixed order.
3. **Slow nearest-neighbour search** (speed). anonymeter's numba search argsorts all candidates
   for every query, one joblib task per query. Fix: :func:`_fast_nearest_neighbors` computes the
   *same* Gower-style distance (L1 on range-scaled numbers, 0/1 on categories, anonymeter's NaN
   rules) in float32 blocks, categorical matches as one matrix product, and returns the nearest
   candidate, lowest index first among ties; :func:`_fast_kneighbors` calls it once for all
   queries (linkability on Adult 26 s → 2.6 s). Sound: equal neighbours up to float32 ties
   closer than ~1e-6 (tested against anonymeter's numba search).
4. **Multivariate singling-out finds too few queries** (power). anonymeter tries random
   (row, columns) pairs and keeps those that single out; on Adult fewer than 2 % do, so 10 ×
   n_attacks attempts gave ~130 of 1,000 queries and an underestimated risk. Fix:
   :func:`_multivariate_query_generator` finds, per column combination, every synthetic row whose
   anonymeter query singles out (:func:`_singled_out_rows`, exact and vectorised), spreads the
   queries over at least :data:`MULTIVARIATE_MIN_COMBOS` combinations and examines at most
   :data:`MULTIVARIATE_MAX_COMBOS` (a deterministic bound; a wall-clock bound would break
   reproducibility). Sound: the queries are built by anonymeter's own ``_query_from_record`` and
   re-checked by its ``UniqueSinglingOutQueries``; only the search is exhaustive instead of random.
5. **Control successes shrunk by a fitted curve** (bias). anonymeter extrapolates the control's
   singling-out successes to the training size with a fitted curve that counts queries instead of
   successes and bends down beyond the measured sizes (a spurious 0.06-0.09 risk for MST output
   at a 70/30 split). Fix: :func:`_recording_correction` disables it and
   :func:`_size_corrected_control` replaces it by an exact hypergeometric expectation (see there).
   Sound: unbiased without leakage; with leakage it understates only mildly (a copy still scores 1).
6. **Warnings that are not failures** (meaning). anonymeter warns "Attack is as good or worse as
   baseline model" whenever the attack found no advantage, which on good DP releases is the
   normal, reassuring outcome (risk 0, interval [0, 0.03]). :func:`classify_messages` keeps such
   messages as *warnings* (shown in the report, not blocking a verdict) and everything else
   (100 % control success, failed queries, unknown messages) as *flags*, which make the verdict
   ``inconclusive``. A shortfall of queries is judged by its count, in :mod:`evaluation.core`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import warnings
from typing import Iterator

import numpy as np
import pandas as pd

MULTIVARIATE_N_COLS = 4


MULTIVARIATE_MAX_COMBOS = 1000


MULTIVARIATE_MIN_COMBOS = 100


MULTIVARIATE_PAIRWISE_LIMIT = 5_000_000


# query rows per block: two float32 blocks of NN_BLOCK_ROWS x candidates (100 MB at 100,000 candidates)
NN_BLOCK_ROWS = 128

# anonymeter messages that report "no attack advantage" rather than a failed measurement
NON_BLOCKING = ("Attack is as good or worse as baseline model",
                "singling out queries out of the requested",
                "instead of the requested")

_LOCK = threading.RLock()


def classify_messages(messages: list[str]) -> tuple[list[str], list[str]]:
    """``(flags, warnings)``: flags block a verdict, warnings are only shown (fix 6)."""
    flags: list[str] = []
    warns: list[str] = []
    for m in messages:
        target = warns if any(s in m for s in NON_BLOCKING) else flags
        if m not in target:
            target.append(m)
    return flags, warns


def _fast_nearest_neighbors(queries, candidates, cat_cols_index, n_neighbors, block=NN_BLOCK_ROWS):
    """Drop-in for anonymeter's numba ``_nearest_neighbors`` (same distance, see module doc).

    Categorical mismatches are counted as ``n_cat - matches`` with the matches from one float32
    matrix product of one-hot codes (exact: small integers); numeric L1 terms are added in
    float32. A NaN distance (a NaN on one side of a numeric column) never wins.
    """
    cand = np.asarray(candidates, dtype=float)
    rows = np.asarray(queries, dtype=float)
    k = int(cat_cols_index)
    n_cat = cand.shape[1] - k
    onehot_c = onehot_q = None
    if n_cat:
        both = np.concatenate([cand[:, k:], rows[:, k:]])
        inverses, widths = [], []
        for j in range(n_cat):
            col = both[:, j]
            nan = np.isnan(col)
            _, inverse = np.unique(np.where(nan, 0.0, col), return_inverse=True)
            inverses.append(np.where(nan, -1, inverse))  # a NaN category matches nothing, as in anonymeter
            widths.append(int(inverse.max()) + 1 if len(col) else 0)
        # one allocation for the whole one-hot matrix (candidates x sum of categories, the
        # largest array of the search): filled column block by column block
        onehot = np.zeros((len(both), sum(widths)), dtype=np.float32)
        offset = 0
        for inverse, width in zip(inverses, widths):
            keep = np.flatnonzero(inverse >= 0)
            onehot[keep, offset + inverse[keep]] = 1.0
            offset += width
        del both, inverses
        onehot_c, onehot_q = onehot[: len(cand)], onehot[len(cand):]
    num_c = cand[:, :k].astype(np.float32)
    num_q = rows[:, :k].astype(np.float32)
    nan_c = np.isnan(num_c)
    num_c_t = np.ascontiguousarray(num_c.T)  # one contiguous row per numeric column
    idx = np.zeros((rows.shape[0], n_neighbors), dtype=np.int64)
    dists = np.zeros((rows.shape[0], n_neighbors), dtype=np.float64)
    for start in range(0, rows.shape[0], block):
        stop = min(start + block, rows.shape[0])
        dist = np.full((stop - start, len(cand)), float(n_cat), dtype=np.float32)
        if onehot_c is not None:
            dist -= onehot_q[start:stop] @ onehot_c.T
        diff = np.empty_like(dist)  # one buffer for every numeric column (no 100 MB temporaries)
        for j in range(k):
            np.subtract(num_q[start:stop, j, None], num_c_t[j][None, :], out=diff)
            np.abs(diff, out=diff)
            nan_q = np.isnan(num_q[start:stop, j])
            if nan_q.any() and nan_c[:, j].any():
                diff[nan_q[:, None] & nan_c[None, :, j]] = 1.0
            dist += diff
        dist[np.isnan(dist)] = np.inf
        if n_neighbors == 1:
            best = np.argmin(dist, axis=1)[:, None]
        else:
            best = np.argsort(dist, axis=1, kind="stable")[:, :n_neighbors]
        idx[start:stop] = best
        dists[start:stop] = np.take_along_axis(dist, best, axis=1)
    return idx, dists


def _fast_kneighbors(self, queries, n_neighbors=None, return_distance=False):
    """anonymeter's ``MixedTypeKNeighbors.kneighbors`` (same checks and transform) with one call
    of :func:`_fast_nearest_neighbors` for all queries instead of one joblib task per query."""
    from anonymeter.neighbors import mixed_types_kneighbors as mtk
    from anonymeter.preprocessing.transformations import mixed_types_transform

    if n_neighbors is None:
        n_neighbors = self._n_neighbors
    if n_neighbors > self._candidates.shape[0]:
        mtk.logger.warning(
            f"Parameter ``n_neighbors``={n_neighbors} cannot be larger than the size of the training data "
            f"{self._candidates.shape[0]}."
        )
        n_neighbors = self._candidates.shape[0]
    if self._ctypes is None:
        self._ctypes = mtk.detect_consistent_col_types(df1=self._candidates, df2=queries)
    candidates, queries = mixed_types_transform(
        df1=self._candidates, df2=queries, num_cols=self._ctypes["num"], cat_cols=self._ctypes["cat"]
    )
    cols = self._ctypes["num"] + self._ctypes["cat"]
    indexes, distances = _fast_nearest_neighbors(
        queries[cols].values, candidates[cols].values, len(self._ctypes["num"]), n_neighbors
    )
    return (distances, indexes) if return_distance else indexes


def _recording_correction(stats: dict):
    """Stand-in for anonymeter's ``fit_correction_term``: no correction inside anonymeter (the
    queries are recorded and :func:`_size_corrected_control` replaces it afterwards)."""

    def fit(df, queries):
        stats["_queries"] = list(queries)
        return lambda n: 1.0

    return fit


def _size_corrected_control(ori, control, queries: list, n_control_raw: int) -> tuple[float, dict]:
    """Control successes at the training table's size, without a fitted model.

    anonymeter 1.1.0 extrapolates the control's successes to the training size with a fitted
    curve; its measuring step counts ``len(_evaluate_queries(...))``, the number of *queries* (a
    constant), and even with that counted right the fitted curve bends down beyond the measured
    sizes. Measured on Adult (34,189 training / 14,653 control rows, MST at ε = 1, 1,000
    multivariate queries): training 160 singled out, control 115, corrected to 103 (the repaired
    fit) or 51 (as shipped), while the exact expectation for a random control-sized subsample of
    the training table is 115.4, i.e. no excess at equal size and a spurious risk of 0.06-0.09.

    Here, with ``K_q`` the rows query ``q`` matches in a table of ``N`` rows, the expected number
    of queries that single out in a random ``m``-row subsample is exactly
    ``sum_q K_q C(N-K_q, m-1) / C(N, m)`` (hypergeometric). A control larger than the training
    table is brought down to its size this way (an unbiased estimate). A smaller control is
    brought up by the training table's own growth: control × (training successes / expected
    training successes at the control's size). Without leakage this is exact in expectation; with
    leakage the growth factor is inflated and the risk understated (a copy of the training table
    still scores 1; 20 % leaking queries at a 70/30 split score about 0.14 instead of 0.2).
    """
    from scipy.special import gammaln

    from anonymeter.evaluators.singling_out_evaluator import _evaluate_queries

    n, m = ori.height, control.height
    info = {"training_rows": n, "control_rows": m}
    if not queries or n == m:
        return float(n_control_raw), info | {"method": "none (equal sizes)" if n == m else "none (no queries)", "factor": 1.0}
    lchoose = lambda a, b: gammaln(a + 1) - gammaln(b + 1) - gammaln(a - b + 1)

    def expected_at(counts: np.ndarray, total: int, size: int) -> float:
        k = counts[(counts >= 1) & (counts <= total - size + 1)].astype(float)
        return float(np.exp(np.log(k) + lchoose(total - k, size - 1) - lchoose(total, size)).sum())

    if m > n:
        counts_c = np.array(_evaluate_queries(control, queries), dtype=float)
        value = expected_at(counts_c, m, n)
        return value, info | {"method": "control subsampled to the training size (exact expectation)",
                              "factor": value / n_control_raw if n_control_raw else None}
    counts_t = np.array(_evaluate_queries(ori, queries), dtype=float)
    full, at_m = float((counts_t == 1).sum()), expected_at(counts_t, n, m)
    factor = full / at_m if at_m > 0 else 1.0
    return n_control_raw * factor, info | {
        "method": "training growth from control size to training size", "factor": factor,
        "training_successes": full, "training_successes_at_control_size": at_m,
    }


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


def _predicate_arrays(series, dtype, median) -> tuple[str, np.ndarray, np.ndarray | None]:
    """How anonymeter's ``_query_from_record`` treats one column, as arrays over the rows.

    ``("eq", codes, None)``: the query tests equality (categories; a missing value has its own
    code, tested with ``is_null``). ``("num", side, oriented)``: the query tests ``>= v`` when
    ``v`` is above the column median (side 1), ``<= v`` otherwise (side 0), ``is_null`` for a
    missing value (side 2); ``oriented`` is ``v`` or ``-v`` so that a row matches another row's
    query exactly when it is on the same side and its oriented value is ``>=``.
    """
    if dtype.is_numeric() and median is not None:
        values = series.cast(float).to_numpy().astype(float)
        null = np.isnan(values)
        upper = ~null & (values > median)
        side = np.where(null, 2, np.where(upper, 1, 0)).astype(np.int64)
        oriented = np.where(null, 0.0, np.where(upper, values, -values))
        return "num", side, oriented
    _, codes = np.unique(series.cast(str).fill_null("\x00<null>").to_numpy().astype(str), return_inverse=True)
    return "eq", codes.astype(np.int64), None


def _singled_out_rows(arrays: list[tuple[str, np.ndarray, np.ndarray | None]]) -> np.ndarray | None:
    """Rows whose own anonymeter query on these columns matches no other row (exact).

    Rows are grouped by their equality codes and numeric sides; within a group a row's query
    matches every row whose oriented values are all ``>=`` its own. With one numeric column that
    is a sort; with several, a pairwise comparison inside each group, skipped (None) when the
    pairs exceed :data:`MULTIVARIATE_PAIRWISE_LIMIT` (a deterministic bound on the work).
    """
    n = len(arrays[0][1])
    key, span = np.zeros(n, dtype=np.int64), 1
    for _, codes, _ in arrays:
        size = int(codes.max()) + 1 if n else 1
        if span * size >= 2**62:
            key = None
            break
        key, span = key * size + codes, span * size
    if key is None:
        _, group = np.unique(np.column_stack([a[1] for a in arrays]), axis=0, return_inverse=True)
    else:
        _, group = np.unique(key, return_inverse=True)
    group = group.ravel()
    nums = [a[2] for a in arrays if a[0] == "num"]
    sizes = np.bincount(group)
    if not nums:
        return np.flatnonzero(sizes[group] == 1)
    if len(nums) == 1:
        x = nums[0]
        order = np.lexsort((x, group))
        gs, xs = group[order], x[order]
        pos = np.arange(n)
        new_run = np.r_[True, (gs[1:] != gs[:-1]) | (xs[1:] != xs[:-1])]
        run_start = np.maximum.accumulate(np.where(new_run, pos, 0))
        group_end = np.searchsorted(gs, gs, side="right")
        count = np.empty(n, dtype=np.int64)
        count[order] = group_end - run_start
        return np.flatnonzero(count == 1)
    if len(nums) == 2:
        # sort by (group, x1 desc, x2 desc): a row is singled out when it heads its run of equal
        # x1, the next row of the run has a smaller x2, and no earlier run of its group (larger
        # x1) reaches its x2
        x1, x2 = nums
        order = np.lexsort((-x2, -x1, group))
        gs, x1s, x2s = group[order], x1[order], x2[order]
        head = np.r_[True, (gs[1:] != gs[:-1]) | (x1s[1:] != x1s[:-1])]
        alone = np.r_[x2s[1:] < x2s[:-1], True] | np.r_[head[1:], True]
        run_max = pd.Series(np.where(head, x2s, -np.inf)).groupby(gs).cummax().to_numpy()
        earlier = np.r_[-np.inf, run_max[:-1]]
        earlier[np.r_[True, gs[1:] != gs[:-1]]] = -np.inf
        return np.sort(order[head & alone & (earlier < x2s)])
    big = sizes[sizes > 1].astype(np.float64)
    if float((big * big).sum()) * len(nums) > MULTIVARIATE_PAIRWISE_LIMIT:
        return None
    x = np.column_stack(nums)
    unique = sizes[group] == 1
    order = np.argsort(group, kind="stable")
    bounds = np.r_[0, np.cumsum(sizes)]
    for g in np.flatnonzero(sizes > 1):
        members = order[bounds[g]:bounds[g + 1]]
        xm = x[members]
        dominated_by = (xm[None, :, :] >= xm[:, None, :]).all(axis=2).sum(axis=1)
        unique[members[dominated_by == 1]] = True
    return np.flatnonzero(unique)


def _multivariate_query_generator(stats: dict):
    """anonymeter's ``multivariate_singling_out_queries`` with an exact, vectorised search.

    anonymeter draws a random synthetic row and ``n_cols`` random columns, builds the row's query
    (``_query_from_record``: equality on categories, ``>=``/``<=`` towards the column's extreme on
    numbers) and keeps it when it singles out in the synthetic table; on Adult fewer than 2 % of
    draws do, so 10 × n_attacks attempts gave only ~130 of 1,000 queries. Here each draw is a
    column combination (without repeats, from ``rng``): every synthetic row whose query on it
    singles out is found at once (:func:`_singled_out_rows`), and at most
    ``ceil(n_queries / min(MULTIVARIATE_MIN_COMBOS, combinations))`` of them, drawn from ``rng``,
    become queries (built by anonymeter's own ``_query_from_record`` and re-checked by its
    ``UniqueSinglingOutQueries``), so the queries spread over at least
    :data:`MULTIVARIATE_MIN_COMBOS` combinations when there are that many (one run of 1,500
    queries from 30 combinations scored 384 training against 309 control successes on an
    independent sample: queries of one combination tend to hinge on the same extreme rows).
    Bounded: at most
    :data:`MULTIVARIATE_MAX_COMBOS` combinations are examined; anonymeter then warns that
    fewer queries were generated, which makes the metric inconclusive.
    """

    def generate(df, n_queries, n_cols, max_attempts, rng, batch_size=1000):
        from anonymeter.evaluators.singling_out_evaluator import UniqueSinglingOutQueries, _query_from_record

        columns = list(df.columns)
        n_cols = min(n_cols, len(columns))
        medians = df.median().to_dicts()[0]
        dtypes = {c: df[c].dtype for c in columns}
        arrays = [_predicate_arrays(df[c], dtypes[c], medians[c]) for c in columns]
        limit = min(MULTIVARIATE_MAX_COMBOS, math.comb(len(columns), n_cols))
        per_combo = max(1, math.ceil(n_queries / min(MULTIVARIATE_MIN_COMBOS, limit)))
        unique = UniqueSinglingOutQueries(max_size=n_queries)
        seen: set[tuple[int, ...]] = set()
        skipped = draws = 0
        while len(unique) < n_queries and len(seen) < limit and draws < 20 * limit:
            draws += 1
            combo = tuple(sorted(int(i) for i in rng.choice(len(columns), size=n_cols, replace=False)))
            if combo in seen:
                continue
            seen.add(combo)
            rows = _singled_out_rows([arrays[i] for i in combo])
            if rows is None:
                skipped += 1
                continue
            if not len(rows):
                continue
            take = rng.choice(rows, size=min(per_combo, len(rows)), replace=False)
            names = [columns[i] for i in combo]
            queries = [
                _query_from_record(record=record, dtypes=dtypes, columns=names, medians=medians, rng=rng)
                for record in df[np.sort(take)].to_dicts()
            ]
            unique.check_and_extend(queries, df)
        stats.update(n_queries_generated=len(unique), n_combos=len(seen), n_combos_skipped=skipped,
                     max_combos=MULTIVARIATE_MAX_COMBOS, queries_per_combo=per_combo)
        if len(unique) < n_queries:
            logger_name = "anonymeter.evaluators.singling_out_evaluator"
            logging.getLogger(logger_name).warning(
                f"Examined {len(seen)} column combinations (at most {MULTIVARIATE_MAX_COMBOS}) when generating "
                f"singling out queries. Returning {len(unique)} instead of the requested {n_queries}."
            )
        return unique.queries

    return generate


def _counted(stats: dict, queries: list) -> list:
    stats["n_queries_generated"] = len(queries)
    return queries


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def controlled_anonymeter(seed: int, stats: dict | None = None) -> Iterator[list[str]]:
    """Seed anonymeter's hidden generators, swap in the fast NN search and the multivariate
    query generator (which records its figures in ``stats``), capture warnings.

    Yields a list that collects every warning message raised inside the block.
    """
    import polars as pl

    import anonymeter.evaluators  # noqa: F401  (import order: avoids anonymeter's import cycle)
    from anonymeter.evaluators import singling_out_evaluator as soe
    from anonymeter.neighbors import mixed_types_kneighbors as mtk

    with _LOCK:
        state = np.random.get_state()
        original_nn = mtk._nearest_neighbors
        original_kneighbors = mtk.MixedTypeKNeighbors.kneighbors
        original_fit = soe.fit_correction_term
        original_univariate = soe.univariate_singling_out_queries
        original_random = soe._random_queries
        original_multivariate = soe.multivariate_singling_out_queries
        logger = logging.getLogger("anonymeter")
        handler = _Capture()
        old_propagate = logger.propagate
        logger.addHandler(handler)
        logger.propagate = False
        np.random.seed(seed % (2**32))
        pl.set_random_seed(seed % (2**32))
        mtk._nearest_neighbors = _fast_nearest_neighbors
        mtk.MixedTypeKNeighbors.kneighbors = _fast_kneighbors
        soe.fit_correction_term = _recording_correction({} if stats is None else stats)
        soe.univariate_singling_out_queries = lambda df, n_queries, rng: _counted(
            {} if stats is None else stats, _ordered_univariate_queries(df, n_queries, rng))
        soe._random_queries = _ordered_random_queries
        soe.multivariate_singling_out_queries = _multivariate_query_generator({} if stats is None else stats)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                messages: list[str] = []
                yield messages
            messages.extend(handler.messages)
            messages.extend(str(w.message) for w in caught)
        finally:
            mtk._nearest_neighbors = original_nn
            mtk.MixedTypeKNeighbors.kneighbors = original_kneighbors
            soe.fit_correction_term = original_fit
            soe.univariate_singling_out_queries = original_univariate
            soe._random_queries = original_random
            soe.multivariate_singling_out_queries = original_multivariate
            logger.removeHandler(handler)
            logger.propagate = old_propagate
            np.random.set_state(state)
