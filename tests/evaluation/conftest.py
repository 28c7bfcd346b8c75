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
