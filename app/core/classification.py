"""Data classification: the label every dataset carries and the policy defaults it sets.

Every dataset is labelled at upload as ``public``, ``internal``, ``confidential`` or
``restricted``; the label is shown wherever the dataset or one of its releases is shown (pages,
release card, API, manifest). It sets three defaults, stated as data in :data:`POLICIES`:

* ``max_epsilon``: the largest lifetime budget (ε at the dataset's δ) an owner may set alone at
  upload. Above it the owner asks for a budget raise, which a privacy officer approves
  (``Budgets.set_budget``): a larger ε is a privacy decision, and the more sensitive the data the
  earlier it becomes one.
* ``approvals``: how many different privacy officers must approve a release before it may be
  downloaded or published (two for confidential and restricted data: four eyes on the requester
  are not enough when a release of such data goes wrong; a second officer checks the first).
* ``publication_days``: how long a release stays published; after it, it is revoked
  automatically (``Decisions.expire_publications``) and must be requested again. A synthetic
  table of sensitive data should not circulate forever: attacks and auxiliary data improve,
  and a periodic renewal makes someone look at it again.

Why these values:

* restricted (e.g. health, criminal records): ε ≤ 1 is the range the DP literature and
  statistical agencies treat as a strong guarantee; two officers; 30 days.
* confidential (personal data of customers or staff): ε ≤ 3, still a meaningful bound on any
  one person's influence; two officers; 90 days.
* internal (business data without special categories): ε ≤ 10, the demo's budget and a common
  ceiling for usable MST/AIM fits on small tables; one officer; 180 days.
* public (data already published, e.g. the Titanic or UCI Adult tables): the DP budget protects
  nothing that is not public already, so the platform's own ceiling (``synthgen.budget.MAX_EPSILON``)
  applies; one officer; a year.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from synthgen.budget import MAX_EPSILON
from synthgen.errors import InvalidInputError

#: Labels from least to most sensitive.
LABELS = ("public", "internal", "confidential", "restricted")

#: The label given to datasets that existed before labels did (migration 0004): the most
#: sensitive one, so that nothing becomes easier to release by upgrading; an owner or
#: administrator who knows better can relabel them.
LEGACY_DEFAULT = "restricted"


@dataclass(frozen=True)
class LabelPolicy:
    max_epsilon: float
    approvals: int
    publication_days: int

    @property
    def publication_window(self) -> timedelta:
        return timedelta(days=self.publication_days)


POLICIES: dict[str, LabelPolicy] = {
    "public": LabelPolicy(max_epsilon=MAX_EPSILON, approvals=1, publication_days=365),
    "internal": LabelPolicy(max_epsilon=10.0, approvals=1, publication_days=180),
    "confidential": LabelPolicy(max_epsilon=3.0, approvals=2, publication_days=90),
    "restricted": LabelPolicy(max_epsilon=1.0, approvals=2, publication_days=30),
}


def check_label(label: object) -> str:
    """The label, or an error naming the field and the allowed values."""
    if not isinstance(label, str) or label.strip().lower() not in POLICIES:
        raise InvalidInputError(f"classification ({str(label)[:40]!r}) must be one of {', '.join(LABELS)}")
    return label.strip().lower()


def policy(label: str) -> LabelPolicy:
    return POLICIES[check_label(label)]


def check_initial_budget(label: str, epsilon: float) -> None:
    """An owner sets the initial budget alone only up to the label's maximum ε."""
    cap = policy(label).max_epsilon
    if float(epsilon) > cap:
        raise InvalidInputError(
            f"budget_epsilon ({float(epsilon):g}) is above the maximum ε = {cap:g} for {label} data; upload with "
            f"ε ≤ {cap:g} and ask for a budget raise, which a privacy officer approves")


def describe(label: str) -> str:
    """One line for pages and cards: the label and what it implies."""
    p = policy(label)
    officers = "two privacy officers approve" if p.approvals == 2 else "one privacy officer approves"
    return f"{label} (max ε {p.max_epsilon:g}; {officers}; published for {p.publication_days} days)"
