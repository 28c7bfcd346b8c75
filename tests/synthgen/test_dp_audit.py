"""Empirical differential-privacy audit: a lower bound on each synthesizer's privacy loss.

Design (fixed before any run, so nothing is tuned on the outcomes):

* Neighbouring tables: ``D`` has 200 rows over two public categorical columns; ``D'`` is ``D``
  plus one canary row whose value ``a = "canary"`` no other row holds. The schema (public)
  declares the canary category for both, so only the data differ. With the row as privacy unit
  they are neighbours, and an (ε, δ)-DP synthesizer S must satisfy, for every event E,
  ``P[S(D') in E] <= e^ε P[S(D) in E] + δ`` and the same with D and D' swapped.
* Distinguishing statistic, a black-box test on the released synthetic table: E = "at least
  ``THRESHOLD`` of the ``SAMPLE_ROWS`` synthetic rows are canaries". A synthesizer that learnt
  the canary puts about 2000/201 ≈ 10 there; one that did not, about 0.
* Many independent fits of each table (fresh OpenDP noise each time, never seeded); the share
  of fits in E estimates P[S(D') in E] (the true-positive rate) and P[S(D) in E] (the
  false-positive rate). Exact one-sided Clopper-Pearson bounds at level ``ALPHA`` give a lower
  bound on TPR and an upper bound on FPR, and so, with confidence about 1 - 2·ALPHA,
  ``eps_hat = ln((TPR_low - δ) / FPR_high)`` (or the same for the complement event,
  whichever is larger) is a lower bound on the true ε.
* Assertions: ``eps_hat <= ε`` for MST and AIM at ε = 1; ``eps_hat >= 2`` for a non-private
  resampler (negative control: the audit must catch a leaking synthesizer); and, as a positive
  control that the pipeline can see a canary through MST at all, MST at ρ = 100 (ε ≈ 190) must
  reach ``eps_hat > 1``, above the ε the DP runs claim.

Power. With N fits per table, even a synthesizer that always shows the canary in D' and never
in D yields at most ``eps_max(N) = ln(ALPHA**(1/N) / (1 - ALPHA**(1/N)))``:

====================  ====  ==========  ======================================================
run                     N   eps_max(N)  what it can detect
====================  ====  ==========  ======================================================
MST at ε = 1            30     2.25     fails (eps_hat > 1) when, with no canary ever seen on
                                        D, it shows in at least 13 of the 30 fits on D'
AIM at ε = 1            16     1.58     fails when, with no canary seen on D, it shows in at
                                        least 12 of the 16 fits on D': a gross leak only (an
                                        AIM fit costs ~5 s, almost all of it OpenDP's
                                        calibration of the one-way marginals)
positive control (MST)  15     1.51     must reach > 1
negative control        100    3.49     must reach >= 2
====================  ====  ==========  ======================================================

So this audit catches leaks that make one person's row visible in the output (a missing noise
term, an exact count or a data-derived category reaching the model, a seeded or reused noise
draw) and says nothing about violations of the order of ε itself: at ε = 1 a correct Gaussian
mechanism's noise on one count (σ ≈ 16 here) makes TPR ≈ FPR. A false alarm on a correct
synthesizer needs both Clopper-Pearson bounds to fail in the same run (probability below
2·ALPHA = 10 %, and far lower in practice because the true rates are nearly equal, so
``TPR_low > e·FPR_high`` would need both estimates off by many standard errors).
Measured (2026-11-30, 2 cores): resampler 96-99 of 100 fits on D' showed the canary, 0 on D
(eps_hat 3.43-3.48); MST at ρ = 100 all fits on D' and none on D (eps_hat at its maximum);
MST and AIM at ε = 1 showed it about as often on D as on D' (eps_hat 0). Run time 108 s alone
on 2 cores (AIM 72 s, MST 22 s, positive control 12 s); up to three times that when other jobs
share the cores.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import pandas as pd
import pytest
from scipy.stats import beta

from synthgen.budget import PrivacyBudget
from synthgen.schema import Column, Schema
from synthgen.synthesizers import AIM, MST, fit

pytestmark = [pytest.mark.slow, pytest.mark.statistical]

ALPHA = 0.05  # one-sided level of each Clopper-Pearson bound
DELTA = 1e-9
EPSILON = 1.0
ROWS = 200
SAMPLE_ROWS = 2000
THRESHOLD = 4
CANARY = "canary"
MST_FITS, AIM_FITS, POSITIVE_FITS, NEGATIVE_FITS = 30, 16, 15, 100
SCHEMA = Schema(columns=(
    Column("a", "categorical", categories=("p", "q", "r", CANARY)),
    Column("b", "categorical", categories=("x", "y")),
))


def neighbouring_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(20261130)  # the table itself, not DP noise
    d = pd.DataFrame({"a": rng.choice(["p", "q", "r"], size=ROWS), "b": rng.choice(["x", "y"], size=ROWS)})
    d_prime = pd.concat([d, pd.DataFrame({"a": [CANARY], "b": ["x"]})], ignore_index=True)
    return d, d_prime


# -- exact binomial bounds ---------------------------------------------------------------------

def clopper_pearson_lower(k: int, n: int, alpha: float = ALPHA) -> float:
    """One-sided exact lower bound on a binomial proportion (P[p < bound] <= alpha)."""
    return 0.0 if k == 0 else float(beta.ppf(alpha, k, n - k + 1))


def clopper_pearson_upper(k: int, n: int, alpha: float = ALPHA) -> float:
    """One-sided exact upper bound on a binomial proportion (P[p > bound] <= alpha)."""
    return 1.0 if k == n else float(beta.ppf(1 - alpha, k + 1, n - k))


def epsilon_lower_bound(hits_d_prime: int, hits_d: int, n: int, delta: float = DELTA, alpha: float = ALPHA) -> float:
    """eps_hat from the event counts on D' and D (n fits each)."""
    best = 0.0
    # DP bounds both directions (D vs D', D' vs D) for the event and for its complement
    pairs = ((hits_d_prime, hits_d), (hits_d, hits_d_prime), (n - hits_d, n - hits_d_prime), (n - hits_d_prime, n - hits_d))
    for tp, fp in pairs:
        low, high = clopper_pearson_lower(tp, n, alpha) - delta, clopper_pearson_upper(fp, n, alpha)
        if low > 0:
            best = max(best, math.log(low / high))
    return best


def eps_max(n: int, alpha: float = ALPHA) -> float:
    return epsilon_lower_bound(n, 0, n, delta=0.0, alpha=alpha)


# -- synthesizers under audit --------------------------------------------------------------------

Synthesize = Callable[[pd.DataFrame, np.random.Generator], pd.DataFrame]


def dp_synthesizer(config, budget: PrivacyBudget) -> Synthesize:
    def run(table: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        return fit(table, SCHEMA, config, budget).sample(SAMPLE_ROWS, rng=rng)

    return run


def resampler(table: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Negative control: draws the training rows themselves. Not private at all."""
    return table.iloc[rng.integers(0, len(table), size=SAMPLE_ROWS)].reset_index(drop=True)


def audit(synthesize: Synthesize, fits: int) -> tuple[float, int, int]:
    """(eps_hat, fits on D' in the event, fits on D in the event)."""
    d, d_prime = neighbouring_tables()
    rng = np.random.default_rng()  # sampling randomness only; OpenDP draws its own noise

    def hits(table: pd.DataFrame) -> int:
        return sum(int((synthesize(table, rng)["a"] == CANARY).sum() >= THRESHOLD) for _ in range(fits))

    tp, fp = hits(d_prime), hits(d)
    eps_hat = epsilon_lower_bound(tp, fp, fits)
    print(f"audit: {fits} fits per table, canary event on D' {tp}, on D {fp}, eps_hat {eps_hat:.3f}")
    return eps_hat, tp, fp


DP_BUDGET = PrivacyBudget.from_epsilon(EPSILON, DELTA)


# -- the bounds themselves -----------------------------------------------------------------------

def test_clopper_pearson_bounds_are_exact():
    from scipy.stats import binomtest

    # all-or-nothing outcomes have closed forms: ALPHA ** (1/n)
    assert clopper_pearson_upper(0, 40) == pytest.approx(1 - ALPHA ** (1 / 40))
    assert clopper_pearson_lower(40, 40) == pytest.approx(ALPHA ** (1 / 40))
    # one-sided at ALPHA equals scipy's exact two-sided interval at 2·ALPHA
    ci = binomtest(7, 30).proportion_ci(confidence_level=1 - 2 * ALPHA, method="exact")
    assert (clopper_pearson_lower(7, 30), clopper_pearson_upper(7, 30)) == pytest.approx((ci.low, ci.high))
    # the power table of the module docstring
    assert [round(eps_max(n), 2) for n in (MST_FITS, AIM_FITS, POSITIVE_FITS, NEGATIVE_FITS)] == [2.25, 1.58, 1.51, 3.49]
    assert min(k for k in range(MST_FITS + 1) if epsilon_lower_bound(k, 0, MST_FITS) > EPSILON) == 13
    assert epsilon_lower_bound(20, 20, 40) == 0.0  # equal rates prove nothing
    assert epsilon_lower_bound(0, 40, 40) == pytest.approx(eps_max(40))  # the complement event counts too


# -- controls --------------------------------------------------------------------------------------

def test_negative_control_a_resampler_is_caught():
    eps_hat, tp, fp = audit(resampler, fits=NEGATIVE_FITS)
    assert eps_hat >= 2, (eps_hat, tp, fp)


def test_positive_control_mst_at_huge_budget_shows_the_canary():
    eps_hat, tp, fp = audit(dp_synthesizer(MST(), PrivacyBudget.from_rho(100.0)), fits=POSITIVE_FITS)
    assert eps_hat > EPSILON, (eps_hat, tp, fp)


# -- the DP synthesizers ---------------------------------------------------------------------------

def test_mst_privacy_loss_is_below_its_epsilon():
    eps_hat, tp, fp = audit(dp_synthesizer(MST(), DP_BUDGET), fits=MST_FITS)
    assert eps_hat <= EPSILON, (eps_hat, tp, fp)


def test_aim_privacy_loss_is_below_its_epsilon():
    eps_hat, tp, fp = audit(dp_synthesizer(AIM(rounds=2, estimation_iters=300, max_model_mb=0.5), DP_BUDGET), fits=AIM_FITS)
    assert eps_hat <= EPSILON, (eps_hat, tp, fp)
