"""AIM weighted towards the column a release will be judged on (``AIM(target=...)``).

The target is a column name a person gives (public); the weights reach OpenDP as its workload,
and OpenDP's accounting prices them (the selection noise grows with the largest weight)."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

import synthgen.synthesizers.marginal as marginal
from synthgen.budget import PrivacyBudget
from synthgen.errors import InvalidInputError
from synthgen.synthesizers import AIM, MST, check_fit_inputs, config_from_dict, fit
from synthgen.synthesizers.marginal import aim_workload
from tests.synthgen.helpers import DATASETS, titanic_small

BUDGET = PrivacyBudget.from_epsilon(1.0, 1e-9)
COLUMNS = ["Survived", "Pclass", "Sex", "Age", "Embarked"]


def test_the_workload_weights_every_pair_holding_the_target():
    workload = aim_workload(AIM(target="Survived", target_weight=8.0), COLUMNS)
    weights = {q.by: q.weight for q in workload}
    assert set(weights) == set(combinations(COLUMNS, 2))
    assert {by: w for by, w in weights.items() if "Survived" in by} == {
        ("Survived", other): 8.0 for other in COLUMNS[1:]}
    assert {w for by, w in weights.items() if "Survived" not in by} == {1.0}


def test_without_a_target_the_workload_is_opendps_own():
    assert aim_workload(AIM(), COLUMNS) == 2
    assert aim_workload(AIM(max_degree=3), COLUMNS[:2]) == 2  # never more than the columns


@pytest.mark.parametrize("options, field", [
    ({"target": ""}, "target"),
    ({"target": 3}, "target"),
    ({"target_weight": 0.5}, "target_weight"),
    ({"target_weight": True}, "target_weight"),
    ({"target_weight": 1000}, "target_weight"),
])
def test_bad_target_options_are_refused_by_name(options, field):
    with pytest.raises(InvalidInputError, match=rf"^{field} \("):
        AIM(**options)


def test_a_target_outside_the_synthesized_columns_is_refused_before_the_data_is_read():
    _, schema = titanic_small()
    for name in ("Nope", "PassengerId"):  # unknown; an identifier never reaches the synthesizer
        with pytest.raises(InvalidInputError, match="target .* must be a synthesized column"):
            check_fit_inputs(schema, AIM(target=name), BUDGET)


def test_the_target_survives_the_model_file_round_trip():
    config = AIM(target="Survived", target_weight=4.0)
    assert config_from_dict(config.to_dict()) == config


@pytest.mark.slow
def test_opendp_receives_the_weighted_workload_and_spends_exactly_the_budget(monkeypatch):
    frame, schema = titanic_small()
    seen = []
    real = marginal._release

    def spy(data, keys, contributions, rho, algorithm):
        table, context = real(data, keys, contributions, rho, algorithm)
        seen.append((algorithm, float(context.current_privacy_loss()), rho))
        return table, context

    monkeypatch.setattr(marginal, "_release", spy)
    model = fit(frame, schema, AIM(rounds=4, estimation_iters=30, max_model_mb=2.0, target="Survived"), BUDGET)
    algorithm, consumed, rho = seen[-1]
    weighted = {q.by for q in algorithm.queries if q.weight == 8.0}
    assert weighted == {("Survived", c) for c in ("Pclass", "Sex", "Age", "Embarked")}
    assert abs(consumed - BUDGET.rho) <= 1e-12 and rho == BUDGET.rho
    assert model.info["config"]["target"] == "Survived"
    sample = model.sample(20, rng=np.random.default_rng(0))
    assert set(sample["Survived"]) <= {0, 1} and len(sample) == 20


def _cli(capsys, *args: str) -> tuple[int, str]:
    from synthgen.cli import main

    code = main(list(args))
    return code, capsys.readouterr().err


def test_cli_refuses_a_target_for_a_synthesizer_that_ignores_it(tmp_path, capsys):
    out = tmp_path / "model.zip"
    code, err = _cli(capsys, "fit", str(DATASETS / "titanic.csv"), "--schema", str(DATASETS / "titanic.schema.json"),
                "--synthesizer", "mst", "--target", "Survived", "--epsilon", "1", "-o", str(out))
    assert code == 2
    assert "--target steers AIM only" in err and "mst" in err
    assert not out.exists()


def test_cli_refuses_an_unknown_target_before_reading_the_table(tmp_path, capsys):
    out = tmp_path / "model.zip"
    code, err = _cli(capsys, "fit", str(tmp_path / "missing.csv"), "--schema", str(DATASETS / "titanic.schema.json"),
                "--synthesizer", "aim", "--target", "Name", "--epsilon", "1", "-o", str(out))
    assert code == 2
    assert "target ('Name') must be a synthesized column" in err
    assert not out.exists()


def test_mst_has_no_target_option():
    with pytest.raises(TypeError):
        MST(target="Survived")  # type: ignore[call-arg]
