"""The coordinator: validates everything, runs the rounds, and sums the masked answers.

It never sees a site's individual vector in the clear: each answer is uniformly random in
Z_(2^64) without the other sites' masks; only the ring sum of all answers of a round is
meaningful, and it equals the sum of the sites' noisy counts. If any site fails to answer, the
sum is useless (its masks do not cancel): the fit aborts, every site is told, and the budget the
answering sites charged stays spent. There is no recovery of a dropped site's masks: recovery
(as in Bonawitz et al.) needs secret-shared keys and lets a malicious coordinator unmask a site it
merely claims dropped, which is the attack we would rather not have to argue away.
"""

from __future__ import annotations

import logging
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from synthgen.budget import PrivacyBudget
from synthgen.errors import ErrorKind, InvalidInputError, SynthgenError
from synthgen.federation import masking, mst
from synthgen.federation.pki import Credentials, check_name, identity
from synthgen.federation.plan import FitPlan, RoundSpec, round_sigma, shapes
from synthgen.federation.ring import FixedPointRing, ring_sum
from synthgen.federation.transport import ADDRESS_FORM, decode_vector, post, split_address
from synthgen.model import FittedModel, build_info
from synthgen.schema import Schema
from synthgen.synthesizers import check_fit_inputs
from synthgen.synthesizers.config import MST

log = logging.getLogger(__name__)


class FederationAbortedError(SynthgenError):
    """A round could not complete (a site dropped out or refused); its budget stays spent."""
    kind = ErrorKind.CONFLICT  # the fit must be started again; the aborted rounds stay charged


@dataclass(frozen=True)
class SiteAddress:
    name: str
    address: str

    @classmethod
    def parse(cls, text: str) -> "SiteAddress":
        name, sep, address = text.partition("=")
        try:
            if not sep:
                raise InvalidInputError("no '='")
            split_address(address)
        except InvalidInputError:
            raise InvalidInputError(f"site ({text!r}) must look like NAME={ADDRESS_FORM}") from None
        return cls(check_name(name), address)


@dataclass
class FederatedFit:
    model: FittedModel
    plan: FitPlan
    #: per round, per site, the masked vectors exactly as received (what the coordinator sees)
    transcript: list[dict[str, list[np.ndarray]]] = field(default_factory=list)


def check_request(sites: list[SiteAddress], synthesizer: str, epsilon: float, delta: float, colluding: int) -> PrivacyBudget:
    """Eager validation, before any connection is opened."""
    if synthesizer != "mst":
        raise InvalidInputError(f"synthesizer ({synthesizer!r}) must be mst for a federated fit (AIM is not supported yet)")
    names = [s.name for s in sites]
    if len(set(names)) != len(names):
        raise InvalidInputError(f"sites ({', '.join(names)}) must have distinct names")
    if len(sites) < 2:
        raise InvalidInputError(f"sites ({len(sites)}) must number at least 2 (one site is a central fit)")
    budget = PrivacyBudget.from_epsilon(epsilon, delta)
    from synthgen.federation.noise import check_collusion

    check_collusion(len(sites), colluding)
    FixedPointRing().check_capacity(len(sites))
    return budget


def coordinator_name(credentials: Credentials) -> str:
    name, role = identity(credentials.certificate())
    if role != "coordinator":
        raise InvalidInputError(f"cert ({credentials.cert}) is a {role or 'unknown'} certificate, not a coordinator's")
    return name


def federated_fit(
    sites: list[SiteAddress], schema: Schema, credentials: Credentials, *, epsilon: float, delta: float = 1e-9,
    colluding: int = 0, config: MST | None = None, progress: Callable[[float, str], None] | None = None,
    between_rounds: Callable[[int], None] | None = None,
) -> FederatedFit:
    config = config or MST()
    budget = check_request(sites, "mst", epsilon, delta, colluding)
    check_fit_inputs(schema, config, budget)
    if len(schema.synthesized_columns) < 2:
        # with one column there is no pair to select or measure, and the plan's last rounds would go unused
        raise InvalidInputError(f"schema ({len(schema.synthesized_columns)} synthesized column) must have at least 2 for a federated MST")
    coordinator = coordinator_name(credentials)
    report = progress or (lambda f, m: None)
    sites = sorted(sites, key=lambda s: s.name)
    by_name = {s.name: s for s in sites}
    plan = FitPlan(
        fit_id=secrets.token_hex(16), coordinator=coordinator, sites=tuple(by_name), colluding=colluding,
        synthesizer="mst", schema_fingerprint=schema.fingerprint(), epsilon=float(epsilon), delta=float(delta),
        round_rho=tuple(float(r) for r in mst.round_budgets(config, budget.rho)),
    )
    ring = FixedPointRing()
    started = time.monotonic()
    pool = ThreadPoolExecutor(max_workers=len(sites))

    def call_all(path: str, body: dict) -> dict[str, dict]:
        futures = {name: pool.submit(post, credentials, s.address, path, body, expect=(name, "site")) for name, s in by_name.items()}
        answers, failures = {}, []
        for name, future in futures.items():
            try:
                answers[name] = future.result()
            except SynthgenError as exc:
                failures.append(str(exc))
        if failures:
            raise FederationAbortedError("; ".join(failures))
        return answers

    def abort(reason: str) -> None:
        for name, s in by_name.items():
            try:
                post(credentials, s.address, "/v1/finish", {"fit_id": plan.fit_id, "status": "aborted", "reason": reason}, expect=(name, "site"), timeout=10)
            except SynthgenError:
                continue  # a dropped site learns of the abort from its own missing session

    transcript: list[dict[str, list[np.ndarray]]] = []

    def run_round(index: int, cliques) -> dict[tuple, np.ndarray]:
        spec = RoundSpec(index, tuple(cliques))
        report(0.1 + 0.25 * index, f"round {index + 1}: {mst.ROUND_NAMES[index]}")
        answers = call_all("/v1/round", {"fit_id": plan.fit_id, "round": spec.to_dict(), "keys": bundle})
        sizes = [int(np.prod(s)) for s in shapes(schema, spec.cliques)]
        received = {name: [decode_vector(v, n) for v, n in zip(a["vectors"], sizes)] for name, a in answers.items()}
        transcript.append(received)
        out = {}
        for i, (clique, shape) in enumerate(zip(spec.cliques, shapes(schema, spec.cliques))):
            total = ring.decode(ring_sum([received[name][i] for name in by_name]))
            out[clique] = total.reshape(-1)
        return out

    try:
        report(0.02, f"joining {len(sites)} sites")
        joined = call_all("/v1/join", {"plan": plan.to_dict(), "schema": schema.to_dict()})
        bundle = [
            {"site": name, "x25519": a["x25519"], "signature": a["signature"], "certificate": a["certificate"]}
            for name, a in sorted(joined.items())
        ]
        for name, answer in joined.items():
            if answer.get("site") != name or len(bytes.fromhex(answer["x25519"])) != 32:
                raise masking.KeyAgreementError(f"site {name!r} announced a malformed key")
        rounds_sigma = []
        oneway = run_round(0, mst.oneway_cliques(schema))
        rounds_sigma.append(round_sigma(plan, schema, RoundSpec(0, mst.oneway_cliques(schema))))
        if between_rounds:
            between_rounds(0)
        pairs = run_round(1, mst.pair_cliques(schema))
        sigma_pairs = round_sigma(plan, schema, RoundSpec(1, mst.pair_cliques(schema)))
        rounds_sigma.append(sigma_pairs)
        if between_rounds:
            between_rounds(1)
        tree = mst.select_tree(schema, oneway, pairs, mst.noise_std(sigma_pairs, len(sites)) ** 2)
        selected = tuple(tree)
        final = run_round(2, selected) if selected else {}
        rounds_sigma.append(round_sigma(plan, schema, RoundSpec(2, selected)) if selected else 0.0)
    except (SynthgenError, KeyError, ValueError, TypeError) as exc:
        pool.shutdown(wait=False)
        abort(str(exc)[:300])
        raise FederationAbortedError(
            f"federated fit {plan.fit_id} aborted ({exc}); every round a site answered stays charged to its ledger"
        ) from None
    try:  # the measurements are complete; a site missing this notice only keeps the fit open in its ledger
        call_all("/v1/finish", {"fit_id": plan.fit_id, "status": "completed"})
    except FederationAbortedError as exc:
        log.warning("fit %s: could not tell every site it completed (%s)", plan.fit_id, exc)
    pool.shutdown(wait=True)
    report(0.8, "fitting the model to the aggregated measurements")
    model = assemble_model(schema, config, plan, budget.rho, oneway, pairs, selected, final, rounds_sigma)
    # the duration goes to the log only: a fit's duration grows with the sites' table sizes, so in
    # the model file it would be an unpaid statistic of their data
    log.info("fit %s: fitted in %.1f s", plan.fit_id, time.monotonic() - started)
    report(1.0, "done")
    return FederatedFit(model=model, plan=plan, transcript=transcript)


def assemble_model(
    schema: Schema, config: MST, plan: FitPlan, rho_requested: float, oneway: dict[tuple, np.ndarray],
    pairs: dict[tuple, np.ndarray], selected: tuple, final: dict[tuple, np.ndarray], rounds_sigma: list[float],
) -> FittedModel:
    """The fitted model and its ``model.info`` from the three rounds' aggregated (noisy) sums.

    Pure post-processing of the sums; the info block's ``accounting.federation`` is what the
    platform registers and shows (``synthgen.federation.record`` checks it is consistent)."""
    n_sites = len(plan.sites)
    measured = [(c, y, mst.noise_std(rounds_sigma[0], n_sites)) for c, y in oneway.items()]
    measured += [(c, pairs[c], mst.noise_std(rounds_sigma[1], n_sites)) for c in selected]
    measured += [(c, y, mst.noise_std(rounds_sigma[2], n_sites)) for c, y in final.items()]
    sampler, total = mst.fit_model(schema, config, measured)
    details = {
        "privacy_unit": "one row" if not schema.privacy_unit.person_column else f"one person with at most {schema.privacy_unit.max_rows} rows",
        "rho_consumed": plan.rho,
        "measured_cliques": [list(c) for c in (*oneway, *selected)],
        "federation": {
            "fit_id": plan.fit_id, "coordinator": plan.coordinator, "sites": list(plan.sites), "colluding": plan.colluding,
            "epsilon": plan.epsilon, "delta": plan.delta,
            "rounds": [
                {"name": mst.ROUND_NAMES[i], "rho": plan.round_rho[i], "noise_scale_per_site": rounds_sigma[i],
                 "noise_std_of_sum": mst.noise_std(rounds_sigma[i], n_sites)}
                for i in range(3)
            ],
            "guarantee": guarantee_text(plan),
        },
    }
    info = build_info(schema=schema, config=config, budget={"rho": plan.rho, "rho_requested": rho_requested},
                      default_rows=total, details=details)
    return FittedModel(schema=schema, config=config, info=info, sampler=sampler)


def guarantee_text(plan: FitPlan) -> str:
    n, c = len(plan.sites), plan.colluding
    return (f"rho {plan.rho:.6g} against the coordinator together with up to {c} sites; "
            f"rho {plan.rho * (n - c) / n:.6g} against the coordinator alone")


def save_model(fit: FederatedFit, path: str | Path) -> None:
    fit.model.save(path)
