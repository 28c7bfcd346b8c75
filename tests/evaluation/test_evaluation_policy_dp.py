"""The default policy against real DP output: a good MST release passes the utility gates, a
broken release (every column shuffled independently) fails them, on a small Adult table."""

import numpy as np
import pytest

from evaluation import default_policy, evaluate
from synthgen.budget import PrivacyBudget
from synthgen.synthesizers import MST, fit

pytestmark = [pytest.mark.slow, pytest.mark.statistical]


@pytest.fixture(scope="module")
def small_adult(adult):
    # 10,000 training rows: MST at eps=1 scored 3-way TVD 0.122-0.130, association 0.054-0.062 and
    # TSTR AUC ratio 0.90-0.93 over three fits (the gates: 0.18, 0.10, 0.75); shuffles 0.189,
    # 0.116, 0.49-0.65 (see evaluation/default_policy.toml)
    perm = np.random.default_rng(3).permutation(len(adult))
    take = lambda a, b: adult.iloc[perm[a:b]].reset_index(drop=True)
    return take(0, 10_000), take(10_000, 13_000)


def test_default_policy_passes_good_dp_release_and_fails_broken_one(small_adult, adult_schema):
    train, control = small_adult
    budget = PrivacyBudget.from_epsilon(1.0, 1e-9)
    model = fit(train, adult_schema, MST(), budget)  # DP noise is OpenDP's, never seeded
    good = model.sample(rng=np.random.default_rng(0))
    rng = np.random.default_rng(1)
    broken = train.apply(lambda c: c.to_numpy()[rng.permutation(len(c))])
    privacy = {"epsilon": 1.0, "delta": 1e-9}
    reports = {
        name: evaluate(train, syn, control, adult_schema, rng=np.random.default_rng(2), policy=default_policy(),
                       target="income", n_attacks=200, privacy=privacy)
        for name, syn in (("good", good), ("broken", broken))
    }
    good_r, broken_r = reports["good"], reports["broken"]
    assert good_r.group_verdict("utility") == "pass", [(m.name, m.value) for m in good_r.by_group("utility") if m.verdict == "fail"]
    assert broken_r.group_verdict("utility") == "fail"
    # dependence is what a shuffle destroys: the association and TSTR gates must catch it
    assert broken_r.metric("association_diff_mean").verdict == "fail"
    assert broken_r.metric("tstr_auc_ratio").verdict == "fail"
    # the shuffle keeps every 1-way marginal exactly
    assert broken_r.metric("tvd_1way_mean").value == 0.0
    assert good_r.metric("epsilon").verdict == "pass"
