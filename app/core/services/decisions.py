"""Decisions on releases: approve, reject (privacy officers, never the requester), publish,
revoke. Each is a transition of the state machine in :mod:`app.core.releases`.

Rules kept here:

* Four eyes: the requester of a release may not approve or reject it.
* A failed or inconclusive gate is approved only with ``override=True``, a policy that allows
  overrides and a written reason.
* A non-DP baseline is never approved (so never published or downloaded) from a dataset that
  has a DP budget: its output carries exact statistics of the table (row count, min/max, rare
  values) that no budget pays for, so publishing it would void the ε every other release of the
  dataset claims. It stays evaluation-only: the owner and the reviewing officers compare its
  card with the DP releases'. (The alternative, publishing with the dataset's guarantee marked
  void everywhere and a second approver, would turn every DP release of the dataset into one
  without a guarantee, and every screen showing ε would have to say so; one refusal here keeps
  the ledger's ε true.)
* What ML teams read as the approval reason (the release's ``reason``, the manifest) is one of
  :data:`APPROVAL_REASONS`, never the officer's free text: a free-text reason written while
  looking at the full report can quote real-side figures. The officer's note stays in the audit
  log, which only privacy officers and administrators read.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from app.core import releases as rel_sm
from app.core.authz import four_eyes_check
from app.core.services import views
from app.core.services.inputs import clean_text
from app.core.services.types import Actor, ApprovalRefusedError, ReleaseInfo
from app.core.store import Dataset
from synthgen.errors import InvalidInputError

if TYPE_CHECKING:
    from app.core.services.runtime import Runtime

#: The statements an ML team may read as the reason of an approval (code -> text).
APPROVAL_REASONS: dict[str, str] = {
    "gates_passed": "Approved: the evaluation passed every gate of the release policy.",
    "override_utility": "Approved with an override: a utility gate did not pass; the privacy gates and the DP "
                        "guarantee are unaffected.",
    "override_reviewed": "Approved with an override: a gate did not pass or was inconclusive; a privacy officer "
                         "reviewed the evaluation and accepted it.",
}


def check_reason_code(code: object, *, override: bool) -> str:
    """The listed reason an approval shows; defaults from the decision (pass or override)."""
    if code is None:
        return "override_reviewed" if override else "gates_passed"
    if not isinstance(code, str) or code not in APPROVAL_REASONS:
        raise InvalidInputError(f"reason_code ({str(code)[:40]!r}) must be one of {', '.join(APPROVAL_REASONS)}")
    if (code == "gates_passed") == override:
        raise InvalidInputError(f"reason_code ({code!r}) does not match the decision: "
                                f"{'an override' if override else 'every gate passed'}")
    return code


class Decisions:
    def __init__(self, rt: "Runtime"):
        self.rt = rt

    def approve(self, actor: Actor, release_id: int, reason: str, *, override: bool = False,
                reason_code: str | None = None) -> ReleaseInfo:
        """privacy_officer, not the requester (four-eyes). A failed/inconclusive gate needs
        ``override=True``, a policy that allows overrides and a reason; a non-DP baseline from a
        dataset with a DP budget is refused. ``reason`` is the officer's note (audit log only);
        the release shows the listed statement ``reason_code`` (default: from the decision)."""
        with self.rt.op(actor, "approve", f"release:{release_id}") as op:
            s = op.session
            rel = self.rt.authorize_release(op, "approve", release_id)
            four_eyes_check(rel.requester_id, op.user.id)
            rel_sm.check(rel, "approve")
            note = clean_text(reason, "reason")
            policy = json.loads(rel.policy_json)
            ds = op.session.get(Dataset, rel.dataset_id)
            if not rel.dp and ds.budget_rho_total > 0:
                raise ApprovalRefusedError(
                    f"release {rel.id} cannot be approved: it is not differentially private (dp=False) and dataset "
                    f"{ds.id} has a DP budget; a baseline is evaluation-only, publishing it would void the dataset's "
                    "guarantee")
            problems = []
            if not rel.dp:
                problems.append("it is not differentially private (dp=False)")
            if rel.verdict != "pass":
                problems.append(f"its evaluation verdict is {rel.verdict!r}, not 'pass'")
            if problems:
                if not policy.get("allow_override"):
                    raise ApprovalRefusedError(
                        f"release {rel.id} cannot be approved: {' and '.join(problems)}, and its policy does not allow "
                        "an override (policy.allow_override is false)")
                if override is not True:
                    raise ApprovalRefusedError(
                        f"release {rel.id} cannot be approved: {' and '.join(problems)}; approving it anyway needs "
                        "override=True and a written reason")
            code = check_reason_code(reason_code, override=bool(problems))
            rel_sm.approve(s, rel, approver_id=op.user.id, reason=APPROVAL_REASONS[code], override=bool(problems))
            op.details.update(verdict=rel.verdict, override=bool(problems), dp=rel.dp, reason_code=code,
                              note=note[:500])
            return views.release_info(s, rel)

    def reject(self, actor: Actor, release_id: int, reason: str) -> ReleaseInfo:
        with self.rt.op(actor, "reject", f"release:{release_id}") as op:
            s = op.session
            rel = self.rt.authorize_release(op, "reject", release_id)
            rel_sm.check(rel, "reject")
            rel_sm.reject(s, rel, approver_id=op.user.id, reason=clean_text(reason, "reason"))
            op.details["verdict"] = rel.verdict
            return views.release_info(s, rel)

    def publish(self, actor: Actor, release_id: int) -> ReleaseInfo:
        with self.rt.op(actor, "publish", f"release:{release_id}") as op:
            s = op.session
            rel = self.rt.authorize_release(op, "publish", release_id)
            rel_sm.publish(s, rel)
            return views.release_info(s, rel)

    def revoke(self, actor: Actor, release_id: int, reason: str) -> ReleaseInfo:
        with self.rt.op(actor, "revoke", f"release:{release_id}") as op:
            s = op.session
            rel = self.rt.authorize_release(op, "revoke", release_id)
            rel_sm.check(rel, "revoke")
            rel_sm.revoke(s, rel, reason=clean_text(reason, "reason"))
            return views.release_info(s, rel)
