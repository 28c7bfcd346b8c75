"""Univariate singling-out on a coded table: fewer queries than requested because the synthetic
table offers no more is a complete measurement (warning), not a missing one (flag)."""

import numpy as np
import pandas as pd

from evaluation.core import MIN_VERDICT_ATTACKS, attack_count_check
from evaluation.risk import attacks as R


def _coded(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    # four coded columns, every code common, plus one column with a few rare codes
    frame = pd.DataFrame({f"c{i}": rng.integers(0, 4, rows).astype(str) for i in range(4)})
    rare = rng.integers(0, 3, rows).astype(str).astype(object)
    rare[:5] = [f"r{i}" for i in range(5)]
    frame["c4"] = rare
    return frame


def test_exhausted_univariate_space_is_a_warning_not_a_flag():
    train, syn, control = _coded(1500, 1), _coded(1500, 2), _coded(1500, 3)
    res = R.singling_out(train, syn, control, "univariate", 500, seed=4)
    assert res.figures["query_space_exhausted"] is True
    assert res.n_attacks < MIN_VERDICT_ATTACKS
    checked = attack_count_check(res, "singling-out queries")
    assert not checked.flags
    assert any("all were tried" in w and "500" in w for w in checked.warnings)
    # scored over the requested attacks, so the interval is narrow enough for a verdict
    assert checked.interval[1] < 0.05


def test_multivariate_shortfall_still_blocks_a_verdict():
    # a shortfall that is not an exhausted query space keeps its flag
    res = R.RiskResult(value=0.0, interval=(0.0, 0.2), n_attacks=37, figures={"query_space_exhausted": False})
    checked = attack_count_check(res, "singling-out queries")
    assert checked.flags and "only 37" in checked.flags[0]
