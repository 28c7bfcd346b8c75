"""The one registry of synthesizer facts that the dashboard, the API, the CLI and the service read."""

from __future__ import annotations

import pytest

from synthgen.budget import MAX_EPSILON, PrivacyBudget, privacy_summary
from synthgen.errors import BudgetError, InvalidInputError
from synthgen.synthesizers import SYNTHESIZERS, registry


def test_every_synthesizer_has_its_facts_in_one_place():
    facts = {f.name: f for f in registry.all_facts()}
    assert list(facts) == list(SYNTHESIZERS)
    assert {n for n, f in facts.items() if f.dp} == {"mst", "aim"}
    assert all(f.max_epsilon == MAX_EPSILON for f in facts.values() if f.dp)
    assert all(f.max_epsilon is None for f in facts.values() if not f.dp)
    assert facts["mst"].description == "MST — differentially private (fast; good for many columns)"
    assert facts["ctgan"].description == "CTGAN — baseline, no formal privacy"


def test_the_cap_is_the_one_the_budget_enforces():
    cap = registry.facts("mst").max_epsilon
    assert PrivacyBudget.from_epsilon(cap, 1e-9).rho > 0
    with pytest.raises(BudgetError, match="must be at most"):
        PrivacyBudget.from_epsilon(cap * 1.01, 1e-9)


@pytest.mark.parametrize("name", ["MST", "", None, 3, "pategan"])
def test_an_unknown_synthesizer_is_bad_input_naming_the_choices(name):
    with pytest.raises(InvalidInputError, match="must be one of aim, mst, gaussian_copula, ctgan"):
        registry.facts(name)


def test_options_are_checked_before_any_work():
    assert registry.check_options("mst", {"estimation_iters": 50})["estimation_iters"] == 50
    with pytest.raises(InvalidInputError, match="unknown option"):
        registry.check_options("mst", {"estimation_iter": 50})
    with pytest.raises(InvalidInputError, match="must be an object"):
        registry.check_options("aim", [1])
    with pytest.raises(InvalidInputError, match="JSON-serializable"):
        registry.check_options("aim", {"rounds": object()})


def test_privacy_summary_states_epsilon_of_the_consumed_rho_at_delta():
    charged = PrivacyBudget.from_epsilon(1.0, 1e-9)
    consumed = charged.rho * (1 - 5e-9)  # OpenDP's MST takes a hair less (KNOWN-PITFALLS #2)
    summary = privacy_summary(consumed, 1e-9, "mst")
    assert summary["rho"] == consumed and summary["epsilon"] < 1.0
    assert summary["epsilon"] == pytest.approx(1.0, rel=1e-6)
    assert summary["conversion"].startswith("OpenDP") and summary["mechanism"] == "mst"
