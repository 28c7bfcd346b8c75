"""Build the frozen values of :mod:`app.core.services.types` from database rows.

Only public facts leave through these: a dataset's columns and budget, never its row count or
values; a release's artifacts are listed only when they are marked public."""

from __future__ import annotations

import json

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core import ledger
from app.core.classification import LEGACY_DEFAULT, policy
from app.core.services import schema_reviews
from app.core.services.inputs import chunks
from app.core.services.types import BudgetSummary, DatasetInfo, PendingBudgetRaise, JobInfo, ReleaseInfo, UserInfo
from app.core.store import BudgetRaise, Dataset, Job, Membership, Release, User
from synthgen.budget import PrivacyBudget


def budget_summary(s: Session, ds: Dataset) -> BudgetSummary:
    summ = ledger.summary(s, ds)
    pending = s.execute(select(BudgetRaise).where(BudgetRaise.dataset_id == ds.id, BudgetRaise.state == "pending")
                        .order_by(BudgetRaise.id.desc()).limit(1)).scalars().first()
    return BudgetSummary(dataset_id=ds.id, delta=ds.delta, total=summ.total, spent=summ.spent,
                         reserved=summ.reserved, remaining=summ.remaining, extra_delta=summ.extra_delta,
                         pending_raise=None if pending is None else PendingBudgetRaise(
                             id=pending.id, epsilon=pending.new_epsilon, total=PrivacyBudget(pending.new_rho),
                             requested_at=pending.created_at))


def dataset_info(s: Session, ds: Dataset) -> DatasetInfo:
    owner = s.get(User, ds.owner_id)
    members = s.execute(select(User.username).join(Membership, Membership.user_id == User.id)
                        .where(Membership.dataset_id == ds.id).order_by(User.username)).scalars().all()
    # reviewed means a recorded review act for this very schema, not a flag anyone can clear
    reviewed = schema_reviews.for_schema_json(s, ds.id, ds.schema_json) is not None
    return DatasetInfo(id=ds.id, name=ds.name, owner=owner.username if owner else "?", owner_id=ds.owner_id,
                       created_at=ds.created_at, delta=ds.delta, columns=tuple(json.loads(ds.columns_json)),
                       schema_json=ds.schema_json, schema_reviewed=reviewed, members=tuple(members),
                       budget=budget_summary(s, ds), schema_draft_json=ds.schema_draft_json,
                       classification=ds.classification,
                       federation=dataset_federation(s, ds))


def dataset_federation(s: Session, ds: Dataset) -> dict | None:
    """A federated dataset has no table on the platform and one release, its fit's."""
    if ds.table_path is not None:
        return None
    for (info,) in s.execute(select(Release.model_info_json).where(Release.dataset_id == ds.id).order_by(Release.id)):
        fed = federation_of(json.loads(info or "{}"))
        if fed is not None:
            return fed
    return None


def user_info(u: User, generated: str | None = None) -> UserInfo:
    return UserInfo(id=u.id, username=u.username, role=u.role, disabled=u.disabled, created_at=u.created_at,
                    oidc_issuer=u.oidc_issuer, oidc_subject=u.oidc_subject, generated_password=generated)


def job_info(job: Job | None) -> JobInfo | None:
    if job is None:
        return None
    return JobInfo(id=job.id, release_id=job.release_id, kind=job.kind, state=job.state,
                   progress=job.progress, message=job.message or "", attempts=job.attempts, error=job.error,
                   created_at=job.created_at, heartbeat_at=job.heartbeat_at)


def release_info(s: Session, rel: Release) -> ReleaseInfo:
    return release_infos(s, [rel])[0]


def release_infos(s: Session, rels: list[Release]) -> list[ReleaseInfo]:
    """ReleaseInfo of many releases with a fixed number of queries (dataset names, user
    names and the latest job of each release are read in bulk, not once per release)."""
    if not rels:
        return []
    ds_names: dict[int, str] = {}
    ds_labels: dict[int, str] = {}
    usernames: dict[int, str] = {}
    latest_job: dict[int, Job] = {}
    rel_ids = [r.id for r in rels]
    user_ids = sorted({r.requester_id for r in rels} | {r.approver_id for r in rels if r.approver_id}
                      | {r.second_approver_id for r in rels if r.second_approver_id})
    for chunk in chunks(sorted({r.dataset_id for r in rels})):
        for ds_id, ds_name, label in s.execute(select(Dataset.id, Dataset.name, Dataset.classification)
                                               .where(Dataset.id.in_(chunk))).all():
            ds_names[ds_id], ds_labels[ds_id] = ds_name, label
    for chunk in chunks(user_ids):
        usernames.update(s.execute(select(User.id, User.username).where(User.id.in_(chunk))).all())
    for chunk in chunks(rel_ids):
        newest = select(func.max(Job.id)).where(Job.release_id.in_(chunk)).group_by(Job.release_id)
        latest_job.update((j.release_id, j) for j in s.execute(select(Job).where(Job.id.in_(newest))).scalars())
    out = []
    for rel in rels:
        label = ds_labels.get(rel.dataset_id, LEGACY_DEFAULT)
        artifacts = {k: v["sha256"] for k, v in json.loads(rel.artifacts_json or "{}").items() if v.get("public")}
        out.append(ReleaseInfo(
            id=rel.id, dataset_id=rel.dataset_id, dataset_name=ds_names.get(rel.dataset_id, "?"), state=rel.state,
            requester=usernames.get(rel.requester_id, "?"), synthesizer=rel.synthesizer,
            config=json.loads(rel.config_json), dp=rel.dp, epsilon=rel.epsilon, delta=rel.delta, rho=rel.rho,
            rows=rel.rows, target=rel.target, policy=json.loads(rel.policy_json), verdict=rel.verdict,
            approver=usernames.get(rel.approver_id) if rel.approver_id else None, reason=rel.reason,
            override=rel.override, created_at=rel.created_at, updated_at=rel.updated_at, artifacts=artifacts,
            job=job_info(latest_job.get(rel.id)), classification=label, approvals_required=policy(label).approvals,
            second_approver=usernames.get(rel.second_approver_id) if rel.second_approver_id else None,
            published_at=rel.published_at, expires_at=rel.expires_at, federation=_federation(rel)))
    return out


def federation_of(model_info: dict | None) -> dict | None:
    """The federation record in a model's public info (``synthgen federate fit``), or None."""
    accounting = (model_info or {}).get("accounting")
    fed = accounting.get("federation") if isinstance(accounting, dict) else None
    return fed if isinstance(fed, dict) else None


def _federation(rel: Release) -> dict | None:
    if not rel.model_info_json or '"federation"' not in rel.model_info_json:
        return None
    return federation_of(json.loads(rel.model_info_json))
