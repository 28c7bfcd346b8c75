"""Decisions on releases: approve, reject (privacy officers, never the requester), publish,
revoke. Each is a transition of the state machine in :mod:`app.core.releases`.

Rules kept here:

* Four eyes: the requester of a release may not approve or reject it.
* A failed or inconclusive gate, or a release that is not differentially private, is approved
  only with ``override=True``, a policy that allows overrides and a written reason.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from app.core import releases as rel_sm
from app.core.authz import four_eyes_check
from app.core.services import views
from app.core.services.inputs import clean_text
from app.core.services.types import Actor, ApprovalRefusedError, ReleaseInfo

if TYPE_CHECKING:
    from app.core.services.runtime import Runtime


class Decisions:
    def __init__(self, rt: "Runtime"):
        self.rt = rt

    def approve(self, actor: Actor, release_id: int, reason: str, *, override: bool = False) -> ReleaseInfo:
        """privacy_officer, not the requester (four-eyes). A failed/inconclusive gate or a
        non-DP release needs ``override=True``, a policy that allows overrides and a reason."""
        with self.rt.op(actor, "approve", f"release:{release_id}") as op:
            s = op.session
            rel = self.rt.release(s, release_id)
            op.details.update(dataset_id=rel.dataset_id, release_id=rel.id)
            self.rt.authorize(op, "approve", rel.dataset_id)
            four_eyes_check(rel.requester_id, op.user.id)
            rel_sm.check(rel, "approve")
            reason = clean_text(reason, "reason")
            policy = json.loads(rel.policy_json)
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
            rel_sm.approve(s, rel, approver_id=op.user.id, reason=reason, override=bool(problems))
            op.details.update(verdict=rel.verdict, override=bool(problems), dp=rel.dp)
            return views.release_info(s, rel)

    def reject(self, actor: Actor, release_id: int, reason: str) -> ReleaseInfo:
        with self.rt.op(actor, "reject", f"release:{release_id}") as op:
            s = op.session
            rel = self.rt.release(s, release_id)
            op.details.update(dataset_id=rel.dataset_id, release_id=rel.id)
            self.rt.authorize(op, "reject", rel.dataset_id)
            rel_sm.check(rel, "reject")
            rel_sm.reject(s, rel, approver_id=op.user.id, reason=clean_text(reason, "reason"))
            op.details["verdict"] = rel.verdict
            return views.release_info(s, rel)

    def publish(self, actor: Actor, release_id: int) -> ReleaseInfo:
        with self.rt.op(actor, "publish", f"release:{release_id}") as op:
            s = op.session
            rel = self.rt.release(s, release_id)
            op.details.update(dataset_id=rel.dataset_id, release_id=rel.id)
            self.rt.authorize(op, "publish", rel.dataset_id)
            rel_sm.publish(s, rel)
            return views.release_info(s, rel)

    def revoke(self, actor: Actor, release_id: int, reason: str) -> ReleaseInfo:
        with self.rt.op(actor, "revoke", f"release:{release_id}") as op:
            s = op.session
            rel = self.rt.release(s, release_id)
            op.details.update(dataset_id=rel.dataset_id, release_id=rel.id)
            self.rt.authorize(op, "revoke", rel.dataset_id)
            rel_sm.check(rel, "revoke")
            rel_sm.revoke(s, rel, reason=clean_text(reason, "reason"))
            return views.release_info(s, rel)
