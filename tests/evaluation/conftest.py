from pathlib import Path

import numpy as np
import pytest

from synthgen.io import read_table
from synthgen.schema import Schema

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def adult():
    return read_table(ROOT / "datasets" / "adult.csv")


@pytest.fixture(scope="session")
def adult_schema():
    return Schema.load(ROOT / "datasets" / "adult.schema.json")


@pytest.fixture(scope="session")
def adult_split(adult):
    """Disjoint random slices of Adult: train, control and an independent real sample."""
    perm = np.random.default_rng(7).permutation(len(adult))
    n = 3000
    take = lambda a, b: adult.iloc[perm[a:b]].reset_index(drop=True)
    return take(0, n), take(n, 2 * n), take(2 * n, 3 * n)


@pytest.fixture(scope="session")
def adult_thirds(adult):
    """All of Adult in three disjoint random thirds (16,280 rows each): train, control and an
    independent real sample. The inference canary needs them: the residual risk is normalised by
    1 - control rate (about 0.09 for capital-loss), so its interval is ±0.05 only with ~15,000
    targets per side."""
    perm = np.random.default_rng(7).permutation(len(adult))
    n = len(adult) // 3
    take = lambda a, b: adult.iloc[perm[a:b]].reset_index(drop=True)
    return take(0, n), take(n, 2 * n), take(2 * n, 3 * n)
