"""The benchmark's split and marginal sampling (benchmarks/bench_synthesizers.py), on tiny tables."""

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_synthesizers.py"
_spec = importlib.util.spec_from_file_location("bench_synthesizers", _PATH)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_person_split_keeps_each_person_on_one_side():
    frame = pd.DataFrame({"pid": np.repeat(np.arange(50), 3), "x": np.arange(150)})
    train, holdout = bench.split_rows(frame, "pid")
    assert not set(train["pid"]) & set(holdout["pid"])
    assert len(train) + len(holdout) == 150
    assert train["pid"].nunique() == 35  # 70 % of the people, not of the rows


def test_row_split_is_adults_published_split():
    frame = pd.DataFrame({"x": np.arange(100)})
    train, holdout = bench.split_rows(frame, None)
    order = np.random.default_rng(0).permutation(100)
    assert train["x"].tolist() == order[:70].tolist()
    assert holdout["x"].tolist() == order[70:].tolist()


def test_marginal_sample_is_fixed_and_all_when_few():
    assert len(bench.marginal_sets(6, 3, None)) == 20
    assert len(bench.marginal_sets(6, 3, 50)) == 20
    picked = bench.marginal_sets(48, 3, 2000)
    assert len(picked) == len(set(picked)) == 2000
    assert picked == bench.marginal_sets(48, 3, 2000)
