"""The measurement plan: what the coordinator asks for, and what each site checks for itself.

A site never takes a noise scale or a sensitivity from the coordinator: it recomputes both from the
plan (the round's ρ, the number of sites, the declared number of colluders) and the shared schema,
so a coordinator cannot lower the noise by sending a different number.

The plan header is fixed when the sites join; the cliques of a round may depend on earlier
rounds (MST measures the pairs it selected), so they come with each round request, and their hash
is bound into the masks together with the header's hash.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass

from synthgen.budget import check_delta
from synthgen.errors import InvalidInputError
from synthgen.federation.noise import check_collusion, site_sigma
from synthgen.federation.pki import check_name
from synthgen.schema import Schema

SUPPORTED = ("mst",)
MAX_SITES = 64


def canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


@dataclass(frozen=True)
class FitPlan:
    fit_id: str
    coordinator: str
    sites: tuple[str, ...]
    colluding: int
    synthesizer: str
    schema_fingerprint: str
    epsilon: float
    delta: float
    #: ρ of each round, in order; their sum is the fit's ρ
    round_rho: tuple[float, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.fit_id, str) or len(self.fit_id) != 32 or not all(c in "0123456789abcdef" for c in self.fit_id):
            raise InvalidInputError(f"fit_id ({self.fit_id!r}) must be 32 lowercase hex digits")
        check_name(self.coordinator)
        sites = tuple(self.sites)
        for s in sites:
            check_name(s)
        if len(set(sites)) != len(sites) or list(sites) != sorted(sites):
            raise InvalidInputError("sites must be distinct and sorted")
        if not 2 <= len(sites) <= MAX_SITES:
            raise InvalidInputError(f"sites ({len(sites)}) must number between 2 and {MAX_SITES}")
        check_collusion(len(sites), self.colluding)
        if isinstance(self.epsilon, bool) or not isinstance(self.epsilon, (int, float)) or not 0 < self.epsilon <= 100:
            raise InvalidInputError(f"epsilon ({self.epsilon!r}) must be in (0, 100]")
        check_delta(self.delta)
        if self.synthesizer not in SUPPORTED:
            raise InvalidInputError(f"synthesizer ({self.synthesizer!r}) must be one of {', '.join(SUPPORTED)} for a federated fit")
        if not self.round_rho or not all(isinstance(r, float) and math.isfinite(r) and r > 0 for r in self.round_rho):
            raise InvalidInputError("round_rho must be positive numbers")
        object.__setattr__(self, "sites", sites)
        object.__setattr__(self, "round_rho", tuple(self.round_rho))

    @property
    def rho(self) -> float:
        return float(sum(self.round_rho))

    def to_dict(self) -> dict:
        out = asdict(self)
        out["sites"] = list(self.sites)
        out["round_rho"] = list(self.round_rho)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "FitPlan":
        if not isinstance(data, dict):
            raise InvalidInputError("plan must be an object")
        try:
            return cls(**{**data, "sites": tuple(data["sites"]), "round_rho": tuple(float(r) for r in data["round_rho"])})
        except (TypeError, KeyError) as exc:
            raise InvalidInputError(f"plan is malformed ({exc})") from None

    def sha256(self) -> str:
        return hashlib.sha256(canonical(self.to_dict())).hexdigest()


@dataclass(frozen=True)
class RoundSpec:
    index: int
    cliques: tuple[tuple[str, ...], ...]

    def check(self, plan: FitPlan, schema: Schema) -> None:
        if isinstance(self.index, bool) or not isinstance(self.index, int) or not 0 <= self.index < len(plan.round_rho):
            raise InvalidInputError(f"round ({self.index!r}) must be between 0 and {len(plan.round_rho) - 1}")
        names = {c.name for c in schema.synthesized_columns}
        if not self.cliques:
            raise InvalidInputError("round must measure at least one marginal")
        seen = set()
        for clique in self.cliques:
            if not 1 <= len(clique) <= 2 or len(set(clique)) != len(clique) or not set(clique) <= names:
                raise InvalidInputError(f"marginal ({list(clique)}) must name one or two distinct synthesized columns")
            key = tuple(sorted(clique))
            if key in seen:
                raise InvalidInputError(f"marginal ({list(clique)}) is asked twice in one round")
            seen.add(key)

    def sha256(self, plan: FitPlan) -> str:
        return hashlib.sha256(canonical([plan.sha256(), self.index, [list(c) for c in self.cliques]])).hexdigest()

    def to_dict(self) -> dict:
        return {"index": self.index, "cliques": [list(c) for c in self.cliques]}

    @classmethod
    def from_dict(cls, data: dict) -> "RoundSpec":
        try:
            return cls(index=data["index"], cliques=tuple(tuple(str(a) for a in c) for c in data["cliques"]))
        except (TypeError, KeyError) as exc:
            raise InvalidInputError(f"round is malformed ({exc})") from None


def shapes(schema: Schema, cliques) -> list[tuple[int, ...]]:
    cards = {c.name: c.cardinality for c in schema.synthesized_columns}
    return [tuple(cards[a] for a in clique) for clique in cliques]


def sensitivity(schema: Schema, n_cliques: int) -> float:
    """L2 sensitivity of ``n_cliques`` count marginals for one privacy unit *at one site*.

    The unit is the schema's (a row, or a person with at most m rows) within each site's table:
    a person present at k sites is k units of the union, protected at k^2 times the ρ (zCDP
    composes over the k groups). Sites whose populations overlap must say so in the schema's
    ``max_rows`` or accept that; the README's trust model states it.

    One person with at most m rows changes each marginal by at most m in L2 norm (all m rows in
    one cell is the worst case), hence m * sqrt(q) for q marginals stacked together.
    """
    return schema.privacy_unit.max_rows * math.sqrt(n_cliques)


def round_sigma(plan: FitPlan, schema: Schema, spec: RoundSpec) -> float:
    cells = sum(math.prod(s) for s in shapes(schema, spec.cliques))
    return site_sigma(plan.round_rho[spec.index], sensitivity(schema, len(spec.cliques)), len(plan.sites), plan.colluding, cells)
