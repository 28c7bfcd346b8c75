from pathlib import Path

import pandas as pd

from synthgen.io import read_table
from synthgen.schema import Schema

ROOT = Path(__file__).resolve().parents[2]
DATASETS = ROOT / "datasets"


def titanic() -> tuple[pd.DataFrame, Schema]:
    return read_table(DATASETS / "titanic.csv"), Schema.load(DATASETS / "titanic.schema.json")


def adult_sample(n: int, seed: int = 0) -> tuple[pd.DataFrame, Schema]:
    frame = read_table(DATASETS / "adult.csv").sample(n=n, random_state=seed).reset_index(drop=True)
    return frame, Schema.load(DATASETS / "adult.schema.json")


def titanic_small() -> tuple[pd.DataFrame, Schema]:
    """Titanic with five synthesized columns: enough structure, fast to fit."""
    from dataclasses import replace

    frame, schema = titanic()
    keep = ["PassengerId", "Survived", "Pclass", "Sex", "Age", "Embarked"]
    return frame[keep], replace(schema, columns=tuple(c for c in schema.columns if c.name in keep))
