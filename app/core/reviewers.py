"""Who can review a release: the platform-wide pool of privacy officers.

Design (issue: releases of a new dataset were invisible to every privacy officer until an
administrator made one a member): every enabled privacy officer reviews every dataset by default,
so a dataset never lacks a reviewer because of a forgotten membership. The authorization matrix
grants privacy officers the review actions (risk report, card, approve, reject, publish, revoke)
on datasets they are not members of; they still never see raw data.

A request is refused, before any budget is reserved, when nobody could decide on it: no enabled
privacy officer other than the requester (four eyes: the requester never decides on their own
release, whatever their role). The refusal says what to do.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.authz import AuthzMatrix, scope_for
from app.core.store import Membership, User
from synthgen.errors import ConflictError

REVIEW_ACTION = "approve"


class NoReviewerError(ConflictError):
    """Nobody could decide on the requested release. The requester is allowed to ask; the
    platform's state (no other enabled privacy officer) stands in the way: a conflict (409)."""


def possible_reviewers(session: Session, matrix: AuthzMatrix, dataset_id: int, requester_id: int) -> list[str]:
    """User names of everyone who could approve a release of ``dataset_id`` requested by
    ``requester_id``: enabled, allowed by the matrix for their scope, and not the requester."""
    members = set(session.execute(select(Membership.user_id).where(Membership.dataset_id == dataset_id)).scalars())
    out = []
    for user in session.execute(select(User).where(User.disabled.is_(False)).order_by(User.id)).scalars():
        if user.id == requester_id:
            continue
        if matrix.allows(user.role, REVIEW_ACTION, scope_for(user.id in members)):
            out.append(user.username)
    return out


def require_reviewer(session: Session, matrix: AuthzMatrix, dataset_id: int, requester_id: int) -> list[str]:
    """The possible reviewers, or raise :class:`NoReviewerError` with what to do."""
    names = possible_reviewers(session, matrix, dataset_id, requester_id)
    if not names:
        raise NoReviewerError(
            f"nobody could review a release of dataset {dataset_id}: the platform has no enabled privacy officer "
            "other than you. Ask an administrator to create or re-enable a privacy-officer account (Admin → "
            "Users), then request the release again; no budget was spent")
    return names
