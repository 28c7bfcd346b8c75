"""Privacy budgets as immutable values.

Internally every budget is zero-concentrated DP (ρ, "rho"): zCDP composes exactly by adding ρ,
which is what a ledger needs. People think in (ε, δ), so a budget can be created from and shown
as (ε, δ); the conversion is always OpenDP's tight zCDP → approximate-DP conversion (the simple
closed-form bound differs from it by about 27 % at ε = 1, see KNOWN-PITFALLS #6), and every
place that shows ε says which conversion it used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from synthgen.errors import BudgetError

#: Conversion used for every (ε, δ) figure shown by synthgen.
CONVERSION = "OpenDP zCDP→approx-DP privacy profile (tight)"

#: Largest ε synthgen accepts for one request; beyond this a DP guarantee is meaningless.
MAX_EPSILON = 100.0
MAX_RHO = 100.0


def _check_number(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BudgetError(f"{name} ({value!r}) must be a number")
    value = float(value)
    if math.isnan(value) or math.isinf(value):
        raise BudgetError(f"{name} ({value}) must be finite")
    return value


def check_delta(delta: float) -> float:
    delta = _check_number("delta", delta)
    if not 0.0 < delta < 1e-3:
        raise BudgetError(f"delta ({delta}) must be in (0, 0.001)")
    return delta


@lru_cache(maxsize=4096)
def rho_to_epsilon(rho: float, delta: float) -> float:
    """ε of the (ε, δ)-DP guarantee implied by ρ-zCDP, via OpenDP's privacy profile."""
    if rho == 0.0:
        return 0.0
    from synthgen._opendp import dp

    # A Gaussian mechanism on a sensitivity-1 query with scale s is exactly 1/(2 s^2)-zCDP;
    # OpenDP's conversion of that measurement is the conversion of ρ itself.
    scale = math.sqrt(1.0 / (2.0 * rho))
    gaussian = dp.m.make_gaussian(dp.atom_domain(T=float, nan=False), dp.absolute_distance(T=float), scale=scale)
    profile = dp.c.make_zCDP_to_approxDP(gaussian).map(1.0)
    return float(profile.epsilon(delta))


@lru_cache(maxsize=4096)
def epsilon_to_rho(epsilon: float, delta: float) -> float:
    """Largest ρ whose OpenDP (ε, δ) conversion does not exceed ``epsilon`` at ``delta``."""
    lo, hi = 0.0, max(epsilon, 1.0)
    while rho_to_epsilon(hi, delta) < epsilon:
        hi *= 2.0
    for _ in range(200):  # bisection to float precision, rounding towards the safe (smaller) side
        mid = (lo + hi) / 2.0
        if mid in (lo, hi):
            break
        if rho_to_epsilon(mid, delta) <= epsilon:
            lo = mid
        else:
            hi = mid
    return lo


def privacy_summary(rho_consumed: float, delta: float, mechanism: str) -> dict:
    """What a release card, a manifest or the API says about a release's privacy: built here
    and only here, from the ρ that OpenDP reported as consumed (``model.info["budget"]["rho"]``),
    with ε at ``delta`` by OpenDP's conversion, named. Its keys are the ones
    ``evaluation.evaluate(privacy=...)`` accepts."""
    rho = PrivacyBudget(rho_consumed).rho
    return {"rho": rho, "delta": check_delta(delta), "epsilon": rho_to_epsilon(rho, delta),
            "conversion": CONVERSION, "mechanism": str(mechanism)}


@dataclass(frozen=True, order=True)
class PrivacyBudget:
    """A non-negative amount of privacy loss, held as ρ (zCDP)."""

    rho: float

    def __post_init__(self) -> None:
        rho = _check_number("rho", self.rho)
        if rho < 0:
            raise BudgetError(f"rho ({rho}) must be non-negative")
        if rho > MAX_RHO:
            raise BudgetError(f"rho ({rho}) must be at most {MAX_RHO}")
        object.__setattr__(self, "rho", rho)

    @classmethod
    def from_rho(cls, rho: float) -> "PrivacyBudget":
        rho = _check_number("rho", rho)
        if rho <= 0:
            raise BudgetError(f"rho ({rho}) must be positive")
        return cls(rho)

    @classmethod
    def from_epsilon(cls, epsilon: float, delta: float) -> "PrivacyBudget":
        epsilon = _check_number("epsilon", epsilon)
        if epsilon <= 0:
            raise BudgetError(f"epsilon ({epsilon}) must be positive")
        if epsilon > MAX_EPSILON:
            raise BudgetError(f"epsilon ({epsilon}) must be at most {MAX_EPSILON}")
        delta = check_delta(delta)
        return cls(epsilon_to_rho(epsilon, delta))

    @classmethod
    def zero(cls) -> "PrivacyBudget":
        return cls(0.0)

    def epsilon(self, delta: float) -> float:
        """ε at ``delta`` (OpenDP's conversion)."""
        return rho_to_epsilon(self.rho, check_delta(delta))

    def __add__(self, other: "PrivacyBudget") -> "PrivacyBudget":
        return PrivacyBudget(self.rho + other.rho)

    def __sub__(self, other: "PrivacyBudget") -> "PrivacyBudget":
        if other.rho > self.rho:
            raise BudgetError(f"rho ({self.rho} - {other.rho}) would be negative")
        return PrivacyBudget(self.rho - other.rho)

    def describe(self, delta: float) -> str:
        return f"ε = {self.epsilon(delta):.4g} at δ = {delta:g} (ρ = {self.rho:.6g} zCDP)"

    def summary(self, delta: float, mechanism: str) -> dict:
        """The privacy summary of a release that consumed this budget: see :func:`privacy_summary`."""
        return privacy_summary(self.rho, delta, mechanism)

    def to_dict(self, delta: float | None = None) -> dict:
        out: dict = {"rho": self.rho}
        if delta is not None:
            out.update(epsilon=self.epsilon(delta), delta=delta, conversion=CONVERSION)
        return out
