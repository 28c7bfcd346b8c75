"""Releases: request (reserve the budget, queue the job), retry, and what a user may see of
them (listing, the release card, the full risk report).

Rules kept here:

* A request is checked completely (synthesizer, ε, δ, rows, target, options, policy) and its
  cost reserved in the ledger under the dataset's lock in one transaction: over budget raises
  ``BudgetExceededError`` and stores nothing. A reservation is never refunded.
* Only a reviewed schema (``derived_from_private_data`` cleared, and the review recorded as an
  act: :mod:`app.core.services.schema_reviews`) can be used for a release.
* Which releases a user may see is decided here (:meth:`Releases.visible_release`,
  :meth:`Releases.list_releases`): roles that may not see unapproved releases of a dataset see
  only approved and published ones, and a release they may not see is reported as such, never
  by listing all releases in a front end.
* Viewing a card or a risk report is audited once per sign-in session and release.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core import crypto, ledger
from app.core import releases as rel_sm
from app.core.authz import PermissionDeniedError, scope_for
from app.core.decisions import POLICY_DEFAULTS
from app.core.releases import DOWNLOADABLE
from app.core.reviewers import require_reviewer
from app.core.services import schema_reviews, views
from app.core.services.runtime import Operation, with_retries
from app.core.services.schemas import top_k_not_chosen
from app.core.services.inputs import require_table
from app.core.services.types import Actor, Audience, ReleaseInfo
from app.core.store import Dataset, Job, Membership, Release, ReleaseView, User, UserSession, lock_for_update
from synthgen.budget import PrivacyBudget, check_delta
from synthgen.errors import InvalidInputError
from synthgen.schema import Schema
from synthgen.synthesizers import registry

if TYPE_CHECKING:
    from app.core.services.runtime import Runtime

MAX_SYNTHETIC_ROWS = 1_000_000


class Releases:
    def __init__(self, rt: "Runtime"):
        self.rt = rt

    @staticmethod
    def _normalize_policy(policy: dict[str, Any] | None) -> dict[str, Any]:
        from evaluation.policy import Policy, default_policy

        if policy is not None and not isinstance(policy, dict):
            raise InvalidInputError("policy must be an object with optional 'allow_override', 'allow_inconclusive' "
                                    "and 'evaluation'")
        policy = dict(policy or {})
        switches = {}
        for key, default in POLICY_DEFAULTS.items():  # see app.core.decisions
            value = policy.pop(key, default)
            if not isinstance(value, bool):
                raise InvalidInputError(f"policy.{key} ({value!r}) must be true or false")
            switches[key] = value
        evaluation = policy.pop("evaluation", None)
        if policy:
            raise InvalidInputError(f"policy has unknown field(s) {', '.join(sorted(map(str, policy)))}; "
                                    f"allowed: {', '.join(POLICY_DEFAULTS)}, evaluation")
        ev = Policy.from_dict(evaluation, source="policy.evaluation") if evaluation is not None else default_policy()
        return {**switches, "evaluation": ev.to_dict()}

    def _reserve_and_queue(self, s: Session, ds: Dataset, rel: Release) -> None:
        if rel.dp:
            ledger.reserve(s, ds.id, PrivacyBudget(rel.rho), rel.id)
        s.add(Job(kind="fit_evaluate", release_id=rel.id, state="queued", progress=0.0, message="queued",
                  attempts=0, created_at=self.rt.now()))
        s.flush()

    def request_release(self, actor: Actor, dataset_id: int, *, synthesizer: str, epsilon: float | None,
                        delta: float | None = None, rows: int | None = None, target: str | None = None,
                        policy: dict[str, Any] | None = None, config: dict[str, Any] | None = None) -> ReleaseInfo:
        """Create a release (state ``draft``), reserve its budget in the ledger (raises
        BudgetExceededError, nothing stored) and queue a fit_evaluate job for ``synthgen worker``.
        ``synthesizer`` is a name of ``synthgen.synthesizers.SYNTHESIZERS`` ("mst", "aim", or a
        non-DP baseline "gaussian_copula"/"ctgan": then ``epsilon`` must be None, nothing is
        reserved, and the release can only be approved with an explicit, policy-allowed override).
        ``config`` holds synthesizer options (e.g. ``{"estimation_iters": 100}``).

        Lock order (PostgreSQL): the dataset row ``FOR UPDATE`` first, then the release row is
        inserted, then the ledger; every writer of a dataset's releases and budget takes its
        locks in this order. Inserting the release first takes a key-share lock on the dataset
        (its foreign key) that the ledger's ``FOR UPDATE`` of a concurrent request then waits
        on in a cycle: 9-19 of 20 concurrent requests failed with a deadlock. A transaction
        aborted by concurrency anyway is retried as a whole (``with_retries``)."""
        return with_retries(lambda: self._request_release(
            actor, dataset_id, synthesizer=synthesizer, epsilon=epsilon, delta=delta, rows=rows, target=target,
            policy=policy, config=config))

    def _request_release(self, actor: Actor, dataset_id: int, *, synthesizer: str, epsilon: float | None,
                         delta: float | None, rows: int | None, target: str | None, policy: dict[str, Any] | None,
                         config: dict[str, Any] | None) -> ReleaseInfo:
        with self.rt.op(actor, "request_release", f"dataset:{dataset_id}") as op:
            ds = self.rt.authorize_dataset(op, "request_release", dataset_id)
            require_table(ds, "fit a new release")
            s = op.session
            ds = ledger.lock_dataset(s, ds.id)  # first lock of the transaction: see the lock order above
            dp = registry.facts(synthesizer).dp
            if not ds.schema_json:
                raise InvalidInputError(f"dataset {ds.id} has no schema yet: the owner must save a reviewed schema first")
            schema = json.loads(ds.schema_json)
            if schema.get("derived_from_private_data"):
                raise InvalidInputError(
                    f"dataset {ds.id}'s schema is flagged derived_from_private_data: review it (bounds and categories "
                    "from public knowledge) and save it with the flag cleared before requesting a release")
            if schema_reviews.for_schema_json(s, ds.id, ds.schema_json) is None:
                raise InvalidInputError(
                    f"dataset {ds.id}'s schema has no recorded review: the owner must save it as reviewed "
                    "(a schema review records who reviewed it, when and what changed) before a release")
            parsed = Schema.from_json(ds.schema_json)
            pending_top_k = parsed.pending_top_k()
            if pending_top_k:  # refused before any budget is reserved: the fit could not run
                raise InvalidInputError(top_k_not_chosen(ds.id, pending_top_k))
            rho = None
            if dp:
                if epsilon is None:
                    raise InvalidInputError(f"epsilon (None) must be given for the DP synthesizer {synthesizer}")
                delta = ds.delta if delta is None else check_delta(delta)
                rho = PrivacyBudget.from_epsilon(epsilon, delta).rho
                epsilon = float(epsilon)
            else:
                if epsilon is not None or delta is not None:
                    raise InvalidInputError(f"epsilon ({epsilon!r}) must be None for the non-DP baseline {synthesizer}")
            if rows is not None and (isinstance(rows, bool) or not isinstance(rows, int) or not 1 <= rows <= MAX_SYNTHETIC_ROWS):
                raise InvalidInputError(f"rows ({rows!r}) must be an integer between 1 and {MAX_SYNTHETIC_ROWS} or None")
            synthesized = [c.name for c in parsed.synthesized_columns]
            if target is not None and target not in synthesized:
                raise InvalidInputError(f"target ({str(target)[:60]!r}) must be a synthesized column of the schema "
                                        "(not an identifier)")
            options = {} if config is None else config
            if synthesizer == "aim" and target is not None and isinstance(options, dict) and "target" not in options:
                # AIM weights the relations with the column the release will be judged on (public: a name)
                options = {**options, "target": target}
            config_dict = registry.check_options(synthesizer, options)
            if config_dict.get("target") is not None and config_dict["target"] not in synthesized:
                raise InvalidInputError(f"config target ({str(config_dict['target'])[:60]!r}) must be a synthesized "
                                        "column of the schema")
            policy_dict = self._normalize_policy(policy)
            require_reviewer(s, self.rt.matrix, ds.id, op.user.id)  # before any budget is reserved
            now = self.rt.now()
            rel = Release(dataset_id=ds.id, requester_id=op.user.id, state="draft", synthesizer=synthesizer,
                          config_json=json.dumps(config_dict, sort_keys=True), schema_json=ds.schema_json, dp=dp,
                          epsilon=epsilon, delta=delta, rho=rho, rows=rows, target=target,
                          policy_json=json.dumps(policy_dict, sort_keys=True), override=False, created_at=now,
                          updated_at=now)
            s.add(rel)
            s.flush()
            self._reserve_and_queue(s, ds, rel)
            op.target = f"release:{rel.id}"
            op.details.update(release_id=rel.id, synthesizer=synthesizer, dp=dp, epsilon=epsilon, delta=delta, rho=rho)
            return views.release_info(s, rel)

    def retry_release(self, actor: Actor, release_id: int) -> ReleaseInfo:
        """Requeue a failed release. The failed attempt's budget stays spent; the retry reserves
        its cost again."""
        return with_retries(lambda: self._retry_release(actor, release_id))

    def _retry_release(self, actor: Actor, release_id: int) -> ReleaseInfo:
        with self.rt.op(actor, "retry_release", f"release:{release_id}") as op:
            s = op.session
            rel = self.rt.release(s, release_id)
            ds = self.rt.authorize_dataset(op, "request_release", rel.dataset_id)
            ds = ledger.lock_dataset(s, ds.id)  # dataset, then release, then ledger (lock order)
            rel = s.execute(lock_for_update(select(Release).where(Release.id == rel.id), s)
                            .execution_options(populate_existing=True)).scalar_one()
            rel_sm.retry(s, rel)
            rel.error = None
            self._reserve_and_queue(s, ds, rel)
            op.details.update(release_id=rel.id, rho=rel.rho)
            return views.release_info(s, rel)

    def _release_visibility(self, s: Session, user: User) -> Callable[[Release], bool]:
        """Predicate "may ``user`` see this release" with the user's memberships read once
        (one query for a whole list instead of one per release)."""
        member_of = set(s.execute(select(Membership.dataset_id).where(Membership.user_id == user.id)).scalars())

        def allowed(action: str, dataset_id: int) -> bool:
            return self.rt.permits(user.role, action, scope_for(dataset_id in member_of))

        def may_see(rel: Release) -> bool:
            if not allowed("list_releases", rel.dataset_id):
                return False
            return rel.state in DOWNLOADABLE or allowed("view_risk_report", rel.dataset_id)

        return may_see

    def visible_release(self, op: Operation, release_id: int, action: str = "list_releases") -> Release:
        rel = self.rt.release(op.session, release_id)
        op.details.setdefault("dataset_id", rel.dataset_id)
        op.details.setdefault("release_id", rel.id)
        self.rt.authorize(op, action, rel.dataset_id)
        if rel.state not in DOWNLOADABLE and not self.rt.allowed(op.session, op.user, "view_risk_report", rel.dataset_id):
            raise PermissionDeniedError(
                f"role {op.user.role} may only see approved or published releases; release {rel.id} is {rel.state!r}")
        return rel

    def list_releases(self, actor: Actor, *, dataset_id: int | None = None,
                      states: tuple[str, ...] | None = None) -> list[ReleaseInfo]:
        """Releases the actor may see. Roles that may not see unapproved releases of a dataset
        (ml_engineer) only ever get approved/published ones."""
        with self.rt.op(actor, "list_releases", f"dataset:{dataset_id}" if dataset_id else "releases", audit=False) as op:
            s = op.session
            q = select(Release).order_by(Release.id)
            if dataset_id is not None:
                self.rt.authorize_dataset(op, "list_releases", dataset_id)
                q = q.where(Release.dataset_id == dataset_id)
            if states:
                q = q.where(Release.state.in_(tuple(states)))
            may_see = self._release_visibility(s, op.user)
            return views.release_infos(s, [r for r in s.execute(q).scalars() if may_see(r)])

    def find_visible_release(self, actor: Actor, release_id: int) -> ReleaseInfo | None:
        """The release if ``actor`` may see it, else None: for front ends that answer "no such
        release" for one the caller may not see (its existence is not revealed). No audit entry
        (a metadata read, like listing); raises only for an invalid actor."""
        with self.rt.op(actor, "list_releases", f"release:{release_id}", audit=False) as op:
            rel = op.session.get(Release, release_id) if isinstance(release_id, int) else None
            if rel is None or op.user is None or not self._release_visibility(op.session, op.user)(rel):
                return None
            return views.release_info(op.session, rel)

    def get_release(self, actor: Actor, release_id: int) -> ReleaseInfo:
        with self.rt.op(actor, "list_releases", f"release:{release_id}", audit=False) as op:
            return views.release_info(op.session, self.visible_release(op, release_id))

    def _view_recorded(self, op: Operation, actor: Actor, release_id: int, what: str) -> None:
        """Audit a view of a release's card or risk report once per sign-in session.

        Why: dashboard pages rerun on every click, so "one audit entry per call" wrote an entry
        per rerun, and the log said someone viewed a report dozens of times when they opened it
        once. What a privacy officer needs is who opened which release's card or report, and
        when they first did so in a sign-in session: that is recorded (with the session id);
        later calls from the same session append nothing. Calls without a sign-in session (API
        tokens, scripts) are explicit requests and are recorded every time. Refusals and
        failures are always recorded (``_op`` does that before this is reached)."""
        sid = actor.session_id if isinstance(actor, Actor) and actor.via == "session" else None
        if sid is None:
            return
        s = op.session
        row = s.get(UserSession, sid)
        if row is None or row.user_id != op.user.id or row.ended_at is not None:
            return  # not a live session of this user: audit every call
        if s.get(ReleaseView, (sid, release_id, what)) is not None:
            op.audit = False
            return
        try:
            with s.begin_nested():
                s.add(ReleaseView(session_id=sid, release_id=release_id, what=what, first_at=self.rt.now()))
        except IntegrityError:  # a concurrent rerun of the same session recorded it first
            op.audit = False
            return
        op.details.update(session=sid, first_view_in_session=True)

    def get_release_card(self, actor: Actor, release_id: int, audience: Audience = "ml") -> str:
        """HTML release card. ``full`` holds real-side statistics (view_risk_report);
        ``ml`` is the ML-team card (approved/published releases for ml_engineer). Audited once
        per sign-in session and release (see :meth:`_view_recorded`)."""
        from app.core.bundle import CARD_FULL, CARD_ML

        action = "view_release_card" if audience == "ml" else "view_risk_report"
        with self.rt.op(actor, action, f"release:{release_id}") as op:
            if audience == "ml":
                rel = self.visible_release(op, release_id, "view_release_card")
                name = CARD_ML
            elif audience == "full":
                rel = self.rt.authorize_release(op, "view_risk_report", release_id)
                name = CARD_FULL
            else:
                raise InvalidInputError(f"audience ({str(audience)[:20]!r}) must be 'ml' or 'full'")
            op.details["audience"] = audience
            html = self.rt.vault.read_artifact(op.session, rel, name).decode("utf-8")
            self._view_recorded(op, actor, rel.id, f"card:{audience}")
            return html

    def get_risk_report(self, actor: Actor, release_id: int) -> dict[str, Any]:
        """The full evaluation report (decrypted) for reviewers. Audited once per sign-in
        session and release (see :meth:`_view_recorded`)."""
        with self.rt.op(actor, "view_risk_report", f"release:{release_id}") as op:
            rel = self.rt.authorize_release(op, "view_risk_report", release_id)
            if rel.report_enc is None:
                raise InvalidInputError(f"release {rel.id} has no evaluation report yet: it is {rel.state!r}")
            ds = op.session.get(Dataset, rel.dataset_id)
            report = json.loads(crypto.decrypt(self.rt.vault.data_key(ds), rel.report_enc, str(ds.id), f"report.{rel.id}"))
            self._view_recorded(op, actor, rel.id, "risk_report")
            return report
