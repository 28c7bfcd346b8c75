import math

import pytest
from hypothesis import given, settings, strategies as st

from synthgen.budget import PrivacyBudget, epsilon_to_rho, rho_to_epsilon
from synthgen.errors import BudgetError


def test_epsilon_one_matches_opendp_tight_conversion():
    # KNOWN-PITFALLS #6: the tight conversion gives 0.01497 at eps=1, delta=1e-9, the simple bound 0.01177
    rho = PrivacyBudget.from_epsilon(1.0, 1e-9).rho
    assert rho == pytest.approx(0.01497, abs=5e-5)
    simple = (math.sqrt(math.log(1e9) + 1) - math.sqrt(math.log(1e9))) ** 2
    assert rho > simple * 1.2


@given(st.floats(0.01, 20), st.sampled_from([1e-12, 1e-9, 1e-6]))
@settings(max_examples=30, deadline=None)
def test_conversion_round_trip_never_overstates(epsilon, delta):
    rho = epsilon_to_rho(epsilon, delta)
    back = rho_to_epsilon(rho, delta)
    assert back <= epsilon + 1e-12
    assert back == pytest.approx(epsilon, rel=1e-6)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: PrivacyBudget.from_epsilon(-1.0, 1e-9), r"epsilon \(-1.0\) must be positive"),
        (lambda: PrivacyBudget.from_epsilon(0, 1e-9), r"epsilon \(0.0\) must be positive"),
        (lambda: PrivacyBudget.from_epsilon(1e6, 1e-9), r"epsilon \(1000000.0\) must be at most 100"),
        (lambda: PrivacyBudget.from_epsilon(float("nan"), 1e-9), "must be finite"),
        (lambda: PrivacyBudget.from_epsilon(1.0, 0.5), r"delta \(0.5\) must be in"),
        (lambda: PrivacyBudget.from_epsilon("1", 1e-9), "must be a number"),
        (lambda: PrivacyBudget.from_rho(-0.1), r"rho \(-0.1\) must be positive"),
        (lambda: PrivacyBudget(-1.0), "must be non-negative"),
        (lambda: PrivacyBudget(0.1) - PrivacyBudget(0.2), "would be negative"),
    ],
)
def test_budget_errors_name_the_field_and_rule(call, message):
    with pytest.raises(BudgetError, match=message):
        call()


@given(st.lists(st.floats(0, 1), max_size=10))
def test_budgets_add_exactly_and_stay_non_negative(parts):
    total = PrivacyBudget.zero()
    for p in parts:
        total = total + PrivacyBudget(p)
    assert total.rho == pytest.approx(sum(parts))
    assert total.rho >= 0
