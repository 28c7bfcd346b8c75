"""The site service: answers a coordinator's rounds with masked noisy counts, nothing else.

What a site keeps (in its state directory, all JSON, no pickle):

* ``approval.json``  written by the site's owner (``synthgen site approve``): the coordinator it
  serves, the peer sites it accepts, the schema it accepted (by fingerprint), the most ε per fit,
  the smallest number of colluders it insists on, and its total budget.
* ``ledger.json``    the budget this table has spent, per fit and round. A round is charged
  *before* its answer is computed and stays charged if the round aborts.
* ``audit.jsonl``    one line per request, hash-chained, with the coordinator's certificate name
  and fingerprint, the fit, the round, the marginals asked and the ρ charged (never a count).

What leaves the site: its certificate and a signed X25519 public key at join; per round, one
vector in Z_(2^64) per marginal, equal to counts + noise share + pairwise masks. Without the masks
of every other site that vector is uniformly random (see ``masking``).
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from synthgen.budget import PrivacyBudget, check_delta
from synthgen.encoding import bound_contributions, encode
from synthgen.errors import BudgetExceededError, ErrorKind, InvalidInputError, SynthgenError
from synthgen.federation import masking, noise
from synthgen.federation.pki import CertificateError, Credentials, check_name, fingerprint, identity, verify_member
from synthgen.federation.plan import FitPlan, RoundSpec, round_sigma, shapes
from synthgen.federation.ring import FixedPointRing
from synthgen.federation.transport import encode_vector
from synthgen.io import atomic_write_text
from synthgen.schema import Schema


class ApprovalError(SynthgenError):
    """The request is outside what the site's owner approved."""
    kind = ErrorKind.BAD_INPUT  # the owner approves, or the coordinator asks within the approval


@dataclass(frozen=True)
class Approval:
    coordinator: str
    peers: tuple[str, ...]
    schema_fingerprint: str
    max_epsilon_per_fit: float
    total_epsilon: float
    delta: float
    min_colluding: int = 0
    approved_at: str = ""

    def __post_init__(self) -> None:
        check_name(self.coordinator)
        object.__setattr__(self, "peers", tuple(sorted(check_name(p) for p in self.peers)))
        if len(self.peers) < 2:
            raise InvalidInputError(f"peers ({len(self.peers)}) must list this site and at least one other")
        for label in ("max_epsilon_per_fit", "total_epsilon"):
            value = getattr(self, label)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 100:
                raise InvalidInputError(f"{label} ({value!r}) must be in (0, 100]")
        if self.max_epsilon_per_fit > self.total_epsilon:
            raise InvalidInputError(f"max_epsilon_per_fit ({self.max_epsilon_per_fit}) must not exceed total_epsilon ({self.total_epsilon})")
        check_delta(self.delta)
        if isinstance(self.min_colluding, bool) or not isinstance(self.min_colluding, int) or self.min_colluding < 0:
            raise InvalidInputError(f"min_colluding ({self.min_colluding!r}) must be a non-negative integer")

    def save(self, path: Path) -> None:
        atomic_write_text(path, json.dumps({**asdict(self), "peers": list(self.peers)}, indent=2), mode=0o600)

    @classmethod
    def load(cls, path: Path) -> "Approval":
        if not path.is_file():
            raise ApprovalError(f"approval ({path}) does not exist: the site's owner must run 'synthgen site approve' first")
        data = json.loads(path.read_text())
        return cls(**{**data, "peers": tuple(data["peers"])})


class AuditChainError(SynthgenError):
    """The audit log's hash chain does not verify."""
    kind = ErrorKind.CONFLICT  # the log was changed: the owner investigates


class Ledger:
    """This site's spent budget, per fit and round, in one JSON file (atomic replace)."""

    def __init__(self, path: Path, total: PrivacyBudget):
        self.path, self.total = path, total
        self._lock = threading.Lock()

    def read(self) -> dict:
        if not self.path.is_file():
            return {"spent_rho": 0.0, "fits": {}}
        return json.loads(self.path.read_text())

    def open_fit(self, plan: FitPlan, coordinator: str) -> None:
        with self._lock:
            state = self.read()
            if plan.fit_id in state["fits"]:
                # a fit id is used once: the masks are derived from it, and a second join would
                # start a second key exchange under the same name
                raise ApprovalError(f"fit {plan.fit_id} was already joined; a fit id is never reused")
            state["fits"][plan.fit_id] = {"coordinator": coordinator, "plan_sha256": plan.sha256(), "rounds": {}, "status": "joined"}
            atomic_write_text(self.path, json.dumps(state, indent=2))

    def charge(self, plan: FitPlan, round_index: int, rho: float) -> None:
        """Charge one round before it is computed; a round is answered at most once."""
        with self._lock:
            state = self.read()
            fit = state["fits"].get(plan.fit_id)
            if fit is None or fit["plan_sha256"] != plan.sha256():
                raise ApprovalError(f"fit {plan.fit_id} was not joined with this plan")
            if str(round_index) in fit["rounds"]:
                raise ApprovalError(f"round {round_index} of fit {plan.fit_id} was already answered; masks are never reused")
            if fit["status"] != "joined":
                raise ApprovalError(f"fit {plan.fit_id} is {fit['status']}")
            spent = float(state["spent_rho"])
            if spent + rho > self.total.rho * (1 + 1e-12):
                raise BudgetExceededError(f"rho {rho:.6g}", f"rho {max(self.total.rho - spent, 0):.6g}", f"rho {spent + rho - self.total.rho:.6g}", "site budget")
            fit["rounds"][str(round_index)] = rho
            state["spent_rho"] = spent + rho
            atomic_write_text(self.path, json.dumps(state, indent=2))

    def close_fit(self, fit_id: str, status: str) -> None:
        with self._lock:
            state = self.read()
            if fit_id in state["fits"]:
                state["fits"][fit_id]["status"] = status
                atomic_write_text(self.path, json.dumps(state, indent=2))


class AuditLog:
    """Append-only JSON lines; each line carries the SHA-256 of the previous one (tamper evidence)."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()

    def append(self, event: str, **fields) -> None:
        with self._lock:
            previous = "0" * 64
            if self.path.is_file():
                lines = self.path.read_bytes().splitlines()
                if lines:
                    previous = hashlib.sha256(lines[-1]).hexdigest()
            entry = {"at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "event": event, "previous": previous, **fields}
            with self.path.open("a", encoding="utf-8") as out:
                out.write(json.dumps(entry, sort_keys=True) + "\n")

    def entries(self) -> list[dict]:
        return [json.loads(line) for line in self.path.read_text().splitlines()] if self.path.is_file() else []

    def verify(self) -> int:
        """Number of entries if the chain is intact; raises on the first line that breaks it."""
        previous = "0" * 64
        lines = self.path.read_bytes().splitlines() if self.path.is_file() else []
        for number, line in enumerate(lines, start=1):
            try:
                recorded = json.loads(line).get("previous")
            except ValueError:
                recorded = None
            if recorded != previous:
                raise AuditChainError(f"audit log ({self.path}) is broken at line {number}: an entry was changed, removed or inserted")
            previous = hashlib.sha256(line).hexdigest()
        return len(lines)


@dataclass
class _Session:
    plan: FitPlan
    key: object  # X25519PrivateKey, held in memory only: a restarted site cannot resume a fit
    peers: dict[str, bytes] = field(default_factory=dict)


class Site:
    """One site: its table (encoded once with the accepted schema), approval, ledger and audit log."""

    def __init__(self, name: str, frame: pd.DataFrame, schema: Schema, credentials: Credentials, state_dir: Path):
        self.name = check_name(name)
        self.credentials = credentials
        if identity(credentials.certificate()) != (name, "site"):
            raise CertificateError(f"cert ({credentials.cert}) names {identity(credentials.certificate())}, expected ({name!r}, 'site')")
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.approval = Approval.load(self.state_dir / "approval.json")
        if schema.fingerprint() != self.approval.schema_fingerprint:
            raise ApprovalError("schema does not match the one the site's owner approved (fingerprint differs)")
        self.schema = schema
        total = PrivacyBudget.from_epsilon(self.approval.total_epsilon, self.approval.delta)
        self.ledger = Ledger(self.state_dir / "ledger.json", total)
        self.audit = AuditLog(self.state_dir / "audit.jsonl")
        self._codes = encode(bound_contributions(frame, schema), schema).codes
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()
        self.ring = FixedPointRing()

    # -- dispatch -------------------------------------------------------------------------
    def handle(self, path: str, body: dict, client: x509.Certificate) -> dict:
        who, role = identity(client)
        if (who, role) != (self.approval.coordinator, "coordinator"):
            self.audit.append("refused", peer=who, role=role, fingerprint=fingerprint(client), reason="not the approved coordinator")
            raise CertificateError(f"{who!r} ({role}) is not the coordinator this site's owner approved")
        routes = {"/v1/join": self.join, "/v1/round": self.answer_round, "/v1/finish": self.finish}
        if path not in routes:
            raise InvalidInputError(f"path ({path}) is not a federation endpoint")
        return routes[path](body, client)

    # -- join: check the plan against the approval, announce a fresh signed key --------------
    def join(self, body: dict, client: x509.Certificate) -> dict:
        plan = FitPlan.from_dict(body.get("plan"))
        schema = Schema.from_dict(body.get("schema"))
        a = self.approval
        problems = []
        if schema.fingerprint() != a.schema_fingerprint or plan.schema_fingerprint != a.schema_fingerprint:
            problems.append("the schema is not the one the owner accepted")
        if self.name not in plan.sites:
            problems.append("this site is not among the plan's sites")
        if not set(plan.sites) <= set(a.peers):
            problems.append(f"sites {sorted(set(plan.sites) - set(a.peers))} are not approved peers")
        if plan.colluding < a.min_colluding:
            problems.append(f"colluding ({plan.colluding}) is below the owner's minimum ({a.min_colluding})")
        if plan.delta != a.delta:
            problems.append(f"delta ({plan.delta}) differs from the approved {a.delta}")
        per_fit = PrivacyBudget.from_epsilon(a.max_epsilon_per_fit, a.delta)
        # judged on the rounds' rho, not on the epsilon the plan declares (a coordinator could understate it)
        if plan.rho > per_fit.rho * (1 + 1e-12):
            problems.append(f"the fit's rounds spend rho {plan.rho:.6g}, more than the approved epsilon {a.max_epsilon_per_fit:g} per fit (rho {per_fit.rho:.6g})")
        elif plan.rho > PrivacyBudget.from_epsilon(plan.epsilon, a.delta).rho * (1 + 1e-12):
            problems.append(f"the fit's rounds spend rho {plan.rho:.6g}, more than its declared epsilon {plan.epsilon:g}")
        if problems:
            self.audit.append("join_refused", coordinator=identity(client)[0], fingerprint=fingerprint(client), fit_id=plan.fit_id, reasons=problems)
            raise ApprovalError("; ".join(problems))
        self.ledger.open_fit(plan, identity(client)[0])
        key = masking.new_key_pair()
        public = masking.public_bytes(key)
        with self._lock:
            self._sessions[plan.fit_id] = _Session(plan=plan, key=key)
        self.audit.append("joined", coordinator=identity(client)[0], fingerprint=fingerprint(client), fit_id=plan.fit_id,
                          sites=list(plan.sites), colluding=plan.colluding, epsilon=plan.epsilon, rho=plan.rho)
        signature = masking.sign_announcement(self.credentials.signing_key(), plan.fit_id, self.name, public)
        cert_pem = self.credentials.certificate().public_bytes(serialization.Encoding.PEM).decode()
        return {"site": self.name, "x25519": public.hex(), "signature": signature.hex(), "certificate": cert_pem}

    def _verify_bundle(self, session: _Session, bundle: list) -> dict[str, bytes]:
        """Every site of the plan announced a key signed by its CA-issued certificate."""
        plan = session.plan
        by_site = {entry.get("site"): entry for entry in bundle if isinstance(entry, dict)}
        if set(by_site) != set(plan.sites):
            raise masking.KeyAgreementError(f"key bundle names {sorted(map(str, by_site))}, expected {list(plan.sites)}")
        ca, crl = self.credentials.ca_certificate(), self.credentials.revocations()
        peers = {}
        for name, entry in by_site.items():
            cert = x509.load_pem_x509_certificate(entry["certificate"].encode())
            verify_member(cert, ca, crl, name=name, role="site")
            public = bytes.fromhex(entry["x25519"])
            masking.verify_announcement(cert, plan.fit_id, name, public, bytes.fromhex(entry["signature"]))
            peers[name] = public
        if peers[self.name] != masking.public_bytes(session.key):
            raise masking.KeyAgreementError("the bundle carries a different key for this site")
        return peers

    # -- round: charge, count, add the noise share, mask ------------------------------------
    def answer_round(self, body: dict, client: x509.Certificate) -> dict:
        session = self._sessions.get(str(body.get("fit_id")))
        if session is None:
            raise ApprovalError(f"fit ({body.get('fit_id')}) is not open at this site (never joined, or the site restarted)")
        plan = session.plan
        spec = RoundSpec.from_dict(body.get("round"))
        spec.check(plan, self.schema)
        peers = self._verify_bundle(session, body.get("keys") or [])
        sigma = round_sigma(plan, self.schema, spec)  # recomputed here, never taken from the coordinator
        rho = plan.round_rho[spec.index]
        # charged before any count is computed: if the round aborts later, the budget stays spent
        self.ledger.charge(plan, spec.index, rho)
        self.audit.append("round", coordinator=identity(client)[0], fingerprint=fingerprint(client), fit_id=plan.fit_id,
                          round=spec.index, marginals=[list(c) for c in spec.cliques], rho=rho, noise_scale=sigma,
                          local_rho_if_all_others_collude=noise.summed_rho(
                              self.schema.privacy_unit.max_rows * math.sqrt(len(spec.cliques)), sigma, 1, 0))
        round_hash = spec.sha256(plan)
        vectors = []
        for clique, shape in zip(spec.cliques, shapes(self.schema, spec.cliques)):
            counts = self._counts(clique, shape)
            noisy = noise.draw_share(counts, sigma)
            context = masking.MaskContext(plan.fit_id, round_hash, spec.index, "|".join(clique))
            masked = self.ring.encode(noisy) + masking.mask_for(self.name, session.key, peers, context, noisy.size)
            vectors.append(encode_vector(masked))
        return {"site": self.name, "round": spec.index, "vectors": vectors}

    def _counts(self, clique: tuple[str, ...], shape: tuple[int, ...]) -> np.ndarray:
        flat = np.ravel_multi_index(tuple(self._codes[a] for a in clique), shape) if len(clique) > 1 else self._codes[clique[0]]
        return np.bincount(flat, minlength=int(np.prod(shape))).astype(np.int64)

    def finish(self, body: dict, client: x509.Certificate) -> dict:
        fit_id, status = str(body.get("fit_id")), body.get("status")
        if status not in ("completed", "aborted"):
            raise InvalidInputError(f"status ({status!r}) must be completed or aborted")
        with self._lock:
            self._sessions.pop(fit_id, None)  # the ephemeral key is dropped: the fit cannot resume
        self.ledger.close_fit(fit_id, status)
        self.audit.append("finished", coordinator=identity(client)[0], fingerprint=fingerprint(client), fit_id=fit_id, status=status,
                          reason=str(body.get("reason", ""))[:300])
        return {"site": self.name, "status": status}
