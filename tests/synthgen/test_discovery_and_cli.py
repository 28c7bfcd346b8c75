import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from synthgen.budget import PrivacyBudget
from synthgen.cli import main
from synthgen.discovery import NumericSpec, discover_schema
from synthgen.errors import InvalidInputError
from synthgen.schema import Schema

from tests.synthgen.helpers import DATASETS


def _table(n: int, rng: np.random.Generator, rare: str | None = None) -> pd.DataFrame:
    frame = pd.DataFrame({
        "id": np.arange(n),
        "colour": rng.choice(["red", "green", "blue"], size=n),
        "age": rng.integers(18, 80, size=n),
    })
    if rare is not None:
        frame.loc[0, "colour"] = rare
    return frame


@pytest.mark.slow
def test_dp_discovery_never_releases_a_category_held_by_one_person():
    rng = np.random.default_rng(0)
    frame = _table(3000, rng, rare="a-value-only-one-person-has")
    schema, accounting = discover_schema(
        frame, numeric={"age": NumericSpec(0, 100)}, identifiers=["id"],
        budget=PrivacyBudget.from_epsilon(1.0, 1e-8), delta=1e-8,
    )
    assert set(schema.column("colour").categories) == {"red", "green", "blue"}
    assert schema.column("id").role == "identifier"
    cuts = schema.column("age").cuts
    assert cuts and all(0 < c <= 100 for c in cuts) and list(cuts) == sorted(set(cuts))
    assert not schema.derived_from_private_data
    assert accounting["rho"] == pytest.approx(PrivacyBudget.from_epsilon(1.0, 1e-8).rho)
    with pytest.raises(InvalidInputError, match="unknown column 'nope'"):
        discover_schema(frame, numeric={"nope": NumericSpec(0, 1)}, identifiers=[], budget=PrivacyBudget(0.1), delta=1e-8)


@pytest.mark.slow
def test_dp_discovery_accepts_budgets_opendp_splits_badly():
    """ε=2, δ=1e-6 over 8 queries: OpenDP's own even split refuses this budget ("unknown
    ordering"); discovery asks for a hair less per query and must spend within the total."""
    import polars as pl

    from synthgen._opendp import dp

    budget, delta = PrivacyBudget.from_epsilon(2.0, 1e-6), 1e-6
    with pytest.raises(dp.OpenDPException, match="unknown ordering"):  # upstream still splits badly
        dp.Context.compositor(data=pl.LazyFrame({"a": [0]}), privacy_unit=dp.unit_of(contributions=1),
                              privacy_loss=dp.loss_of(rho=budget.rho, delta=delta), split_evenly_over=8,
                              margins=[dp.polars.Margin(max_length=10**8)])
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({f"c{i}": rng.choice(["x", "y"], size=400) for i in range(7)})
    frame["n"] = rng.integers(0, 50, size=400)
    schema, accounting = discover_schema(frame, numeric={"n": NumericSpec(0, 50)}, identifiers=[], budget=budget, delta=delta)
    assert accounting["queries"] == 8
    assert all(set(schema.column(f"c{i}").categories) == {"x", "y"} for i in range(7))


@pytest.mark.parametrize(
    "argv, message",
    [
        (["fit", "DATA", "--schema", "SCHEMA", "--epsilon", "-1", "-o", "m.zip"], "epsilon (-1.0) must be positive"),
        (["fit", "DATA", "--schema", "SCHEMA", "--epsilon", "abc", "-o", "m.zip"], "epsilon ('abc') must be a number"),
        (["fit", "DATA", "--schema", "SCHEMA", "-o", "m.zip"], "--epsilon (or --rho) is required"),
        (["fit", "DATA", "--schema", "SCHEMA", "--epsilon", "1", "--delta", "0.5", "-o", "m.zip"], "delta (0.5) must be in"),
        (["fit", "missing.csv", "--schema", "SCHEMA", "--epsilon", "1", "-o", "m.zip"], "does not exist"),
        (["fit", "NOTATABLE", "--schema", "SCHEMA", "--epsilon", "1", "-o", "m.zip"], "must end in .csv or .parquet"),
        (["fit", "EXTRA", "--schema", "SCHEMA", "--epsilon", "1", "-o", "m.zip"], "unknown column 'surprise'"),
        (["fit", "DATA", "--schema", "SCHEMA", "--epsilon", "1", "--strict", "-o", "m.zip"], "column 'Sex'"),
        (["sample", "missing.zip", "-o", "out.csv"], "does not exist"),
        (["sample", "SCHEMA", "--rows", "0", "-o", "out.csv"], "rows (0) must be between 1"),
        (["schema", "check", "BROKEN"], "not valid JSON"),
    ],
)
def test_cli_errors_are_one_line_with_exit_code_2(tmp_path, capsys, argv, message):
    frame = pd.read_csv(DATASETS / "titanic.csv").head(50)
    frame.loc[0, "Sex"] = "unexpected"
    paths = {
        "DATA": tmp_path / "t.csv", "SCHEMA": DATASETS / "titanic.schema.json", "EXTRA": tmp_path / "extra.csv",
        "NOTATABLE": tmp_path / "notes.txt", "BROKEN": tmp_path / "broken.json",
    }
    frame.to_csv(paths["DATA"], index=False)
    frame.assign(surprise=1).to_csv(paths["EXTRA"], index=False)
    paths["NOTATABLE"].write_text("hello")
    paths["BROKEN"].write_text("{")
    argv = [str(paths.get(a, a)) if a in paths else a for a in argv]
    argv = [str(tmp_path / a) if a in ("m.zip", "out.csv", "missing.csv", "missing.zip") else a for a in argv]
    with pytest.raises(SystemExit) if "abc" in argv else _noop():
        code = main(argv)
        assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert message in err
    assert not (tmp_path / "m.zip").exists()


class _noop:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.slow
def test_cli_draft_fit_sample_round_trip(tmp_path):
    data = tmp_path / "titanic.csv"
    pd.read_csv(DATASETS / "titanic.csv").to_csv(data, index=False)
    run = lambda *a: subprocess.run([sys.executable, "-m", "synthgen.cli", *map(str, a)], capture_output=True, text=True)
    draft = run("schema", "draft", data, "-o", tmp_path / "draft.json")
    assert draft.returncode == 0, draft.stderr
    assert json.loads((tmp_path / "draft.json").read_text())["derived_from_private_data"] is True
    refused = run("fit", data, "--schema", tmp_path / "draft.json", "--epsilon", "1", "-o", tmp_path / "m.zip")
    assert refused.returncode == 2 and "derived_from_private_data" in refused.stderr
    fitted = run("fit", data, "--schema", DATASETS / "titanic.schema.json", "--epsilon", "1", "-o", tmp_path / "m.zip")
    assert fitted.returncode == 0, fitted.stderr
    sampled = run("sample", tmp_path / "m.zip", "--rows", "500", "--seed", "3", "-o", tmp_path / "s.parquet")
    assert sampled.returncode == 0, sampled.stderr
    out = pd.read_parquet(tmp_path / "s.parquet")
    assert len(out) == 500
    assert list(out.columns) == ["PassengerId", "Survived", "Pclass", "Sex", "Age", "SibSp", "Parch", "Fare", "Embarked"]
    schema = Schema.load(DATASETS / "titanic.schema.json")
    from synthgen.encoding import encode

    encode(out, schema, strict=True)


@pytest.mark.slow
def test_dp_discovery_measures_with_the_person_unit_and_its_threshold():
    """One person holds 60 rows of a rare category. Measured with contributions=1 (the old
    code) its count clears a one-row threshold; under the dataset's unit (at most 3 rows per
    person) the person is bounded to 3 rows and the threshold is OpenDP's for 3 contributions."""
    from synthgen.schema import PrivacyUnit

    rng = np.random.default_rng(0)
    frame = _table(3000, rng)
    heavy = pd.DataFrame({"id": [-1] * 60, "colour": ["held-by-one-heavy-person"] * 60, "age": [40] * 60})
    frame = pd.concat([frame, heavy], ignore_index=True)
    budget, delta = PrivacyBudget.from_epsilon(1.0, 1e-8), 1e-8
    kwargs = dict(numeric={"age": NumericSpec(0, 100)}, identifiers=["id"], budget=budget, delta=delta)
    schema, accounting = discover_schema(frame, privacy_unit=PrivacyUnit("id", 3), **kwargs)
    _, row_level = discover_schema(_table(3000, rng), **kwargs)
    assert set(schema.column("colour").categories) == {"red", "green", "blue"}
    assert schema.privacy_unit == PrivacyUnit("id", 3)
    assert accounting["contributions"] == 3 and row_level["contributions"] == 1
    # the threshold protects a person who adds up to 3 to each of 3 counts: far above 3 rows
    # and above the one-row threshold at the same budget
    assert accounting["key_thresholds"]["colour"] > row_level["key_thresholds"]["colour"] > 3
    with pytest.raises(InvalidInputError, match="person_column"):
        discover_schema(frame, privacy_unit=PrivacyUnit("colour", 3), **kwargs)
