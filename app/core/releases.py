"""The release state machine.

::

    draft ──start──▶ running ──evaluated──▶ evaluated ──approve──▶ approved ──publish──▶ published
                        │                       │                     │                     │
                        └──fail──▶ failed       └──reject──▶ rejected └──revoke──▶ revoked ◀─┘
                        │            │
                        │            └──retry──▶ draft
                        └──requeue──▶ draft   (worker died mid-job: same job, budget already spent)

    evaluated ──approve_first──▶ second_review ──approve_second──▶ approved   (labels needing two officers)
                                       └──reject──▶ rejected

``draft``: requested, budget reserved, job queued. ``running``: the worker started the job (the
reservation is now spent). ``failed``: the job failed or its worker died; the budget stays spent;
``retry`` requeues it (reserving its cost again). ``requeue`` puts a job whose worker died back in
the queue without a new reservation (see ``jobs.recover_stale``). ``second_review``: one privacy
officer approved a release whose dataset's label asks for two (``app.core.classification``); it is
not downloadable until a second, different officer approves it. A published release is revoked
when its publication window ends (``expires_at``, set at publishing from the label). Every transition is a function that checks the
current state against :data:`TRANSITIONS`, sets the new state and returns the record, or raises
:class:`IllegalTransitionError`. Permission and four-eyes checks live in ``services``.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.core.store import Release, utcnow
from synthgen.errors import ConflictError

STATES = ("draft", "running", "failed", "evaluated", "second_review", "approved", "rejected", "published", "revoked")

#: transition name -> (allowed source states, target state). The single source of truth.
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "start": (("draft",), "running"),
    "finish": (("running",), "evaluated"),
    "fail": (("draft", "running"), "failed"),
    "retry": (("failed",), "draft"),
    "requeue": (("running",), "draft"),
    "approve": (("evaluated",), "approved"),
    "approve_first": (("evaluated",), "second_review"),
    "approve_second": (("second_review",), "approved"),
    "reject": (("evaluated", "second_review"), "rejected"),
    "publish": (("approved",), "published"),
    "revoke": (("approved", "published"), "revoked"),
}

#: States in which the synthetic data may be downloaded.
DOWNLOADABLE = ("approved", "published")


class IllegalTransitionError(ConflictError):
    """A release is not in a state from which the requested transition is allowed."""


def check(release: Release, transition: str) -> str:
    """The target state of ``transition`` from the release's current state, or raise."""
    sources, target = TRANSITIONS[transition]
    if release.state not in sources:
        needs = " or ".join(repr(s) for s in sources)
        raise IllegalTransitionError(f"release {release.id} is {release.state!r}; {transition} needs {needs}")
    return target


def _move(session: Session, release: Release, transition: str) -> Release:
    release.state = check(release, transition)
    release.updated_at = utcnow()
    session.flush()
    return release


def start(session: Session, release: Release) -> Release:
    return _move(session, release, "start")


def finish(session: Session, release: Release, *, verdict: str, report_enc: bytes, model_info_json: str,
           artifacts_json: str) -> Release:
    check(release, "finish")
    release.verdict = verdict
    release.report_enc = report_enc
    release.model_info_json = model_info_json
    release.artifacts_json = artifacts_json
    release.error = None
    return _move(session, release, "finish")


def fail(session: Session, release: Release, error: str) -> Release:
    check(release, "fail")
    release.error = error
    return _move(session, release, "fail")


def retry(session: Session, release: Release) -> Release:
    return _move(session, release, "retry")


def requeue(session: Session, release: Release) -> Release:
    return _move(session, release, "requeue")


def approve(session: Session, release: Release, *, approver_id: int, reason: str, override: bool,
            first_of_two: bool = False) -> Release:
    """The (first) approval; ``first_of_two`` when the dataset's label asks for a second officer."""
    transition = "approve_first" if first_of_two else "approve"
    check(release, transition)
    release.approver_id = approver_id
    release.reason = reason
    release.override = override
    release.decided_at = utcnow()
    return _move(session, release, transition)


def approve_second(session: Session, release: Release, *, approver_id: int) -> Release:
    check(release, "approve_second")
    release.second_approver_id = approver_id
    release.decided_at = utcnow()
    return _move(session, release, "approve_second")


def reject(session: Session, release: Release, *, approver_id: int, reason: str) -> Release:
    check(release, "reject")
    release.approver_id = approver_id
    release.reason = reason
    release.decided_at = utcnow()
    return _move(session, release, "reject")


def publish(session: Session, release: Release, *, expires_at=None) -> Release:
    check(release, "publish")
    release.published_at = utcnow()
    release.expires_at = expires_at
    return _move(session, release, "publish")


def revoke(session: Session, release: Release, *, reason: str) -> Release:
    check(release, "revoke")
    release.revoked_at = utcnow()
    release.reason = (release.reason + "\n" if release.reason else "") + f"revoked: {reason}"
    return _move(session, release, "revoke")
