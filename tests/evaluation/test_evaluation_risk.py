"""Risk internals: exact singling-out search, bounded query generation, the nearest-neighbour
search, the singling-out size correction and the post-stratified inference risk."""

import itertools
import math

import numpy as np
import pandas as pd
import polars as pl
import pytest

from evaluation import risk as R
from evaluation.risk import anonymeter_fixes as F
from evaluation.risk import attacks as A


def _frame(n, seed, *, rare=True, wide=False):
    rng = np.random.default_rng(seed)
    age = rng.integers(17, 91, n).astype(float)
    age[rng.random(n) < 0.05] = np.nan
    # through pandas, as anonymeter's evaluators build their frames: NaN becomes null
    return pl.DataFrame(pd.DataFrame({
        "c0": age,
        "c1": rng.choice(["a", "b", "c", "d", "e", "f"] if rare else ["a", "b"], n).tolist(),
        "c2": rng.integers(0, 5, n).astype(float),  # many ties
        "c3": rng.choice(["x", "y"], n, p=[0.9, 0.1]).tolist(),
        "c4": (rng.exponential(1000, n).round() if rare else rng.integers(0, 2, n)).astype(float),
        "c5": rng.choice(["p", "q", "r"], n).tolist(),
        **({"c6": rng.choice(list("klmnop"), n).tolist(), "c7": rng.normal(40, 10, n).round()} if wide else {}),
    })).unique(maintain_order=True)


def test_singled_out_rows_are_exactly_anonymeters_singling_out_queries():
    from anonymeter.evaluators.singling_out_evaluator import _evaluate_queries, _query_from_record

    df = _frame(400, 0)
    medians = df.median().to_dicts()[0]
    dtypes = {c: df[c].dtype for c in df.columns}
    arrays = [F._predicate_arrays(df[c], dtypes[c], medians[c]) for c in df.columns]
    checked = 0
    for size in (1, 2, 3, 4):
        for combo in itertools.combinations(range(len(df.columns)), size):
            rows = F._singled_out_rows([arrays[i] for i in combo])
            assert rows is not None  # 400 rows stay far below the pairwise bound
            names = [df.columns[i] for i in combo]
            queries = [_query_from_record(r, dtypes, names, medians, np.random.default_rng(0)) for r in df.to_dicts()]
            truth = np.flatnonzero(np.array(_evaluate_queries(df, queries)) == 1)
            assert rows.tolist() == truth.tolist(), names
            checked += len(truth)
    assert checked > 1000


def test_multivariate_generator_reaches_the_requested_count_reproducibly():
    df = _frame(3000, 1, wide=True)
    runs = []
    for _ in range(2):
        stats = {}
        with R.controlled_anonymeter(3, stats) as messages:
            from anonymeter.evaluators import singling_out_evaluator as soe

            queries = soe.multivariate_singling_out_queries(df, 400, 4, None, np.random.default_rng(5))
        runs.append([str(q) for q in queries])
        assert stats["n_queries_generated"] == 400 and not messages
        # spread: at most 400 / min(MIN_COMBOS, 70 combinations of 4 of 8 columns) per combination
        assert stats["queries_per_combo"] == math.ceil(400 / min(F.MULTIVARIATE_MIN_COMBOS, math.comb(8, 4)))
        assert stats["n_combos"] * stats["queries_per_combo"] >= 400
    assert runs[0] == runs[1]
    # every query singles out one synthetic row
    from anonymeter.evaluators.singling_out_evaluator import _evaluate_queries

    with R.controlled_anonymeter(3) as _:
        queries = soe.multivariate_singling_out_queries(df, 400, 4, None, np.random.default_rng(5))
    assert set(_evaluate_queries(df, queries)) == {1}


def test_multivariate_generator_is_bounded_and_says_so():
    df = _frame(3000, 2, rare=False)  # few distinct rows: few queries can single out
    stats = {}
    with R.controlled_anonymeter(3, stats) as messages:
        from anonymeter.evaluators import singling_out_evaluator as soe

        queries = soe.multivariate_singling_out_queries(df, 5000, 3, None, np.random.default_rng(5))
    assert len(queries) < 5000
    assert stats["n_combos"] <= min(F.MULTIVARIATE_MAX_COMBOS, math.comb(6, 3))
    assert any("column combinations" in m for m in messages)


def test_fast_nearest_neighbours_match_anonymeters_numba_search():
    import anonymeter.evaluators  # noqa: F401  (importing the neighbours module first is a circular import)
    from anonymeter.neighbors import mixed_types_kneighbors as mtk

    rng = np.random.default_rng(0)
    cand = np.column_stack([rng.random(700), rng.random(700), rng.integers(0, 4, 700), rng.integers(0, 3, 700)]).astype(float)
    queries = np.column_stack([rng.random(90), rng.random(90), rng.integers(0, 4, 90), rng.integers(0, 3, 90)]).astype(float)
    cand[rng.random(cand.shape) < 0.03] = np.nan
    queries[rng.random(queries.shape) < 0.03] = np.nan
    want_idx, want_d = mtk._nearest_neighbors(queries, cand, 2, 3)
    idx, d = F._fast_nearest_neighbors(queries, cand, 2, 3, block=32)
    finite = np.isfinite(want_d)
    assert np.allclose(d[finite], want_d[finite], atol=1e-5)
    assert (idx[:, 0] == want_idx[:, 0]).mean() > 0.99  # continuous distances: no ties but float32 ones


def test_size_correction_equals_subsampling_in_expectation():
    """A control larger than the training table is brought down to its size by the exact
    hypergeometric expectation: compare with averaging over random subsamples."""
    from anonymeter.evaluators.singling_out_evaluator import _evaluate_queries

    population = _frame(900, 3)
    ori, control = population[:300], population[300:]
    with R.controlled_anonymeter(0):
        from anonymeter.evaluators import singling_out_evaluator as soe

        queries = soe.multivariate_singling_out_queries(control, 200, 3, None, np.random.default_rng(1))
    raw = sum(1 for c in _evaluate_queries(control, queries) if c == 1)
    value, info = F._size_corrected_control(ori, control, queries, raw)
    rng = np.random.default_rng(2)
    draws = [sum(1 for c in _evaluate_queries(control[np.sort(rng.choice(control.height, ori.height, replace=False))], queries) if c == 1)
             for _ in range(300)]
    assert abs(value - np.mean(draws)) < 4 * np.std(draws) / math.sqrt(len(draws))
    assert value < raw  # queries built to single out in the control single out less in a smaller table
    assert info["method"].startswith("control subsampled")
    same, info = F._size_corrected_control(ori, ori, queries, 17)
    assert same == 17 and info["factor"] == 1.0


@pytest.mark.slow
@pytest.mark.statistical
def test_smaller_control_is_not_shrunk(adult_thirds, adult_schema):
    """Independent synthetic data, control 40 % of the training size: no excess risk. anonymeter's
    shipped correction shrank the control by about control/training rows (factor ~0.4)."""
    train, control, other = adult_thirds
    cols = adult_schema.synthesized_columns
    at = lambda f: R.attack_frame(f, cols)
    res = R.singling_out(at(train), at(other), at(control.iloc[:6500]), "multivariate", 1000, 4)
    assert res.figures["size_correction"]["factor"] > 1.0
    assert res.figures["n_queries_generated"] == 1000 == res.n_attacks
    assert res.interval[1] <= 0.06


def test_strata_pool_small_values_and_keep_large_ones():
    train = np.array([0] * 500 + [1] * 60 + [2] * 5 + [3] * 30)
    control = np.array([0] * 480 + [1] * 70 + [2] * 3 + [3] * 10)
    lt, lc, n = A._strata(train, control)
    # values 0 and 1 have >= 20 targets on both sides; 2 and 3 are pooled (13 control targets is
    # too few, so the pool joins the largest stratum)
    assert n == 2
    assert len(set(lt[train == 0]) | set(lt[train == 2]) | set(lt[train == 3])) == 1
    assert set(lt[train == 1]).isdisjoint(lt[train == 0])
    assert lt.shape == train.shape and lc.shape == control.shape


def test_stratification_removes_composition_noise_only():
    """Same per-stratum success on both sides but different composition: the raw rates differ,
    the stratified ones do not; with equal composition both agree."""
    ok_t = np.r_[np.ones(900, bool), np.zeros(100, bool)]  # stratum 0: all succeed; stratum 1: none
    label_t = np.r_[np.zeros(900, int), np.ones(100, int)]
    ok_c = np.r_[np.ones(800, bool), np.zeros(200, bool)]
    label_c = np.r_[np.zeros(800, int), np.ones(200, int)]
    weights = np.bincount(np.r_[label_t, label_c]) / 2000
    a, c = A._stratified_rate(ok_t, label_t, weights), A._stratified_rate(ok_c, label_c, weights)
    assert abs(a.value - c.value) < 0.01
    assert ok_t.mean() - ok_c.mean() == pytest.approx(0.1)


def test_inference_extends_attacks_to_reach_the_width_and_records_it():
    rng = np.random.default_rng(0)

    def table(n):
        return pd.DataFrame({"c0": rng.integers(17, 90, n).astype(float), "c1": rng.choice(list("abcd"), n).astype(object),
                             "c2": np.where(rng.random(n) < 0.9, 0.0, rng.integers(1, 5000, n)).astype(float)})

    train, syn, control = table(6000), table(6000), table(6000)
    strata = lambda f: (f["c2"] > 0).astype(int).to_numpy()
    secret = R.Secret("c2", True, strata(train), strata(control))
    res = R.inference(train, syn, control, ["c0", "c1"], [secret], 500, 3)["c2"]
    d = res.figures
    assert d["n_attacks_requested"] == 500 and d["n_attacks_first"] == [500, 500]
    assert res.n_attacks > 500 and d["n_control_attacks"] > 500
    assert res.n_attacks <= 6000 and d["attack_cap"] == [6000, 6000]
    assert res.half_width < 0.2
    assert d["baseline_rate"] > 0.7  # random synthetic secrets: 0 for 90 % of both
    again = R.inference(train, syn, control, ["c0", "c1"], [secret], 500, 3)["c2"]
    assert again == res
