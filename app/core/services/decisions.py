"""Decisions on releases: approve, reject (privacy officers, never the requester), publish,
revoke. Each is a transition of the state machine in :mod:`app.core.releases`.

Rules kept here:

* Four eyes: the requester of a release may not approve or reject it.
* Separation of duties per dataset: whoever ever had raw access to a dataset (its owner, its
  uploader, anyone who read its draft schema or edited its schema) never approves its releases,
  whatever their role is now. This is read from the audit log, which never forgets, so a data
  owner made privacy officer later still cannot approve releases of the data they have seen.
* Nobody publishes a release they requested either, whatever their role is now.
* Which releases may be approved, and which only with ``override=True`` and a written reason,
  is one rule: :func:`app.core.decisions.decision_rule` (pass: approve; inconclusive: approve
  with a reason unless the policy says otherwise; fail: reject only unless the policy allows an
  override; no formal privacy: reject only).
* A non-DP baseline is never approved (so never published or downloaded): every dataset has a
  DP budget, and a baseline's output carries exact statistics of the table (row count, min/max, rare
  values) that no budget pays for, so publishing it would void the ε every other release of the
  dataset claims. It stays evaluation-only: the owner and the reviewing officers compare its
  card with the DP releases'. (The alternative, publishing with the dataset's guarantee marked
  void everywhere and a second approver, would turn every DP release of the dataset into one
  without a guarantee, and every screen showing ε would have to say so; one refusal here keeps
  the ledger's ε true.)
* Two officers where the dataset's label asks for them (``app.core.classification``): the first
  approval moves the release to ``second_review``, where it is not downloadable; a second privacy
  officer who is neither the requester nor the first approver, and never had raw access to the
  dataset, approves it again under the same decision rule, and only then is it ``approved``.
* Publishing sets the end of the publication window from the label; :meth:`Decisions.expire_publications`
  revokes published releases whose window has ended (the worker runs it; one audit entry each).
* What ML teams read as the approval reason (the release's ``reason``, the manifest) is one of
  :data:`APPROVAL_REASONS`, never the officer's free text: a free-text reason written while
  looking at the full report can quote real-side figures. The officer's note stays in the audit
  log, which only privacy officers and administrators read.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from sqlalchemy import select

from app.core import releases as rel_sm
from app.core.authz import PermissionDeniedError, four_eyes_check
from app.core.decisions import decision_rule
from app.core.services import views
from app.core.services.inputs import clean_text
from app.core.services.runtime import SYSTEM_ACTOR
from app.core.services.types import Actor, ApprovalRefusedError, ReleaseInfo
from app.core.classification import policy as label_policy
from app.core.store import AuditRow, Dataset, Release, lock_for_update
from synthgen.errors import InvalidInputError

#: Audited actions that show a user the raw data of a dataset (or what is derived from it without
#: differential privacy): the upload itself, the draft schema, editing the schema beside it.
RAW_ACCESS_ACTIONS = ("upload", "view_raw", "edit_schema")


class SeparationOfDutiesError(PermissionDeniedError):
    """A user who had raw access to a dataset may not approve its releases."""

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
        """privacy_officer, not the requester (four-eyes), who never had raw access to the dataset.
        Which releases may be approved, and which need ``override=True`` with a written reason:
        :mod:`app.core.decisions` (a non-DP baseline never: it is evaluation-only). ``reason`` is
        the officer's note (audit log only); the release shows the listed statement
        ``reason_code`` (default: from the decision)."""
        with self.rt.op(actor, "approve", f"release:{release_id}") as op:
            s = op.session
            rel = self.rt.authorize_release(op, "approve", release_id)
            four_eyes_check(rel.requester_id, op.user.id)
            self._check_no_raw_access(s, op.user, rel.dataset_id)
            second = rel.state == "second_review"
            if second and rel.approver_id == op.user.id:
                raise SeparationOfDutiesError(
                    f"{op.user.username} already approved release {rel.id}; its dataset's classification asks for a "
                    "second, different privacy officer")
            rel_sm.check(rel, "approve_second" if second else "approve")
            note = clean_text(reason, "reason")
            rule = decision_rule(dp=rel.dp, verdict=rel.verdict, policy=json.loads(rel.policy_json),
                                 federated=views.release_info(s, rel).federated)
            if rule.kind == "reject_only":
                raise ApprovalRefusedError(f"release {rel.id} cannot be approved: {rule.reason}; it can only be "
                                           "rejected")
            if rule.needs_override and override is not True:
                raise ApprovalRefusedError(f"release {rel.id} needs an explicit override to be approved ({rule.reason}): "
                                           "tick the override (override=True) and give a written reason")
            code = check_reason_code(reason_code, override=rule.needs_override)
            label = s.get(Dataset, rel.dataset_id).classification
            if second:
                rel_sm.approve_second(s, rel, approver_id=op.user.id)
            else:
                rel_sm.approve(s, rel, approver_id=op.user.id, reason=APPROVAL_REASONS[code],
                               override=rule.needs_override, first_of_two=label_policy(label).approvals >= 2)
            op.details.update(verdict=rel.verdict, override=rule.needs_override, dp=rel.dp, reason_code=code,
                              note=note[:500], classification=label, approval=2 if second else 1)
            return views.release_info(s, rel)

    @staticmethod
    def _check_no_raw_access(s, user, dataset_id: int) -> None:
        ds = s.get(Dataset, dataset_id)
        seen = ds is not None and ds.owner_id == user.id
        if not seen:
            seen = s.execute(select(AuditRow.seq).where(
                AuditRow.actor == user.username, AuditRow.outcome == "ok", AuditRow.target == f"dataset:{dataset_id}",
                AuditRow.action.in_(RAW_ACCESS_ACTIONS)).limit(1)).first() is not None
        if seen:
            raise SeparationOfDutiesError(
                f"{user.username} had access to the raw data of dataset {dataset_id} and so may not approve its "
                "releases; another privacy officer must")

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
            four_eyes_check(rel.requester_id, op.user.id)  # whatever the publisher's role is now
            label = s.get(Dataset, rel.dataset_id).classification
            expires_at = self.rt.now() + label_policy(label).publication_window
            rel_sm.publish(s, rel, expires_at=expires_at)
            op.details.update(classification=label, expires_at=expires_at.isoformat())
            return views.release_info(s, rel)

    def expire_publications(self) -> list[int]:
        """Revoke every published release whose publication window (set from its dataset's label)
        has ended; one ``expire`` audit entry by the system each. Returns their ids."""
        now = self.rt.now()
        with self.rt.transaction() as s:
            due = s.execute(select(Release.id).where(Release.state == "published", Release.expires_at.is_not(None),
                                                     Release.expires_at <= now)).scalars().all()
        expired = []
        for release_id in due:
            with self.rt.transaction() as s:
                rel = s.execute(lock_for_update(select(Release).where(Release.id == release_id), s)).scalar_one()
                if rel.state != "published" or rel.expires_at is None or rel.expires_at > now:
                    continue  # decided meanwhile
                rel_sm.revoke(s, rel, reason="publication window ended; request a new release to renew it")
                self.rt.append_audit(s, actor=SYSTEM_ACTOR, action="expire", outcome="ok", target=f"release:{rel.id}",
                                     details={"release_id": rel.id, "dataset_id": rel.dataset_id,
                                              "expires_at": rel.expires_at.isoformat()})
                expired.append(rel.id)
        return expired

    def revoke(self, actor: Actor, release_id: int, reason: str) -> ReleaseInfo:
        with self.rt.op(actor, "revoke", f"release:{release_id}") as op:
            s = op.session
            rel = self.rt.authorize_release(op, "revoke", release_id)
            rel_sm.check(rel, "revoke")
            rel_sm.revoke(s, rel, reason=clean_text(reason, "reason"))
            return views.release_info(s, rel)
