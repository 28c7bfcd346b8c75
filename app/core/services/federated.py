"""Federated fits on the platform: a model written by ``synthgen federate fit``, registered by a data owner.

Rules kept here:

* The platform never holds a site's table. Registering creates a dataset with **no private
  table** (no train or control split is stored); its schema is the model's, its budget is the
  fit's own ε at δ, and the ledger records that ρ as **spent** at once: the sites' ledgers already
  paid it (each site its full ρ), and the platform must never charge or offer it again.
* The model file is read without pickle and its federation record is recomputed
  (:func:`synthgen.federation.record.read_record`): not a federated fit, an altered record, or a
  fit id the platform already has are each refused with one error, and nothing is stored.
* The release's synthetic table is sampled from the model here: post-processing of DP output,
  no budget. There is no real table to compare it with, so utility and risk are **not measured**;
  the release is recorded with verdict ``inconclusive`` and its card says why, showing what is
  known instead (the accounting, each site's part, the trust model). A privacy officer may then
  approve it with a written reason (:func:`app.core.decisions.decision_rule`, ``federated=True``).
* The registering owner is the release's requester, so separation of duties makes another person
  (a privacy officer) approve it, as for any release.
"""

from __future__ import annotations

import html
import json
import secrets
import shutil
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import select

from app.core import bundle, crypto, ledger
from app.core import releases as rel_sm
from app.core import classification as classification_rules
from app.core.authz import PermissionDeniedError, authorize
from app.core.services import schema_reviews, views
from app.core.services.datasets import check_name_free
from app.core.services.inputs import NAME_MAX, clean_text
from app.core.services.types import Actor, ReleaseInfo
from app.core.services.views import federation_of
from app.core.store import Dataset, Membership, Release
from synthgen.budget import PrivacyBudget
from synthgen.errors import ConflictError, InvalidInputError
from synthgen.io import table_to_bytes

if TYPE_CHECKING:
    from app.core.services.runtime import Runtime

MAX_MODEL_BYTES = 50 * 1024 * 1024
KIND = "federated"
NOT_MEASURED = ("Utility and disclosure risk were not measured: the platform holds no real table of this fit "
                "(every site kept its own), so nothing can be compared with real rows here.")


def render_card(name: str, record, rows: int) -> str:
    """The release card of a federated release (both audiences: it holds no real-side figure)."""
    e = html.escape
    sites = "".join(f"<tr><td>{e(p.name)}</td><td>{p.epsilon:.4g}</td><td>{p.rho:.6g}</td><td>{p.rounds}</td></tr>"
                    for p in record.sites)
    rounds = "".join(f"<tr><td>{e(str(r['name']))}</td><td>{float(r['rho']):.6g}</td>"
                     f"<td>{float(r['noise_std_of_sum']):.4g}</td></tr>" for r in record.rounds)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Release card: {e(name)}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.3em .6em}}.note{{background:#fff4e0;padding:.8em}}</style></head><body>
<h1>Release card: {e(name)}</h1>
<p><b>Federated MST fit across {len(record.sites)} sites</b> (fit {e(record.fit_id)}, coordinator
{e(record.coordinator)}): ε = {record.epsilon:.4g} at δ = {record.delta:.3g} (ρ = {record.rho:.6g}, zCDP).
{rows} synthetic rows, sampled on the platform from the model (no budget spent).</p>
<p class="note"><b>Not evaluated.</b> {e(NOT_MEASURED)} The decision rests on the DP accounting below.</p>
<h2>Each site's part</h2>
<table><tr><th>site</th><th>ε charged</th><th>ρ charged</th><th>rounds</th></tr>{sites}</table>
<p>Declared colluding sites c = {record.colluding}. Trust model: {e(record.guarantee)}.
Each site's own ledger and audit log (<code>synthgen site status</code>) record every round with the
coordinator's identity.</p>
<h2>Rounds</h2>
<table><tr><th>round</th><th>ρ</th><th>noise std of the sum</th></tr>{rounds}</table>
</body></html>"""


class Federated:
    def __init__(self, rt: "Runtime"):
        self.rt = rt

    def register_federated(self, actor: Actor, filename: str, data: bytes, *, name: str,
                           classification: str) -> ReleaseInfo:
        """Register a federated model as a dataset (kind federated, no table) and its release
        (evaluated, not measured); see the module docstring. ``classification`` labels the
        union's data as an upload's does (its number of approving officers and publication
        window; the fit's ε was already spent at the sites, so no upload cap applies). Returns the
        release."""
        from synthgen.federation.record import read_record
        from synthgen.model import FittedModel

        with self.rt.op(actor, "register_federated", "dataset:new") as op:
            if op.user is None:
                raise PermissionDeniedError("registering a federated fit needs a signed-in user")
            # like an upload: the registering data owner becomes the dataset's owner
            authorize(self.rt.matrix, role=op.user.role, action="upload", scope="own")
            name = clean_text(name, "name", max_len=NAME_MAX)
            label = classification_rules.check_label(classification)
            if not isinstance(data, (bytes, bytearray)) or len(data) > MAX_MODEL_BYTES:
                raise InvalidInputError(f"model file must be at most {MAX_MODEL_BYTES // (1024 * 1024)} MB")
            source = str(filename or "model file")[:120]
            model = FittedModel.from_bytes(bytes(data), source=source)
            record = read_record(model, source)
            s = op.session
            check_name_free(s, name)
            self._check_new_fit(s, record.fit_id)
            op.details = {"name": name, "classification": label, "fit_id": record.fit_id, "sites": [p.name for p in record.sites],
                          "epsilon": record.epsilon, "delta": record.delta, "rho": record.rho}
            schema = model.schema
            now = self.rt.now()
            storage = f"datasets/{secrets.token_hex(8)}"
            # no table_path / control_path: the platform holds no private table of a federated fit
            ds = Dataset(name=name, owner_id=op.user.id, columns_json=json.dumps([c.name for c in schema.columns]),
                         schema_json=schema.to_json(), budget_rho_total=record.rho, delta=record.delta,
                         created_at=now, storage_dir=storage, split_seed=0, classification=label)
            s.add(ds)
            s.flush()
            # the sites' owners each reviewed and accepted this schema before the fit; registering is
            # this owner's act of accepting it for the platform
            schema_reviews.record(s, dataset_id=ds.id, reviewer_id=op.user.id, schema=schema, source="none",
                                  draft=None, private_draft=None, now=now)
            data_key = crypto.new_data_key()  # the release's files are encrypted like any other's
            ds.wrapped_data_key = crypto.wrap_data_key(self.rt.vault.master, data_key, str(ds.id))
            ds.master_key_id = self.rt.vault.master.key_id
            s.add(Membership(dataset_id=ds.id, user_id=op.user.id, created_at=now))
            config = model.config.to_dict()
            rel = Release(dataset_id=ds.id, requester_id=op.user.id, state="draft", synthesizer="mst",
                          config_json=json.dumps({k: v for k, v in config.items() if k != "synthesizer"}, sort_keys=True),
                          schema_json=schema.to_json(), dp=True, epsilon=record.epsilon, delta=record.delta,
                          rho=record.rho, rows=model.default_rows, target=None,
                          policy_json=json.dumps(_policy(), sort_keys=True), created_at=now, updated_at=now)
            s.add(rel)
            s.flush()
            # the fit's ρ was paid at every site; here it is recorded as spent, never reserved again
            ledger.reserve(s, ds.id, PrivacyBudget(record.rho), rel.id)
            ledger.mark_release_spent(s, rel.id)
            rel_sm.start(s, rel)
            # sampling is post-processing of the DP model: no budget; fresh OS entropy
            synthetic = model.sample(rng=np.random.default_rng())
            card = render_card(name, record, len(synthetic)).encode("utf-8")
            files = {bundle.SYNTH_CSV: table_to_bytes(synthetic, "csv"),
                     bundle.SYNTH_PARQUET: table_to_bytes(synthetic, "parquet"),
                     bundle.CARD_ML: card, bundle.CARD_FULL: card}
            directory = self.rt.vault.path(f"releases/{rel.id}")
            op.on_rollback.append(lambda: shutil.rmtree(directory, ignore_errors=True))
            artifacts = {}
            for fname, payload in files.items():
                purpose = f"artifact.{rel.id}.{fname}"
                path = f"releases/{rel.id}/federated-{secrets.token_hex(4)}/{fname}.enc"
                cipher_sha = self.rt.vault.write_encrypted(ds, path, purpose, payload, data_key=data_key)
                artifacts[fname] = {"path": path, "purpose": purpose, "sha256": _sha256(payload),
                                    "cipher_sha256": cipher_sha, "size": len(payload),
                                    "public": fname in bundle.PUBLIC_FILES}
            report = {"verdict": "inconclusive", "kind": KIND, "not_measured": NOT_MEASURED,
                      "federation": record.to_dict()}
            report_enc = crypto.encrypt(data_key, json.dumps(report, sort_keys=True).encode("utf-8"), str(ds.id),
                                        f"report.{rel.id}")
            rel_sm.finish(s, rel, verdict="inconclusive", report_enc=report_enc,
                          model_info_json=json.dumps(model.info, sort_keys=True, default=str),
                          artifacts_json=json.dumps(artifacts, sort_keys=True))
            op.target = f"dataset:{ds.id}"
            op.details.update(dataset_id=ds.id, release_id=rel.id)
            return views.release_info(s, rel)

    @staticmethod
    def _check_new_fit(s, fit_id: str) -> None:
        """One fit, one registration: its ρ must not be counted (or its table released) twice."""
        for (info,) in s.execute(select(Release.model_info_json).where(Release.model_info_json.contains(fit_id))):
            fed = federation_of(json.loads(info or "{}"))
            if fed is not None and fed.get("fit_id") == fit_id:
                raise ConflictError(f"model file: federated fit {fit_id} is already registered on the platform; "
                                    "a fit is registered once")


def _policy() -> dict[str, Any]:
    from app.core.decisions import POLICY_DEFAULTS
    from evaluation.policy import default_policy

    return {**POLICY_DEFAULTS, "evaluation": default_policy().to_dict()}


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()
