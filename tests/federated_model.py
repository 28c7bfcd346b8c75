"""A federated model for platform tests, built through the coordinator's own assembly path.

A real ``federated_fit`` needs a CA and three site processes (tests/synthgen/federation does
that); the platform tests only need its *output*. So the three rounds' sums are computed here
from a small public table split into sites, exactly as the coordinator would add them up
(without the noise, which only the sites draw), and handed to
``synthgen.federation.coordinator.assemble_model``: the very function ``federate fit`` ends with.
"""

from __future__ import annotations

import io
import json
import secrets

import numpy as np
import pandas as pd

from synthgen.budget import PrivacyBudget
from synthgen.encoding import encode
from synthgen.federation import mst
from synthgen.federation.coordinator import assemble_model
from synthgen.federation.plan import FitPlan, RoundSpec, round_sigma, shapes
from synthgen.model import FittedModel
from synthgen.schema import Schema
from synthgen.synthesizers.config import MST
from tests.app_core.core_helpers import small_titanic

SITES = ("hospital-a", "hospital-b", "hospital-c")


def _sums(codes: dict[str, np.ndarray], schema: Schema, cliques) -> dict[tuple, np.ndarray]:
    out = {}
    for clique, shape in zip(cliques, shapes(schema, cliques)):
        flat = np.ravel_multi_index([codes[c] for c in clique], shape)
        out[tuple(clique)] = np.bincount(flat, minlength=int(np.prod(shape))).astype(float)
    return out


def federated_model(*, epsilon: float = 1.0, delta: float = 1e-9, colluding: int = 1,
                    sites: tuple[str, ...] = SITES) -> FittedModel:
    data, schema_json = small_titanic()
    schema = Schema.from_json(schema_json)
    frame = pd.read_csv(io.BytesIO(data))
    config = MST()
    budget = PrivacyBudget.from_epsilon(epsilon, delta)
    plan = FitPlan(fit_id=secrets.token_hex(16), coordinator="coord", sites=tuple(sorted(sites)), colluding=colluding,
                   synthesizer="mst", schema_fingerprint=schema.fingerprint(), epsilon=float(epsilon), delta=float(delta),
                   round_rho=tuple(float(r) for r in mst.round_budgets(config, budget.rho)))
    codes = encode(frame, schema).codes  # the union's codes: the ring sum of the sites' counts is the union's count
    oneway = _sums(codes, schema, mst.oneway_cliques(schema))
    pairs = _sums(codes, schema, mst.pair_cliques(schema))
    sigmas = [round_sigma(plan, schema, RoundSpec(0, mst.oneway_cliques(schema))),
              round_sigma(plan, schema, RoundSpec(1, mst.pair_cliques(schema)))]
    selected = tuple(mst.select_tree(schema, oneway, pairs, mst.noise_std(sigmas[1], len(sites)) ** 2))
    final = _sums(codes, schema, selected)
    sigmas.append(round_sigma(plan, schema, RoundSpec(2, selected)))
    return assemble_model(schema, config, plan, budget.rho, oneway, pairs, selected, final, sigmas)


def model_bytes(**kwargs) -> bytes:
    return federated_model(**kwargs).to_bytes()


def with_info(data: bytes, edit) -> bytes:
    """The model file with its model.json's info edited by ``edit(info)`` (a tampered copy)."""
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(data))
    header = json.loads(src.read("model.json"))
    edit(header["info"])
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("model.json", json.dumps(header))
        zf.writestr("arrays.npz", src.read("arrays.npz"))
    return out.getvalue()
