"""The federation record of a fitted model: what ``federate fit`` wrote into ``model.info``, checked.

A platform that registers a federated model (``app.core.services.federated``) has no central
table and no site's ledger: all it can know about the fit is this record. So it is read strictly
and *recomputed*: the rounds' ρ from the fit's ε at δ (the split ``mst.round_budgets`` makes), each
round's per-site noise scale from the plan and the public schema (``plan.round_sigma``), the
model's ρ and the trust-model statement. An info block that was edited after the fit (ε lowered,
a site dropped, the colluders changed, a round's noise shrunk) no longer matches and is refused.

What this cannot prove: that the rounds ran at all. A coordinator that fabricated a whole model
and a consistent record would pass; the evidence against that is in each site's own audit log
and ledger (``synthgen site status``), which the record names, and the privacy officer's review.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from synthgen.budget import PrivacyBudget
from synthgen.errors import ModelFileError, SynthgenError
from synthgen.federation import mst
from synthgen.federation.plan import FitPlan, RoundSpec, round_sigma
from synthgen.model import FittedModel
from synthgen.synthesizers.config import MST

_TOLERANCE = 1e-9


@dataclass(frozen=True)
class SitePart:
    """One site's part in a fit: what its own ledger was charged."""

    name: str
    rho: float
    epsilon: float
    rounds: int


@dataclass(frozen=True)
class FederationRecord:
    fit_id: str
    coordinator: str
    sites: tuple[SitePart, ...]
    colluding: int
    epsilon: float
    delta: float
    rho: float
    rounds: tuple[dict[str, Any], ...]
    guarantee: str

    def to_dict(self) -> dict[str, Any]:
        return {"fit_id": self.fit_id, "coordinator": self.coordinator, "colluding": self.colluding,
                "epsilon": self.epsilon, "delta": self.delta, "rho": self.rho, "guarantee": self.guarantee,
                "rounds": [dict(r) for r in self.rounds],
                "sites": [{"name": p.name, "rho": p.rho, "epsilon": p.epsilon, "rounds": p.rounds} for p in self.sites]}


def _close(a: float, b: float) -> bool:
    return math.isclose(float(a), float(b), rel_tol=_TOLERANCE, abs_tol=1e-15)


def read_record(model: FittedModel, source: str = "model file") -> FederationRecord:
    """The checked federation record of ``model``; ``ModelFileError`` naming what is wrong."""
    info = model.info
    fed = (info.get("accounting") or {}).get("federation") if isinstance(info.get("accounting"), dict) else None
    if not isinstance(fed, dict):
        raise ModelFileError(f"{source} is not a federated fit (its model.info has no federation record); "
                             "register a model written by 'synthgen federate fit'")
    if not isinstance(model.config, MST) or info.get("synthesizer") != "mst" or not info.get("dp"):
        raise ModelFileError(f"{source}: synthesizer ({info.get('synthesizer')!r}) must be a DP mst fit for a federated model")
    try:
        sites = tuple(fed["sites"])
        epsilon, delta = fed["epsilon"], fed["delta"]
        round_rho = mst.round_budgets(model.config, PrivacyBudget.from_epsilon(epsilon, delta).rho)
        plan = FitPlan(fit_id=fed["fit_id"], coordinator=fed["coordinator"], sites=sites, colluding=fed["colluding"],
                       synthesizer="mst", schema_fingerprint=model.schema.fingerprint(), epsilon=epsilon, delta=delta,
                       round_rho=tuple(float(r) for r in round_rho))
        rounds = fed["rounds"]
        cliques = [tuple(c) for c in info["accounting"]["measured_cliques"]]
    except SynthgenError as exc:
        raise ModelFileError(f"{source}: the federation record is not one a fit could write ({exc})") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{source}: the federation record is incomplete ({type(exc).__name__}: {exc})") from None
    oneway, pairs = mst.oneway_cliques(model.schema), mst.pair_cliques(model.schema)
    selected = tuple(cliques[len(oneway):])
    specs = [RoundSpec(0, oneway), RoundSpec(1, pairs), RoundSpec(2, selected)]

    def tampered(what: str) -> ModelFileError:
        return ModelFileError(f"{source}: the federation record was altered after the fit ({what} does not match "
                              "what the fit's epsilon, delta, sites, colluders and schema give)")

    if not isinstance(rounds, list) or len(rounds) != 3 or tuple(cliques[:len(oneway)]) != oneway:
        raise tampered("the list of rounds")
    for spec, recorded in zip(specs, rounds):
        if not isinstance(recorded, dict) or not _close(recorded.get("rho", -1), plan.round_rho[spec.index]):
            raise tampered(f"round {spec.index + 1}'s rho")
        sigma = round_sigma(plan, model.schema, spec) if spec.cliques else 0.0
        if not _close(recorded.get("noise_scale_per_site", -1), sigma) \
                or not _close(recorded.get("noise_std_of_sum", -1), mst.noise_std(sigma, len(plan.sites))):
            raise tampered(f"round {spec.index + 1}'s noise scale")
    budget = info.get("budget") or {}
    if not _close(budget.get("rho", -1), plan.rho) or not _close(info["accounting"].get("rho_consumed", -1), plan.rho):
        raise tampered("the model's rho")
    from synthgen.federation.coordinator import guarantee_text

    if fed.get("guarantee") != guarantee_text(plan):
        raise tampered("the trust-model statement")
    # every site answers every round and charges its own ledger that round's ρ, so each site's
    # part is the fit's ρ (one central Gaussian mechanism's worth, not a 1/n share of it)
    from synthgen.budget import rho_to_epsilon

    answered = sum(1 for spec in specs if spec.cliques)
    eps_charged = float(rho_to_epsilon(plan.rho, delta))
    parts = tuple(SitePart(name=s, rho=plan.rho, epsilon=eps_charged, rounds=answered) for s in plan.sites)
    return FederationRecord(fit_id=plan.fit_id, coordinator=plan.coordinator, sites=parts, colluding=plan.colluding,
                            epsilon=float(epsilon), delta=float(delta), rho=plan.rho, rounds=tuple(rounds),
                            guarantee=fed["guarantee"])
