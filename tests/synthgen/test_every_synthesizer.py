"""Every synthesizer the CLI offers fits and samples on a small table (KNOWN-PITFALLS #17).

The locked ``sdv==2.0.0`` refused the Gaussian-copula baseline (``computer_representation`` in
its metadata, then ``InvalidDataTypeError`` for a bare frame) and nothing noticed, because no
test fitted the synthesizers the CLI lists. The list is read from the CLI's own parser, so a new
synthesizer joins this test without anyone remembering to add it.
"""

import math

import numpy as np
import pandas as pd
import pytest

from synthgen.budget import PrivacyBudget
from synthgen.cli import build_parser
from synthgen.synthesizers import CTGANBaseline, config_by_name, fit
from synthgen.synthesizers.baselines import conform_to_schema

from tests.synthgen.helpers import titanic_small


def _cli_synthesizers() -> list[str]:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    option = next(a for a in commands["fit"]._actions if a.dest == "synthesizer")
    return list(option.choices)


#: small but fast options for each synthesizer (the defaults are sized for real tables)
FAST = {"mst": {"estimation_iters": 40}, "aim": {"rounds": 3, "estimation_iters": 20, "max_model_mb": 1.0},
        "ctgan": {"epochs": 2}}


def _small_table() -> tuple[pd.DataFrame, object]:
    frame, schema = titanic_small()
    frame = frame.head(120).copy()
    # values outside the schema, which SDV's own validation would otherwise refuse
    frame.loc[0, "Age"] = 1e6
    frame.loc[1, "Sex"] = "a-category-nobody-declared"
    frame.loc[2, "Embarked"] = ""
    return frame, schema


def test_the_cli_lists_the_four_synthesizers():
    assert sorted(_cli_synthesizers()) == ["aim", "ctgan", "gaussian_copula", "mst"]


@pytest.mark.slow
@pytest.mark.parametrize("name", _cli_synthesizers())
def test_every_cli_synthesizer_fits_and_samples(name):
    frame, schema = _small_table()
    config = config_by_name(name, **FAST.get(name, {}))
    budget = PrivacyBudget.from_epsilon(1.0, 1e-9) if config.dp else None
    model = fit(frame, schema, config, budget, rng=np.random.default_rng(0))
    assert model.dp is config.dp
    out = model.sample(50, rng=np.random.default_rng(1))
    assert len(out) == 50
    assert list(out.columns) == [c.name for c in schema.columns if c.synthesized or c.identifier_output == "token"]
    age = schema.column("Age")
    ages = pd.to_numeric(out["Age"], errors="coerce").dropna()
    assert ages.between(float(age.lower), float(age.upper)).all()
    declared = {str(c) for c in schema.column("Sex").categories}
    assert set(out["Sex"].dropna().astype(str)) <= declared


def test_baseline_input_is_conformed_to_the_schema():
    frame, schema = _small_table()
    conformed = conform_to_schema(frame, schema)
    age = schema.column("Age")
    assert conformed.loc[0, "Age"] == float(age.upper)
    assert conformed.loc[1, "Sex"] is None
    assert conformed.loc[2, "Embarked"] is None
    assert list(conformed.columns) == [c.name for c in schema.synthesized_columns]
    assert not math.isnan(conformed.loc[3, "Age"]) or pd.isna(frame.loc[3, "Age"])


def test_cli_refuses_a_baseline_before_reading_the_table(tmp_path, capsys):
    from synthgen.cli import main
    from tests.synthgen.helpers import DATASETS

    missing = tmp_path / "never-read.csv"  # does not exist: reading it would fail differently
    code = main(["fit", str(missing), "--schema", str(DATASETS / "titanic.schema.json"),
                 "--synthesizer", CTGANBaseline.name, "-o", str(tmp_path / "m.zip")])
    assert code != 0
    assert "non-DP baseline" in capsys.readouterr().err
