"""AIM's one-way step sized to the table (synthgen.synthesizers._aim).

The one-way marginals get ``oneway_share`` of the budget, then, when their noise is large against
the table's DP-estimated size, more (up to ``oneway_share_max``). The decision reads only the DP
estimate and public parameters; OpenDP's compositor still accounts for every measurement."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from synthgen.budget import PrivacyBudget
from synthgen.errors import InvalidInputError
from synthgen.synthesizers import AIM, config_from_dict, fit
from synthgen.synthesizers._aim import oneway_share_needed
from tests.synthgen.helpers import adult_sample, titanic_small

BUDGET = PrivacyBudget.from_epsilon(1.0, 1e-9)
FAST = dict(rounds=4, estimation_iters=20, final_iters=20, max_model_mb=2.0)
# the figures one Titanic and one Adult fit at ε = 1 measured in their first one-way step
TITANIC_CELLS = [2, 3, 2, 15, 6, 5, 11, 4]
ADULT_CELLS = [14, 9, 12, 16, 16, 7, 15, 6, 5, 2, 10, 7, 13, 42, 2]


def expected_tvd(rows: float, stddev: float, cells: list[int]) -> float:
    """Mean over the columns of the expected total variation that Gaussian noise alone adds."""
    return sum(k * stddev * math.sqrt(2 / math.pi) / (2 * rows) for k in cells) / len(cells)


def test_a_small_table_gets_the_most_and_a_large_one_keeps_the_first_share():
    assert oneway_share_needed(634, 51.7, 0.1, TITANIC_CELLS, 0.05, 0.5) == 0.5
    assert oneway_share_needed(34_275, 70.8, 0.1, ADULT_CELLS, 0.05, 0.5) == 0.1


def test_between_the_bounds_the_share_reaches_exactly_the_target():
    rows, stddev = 3_008, 70.8
    share = oneway_share_needed(rows, stddev, 0.1, ADULT_CELLS, 0.05, 0.9)
    assert 0.1 < share < 0.9
    # the noise's variance falls as 1/ρ: with `share` instead of 0.1 the stddev shrinks by √(0.1/share)
    assert expected_tvd(rows, stddev * math.sqrt(0.1 / share), ADULT_CELLS) == pytest.approx(0.05)
    assert expected_tvd(rows, stddev, ADULT_CELLS) > 0.05


def test_the_share_never_grows_with_the_table():
    shares = [oneway_share_needed(rows, 60.0, 0.1, ADULT_CELLS, 0.05, 0.5) for rows in (-5, 0, 100, 1_000, 3_000, 10_000, 1e6)]
    assert shares[0] == shares[1] == 0.5  # a non-positive estimate: no evidence of rows, all the one-ways may have
    assert shares == sorted(shares, reverse=True)
    assert shares[-1] == 0.1


def test_a_small_table_measures_its_oneways_with_half_the_budget_and_spends_exactly_the_budget():
    frame, schema = titanic_small()
    model = fit(frame.iloc[:300], schema, AIM(**FAST), BUDGET)
    accounting = model.info["accounting"]
    assert accounting["oneway_share"] == pytest.approx(0.5)
    assert accounting["rho_consumed"] == pytest.approx(BUDGET.rho, rel=1e-9)


def test_a_large_table_keeps_the_first_share():
    frame, schema = adult_sample(20_000)
    keep = ["sex", "race", "relationship", "income"]
    schema = replace(schema, columns=tuple(c for c in schema.columns if c.name in keep))
    model = fit(frame[keep], schema, AIM(**FAST), BUDGET)
    assert model.info["accounting"]["oneway_share"] == pytest.approx(0.1)
    assert model.info["accounting"]["rho_consumed"] == pytest.approx(BUDGET.rho, rel=1e-9)


@pytest.mark.parametrize("options, field", [
    ({"oneway_share_max": 0.05}, "oneway_share_max"),  # below oneway_share (0.1)
    ({"oneway_share_max": 1.0}, "oneway_share_max"),
    ({"oneway_share_max": True}, "oneway_share_max"),
    ({"oneway_target_tvd": 0}, "oneway_target_tvd"),
    ({"oneway_target_tvd": 1.5}, "oneway_target_tvd"),
    ({"oneway_target_tvd": "0.05"}, "oneway_target_tvd"),
])
def test_the_sizing_settings_are_validated(options, field):
    with pytest.raises(InvalidInputError, match=field):
        AIM(**options)


def test_the_sizing_settings_round_trip_and_the_first_share_may_be_the_last():
    config = AIM(oneway_share=0.2, oneway_share_max=0.2, oneway_target_tvd=0.1)
    assert config_from_dict(config.to_dict()) == config


def test_the_sizing_reads_the_noisy_estimate_never_the_exact_count(monkeypatch):
    """Privacy: the share depends on the table only through OpenDP's noisy one-way marginals.
    Their total is continuous noise around the row count, so it never equals the exact count."""
    import synthgen.synthesizers._aim as sized

    seen = []
    real = sized.oneway_share_needed
    monkeypatch.setattr(sized, "oneway_share_needed", lambda *args: seen.append(args) or real(*args))
    frame, schema = titanic_small()
    fit(frame.iloc[:300], schema, AIM(**FAST), BUDGET)
    (rows, stddev, first_share, cells, target, most), = seen
    assert rows != 300 and abs(rows - 300) < 6 * stddev  # an estimate within its noise, not the count
    assert stddev > 10  # ρ/10 over five columns at ε = 1: tens of rows of noise per cell
    assert (first_share, target, most) == (0.1, 0.05, 0.5)
    assert cells == [c.cardinality for c in schema.synthesized_columns]  # from the schema
