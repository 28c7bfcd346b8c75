"""Which decision an evaluated release admits, and who may take it.

Every evaluated release must reach a decision; none may sit in the queue with its ε spent and
nobody able to act. The rules, in one place (the service's ``approve`` enforces them, the pages
show them to the owner before and after the request and to the privacy officer at the decision):

* ``pass`` (and differentially private): a privacy officer may approve it, or reject it.
* ``inconclusive`` (and differentially private): the evidence was too wide to certify a gate, not
  evidence of harm. A privacy officer may approve it with a written reason (recorded as an
  override), unless the release's policy says ``allow_inconclusive = false``. The default policy
  allows it.
* ``fail``: it can only be rejected, unless the release's policy says ``allow_override = true``;
  then a privacy officer may approve it with a written reason.
* A federated fit (registered from ``synthgen federate fit``): the platform holds no real table,
  so nothing was measured; it is treated as ``inconclusive`` (approve with a written reason, if
  the policy allows inconclusive releases), and the reason says so.
* A baseline without formal privacy: it can only be rejected, whatever the policy. Every dataset
  has a DP budget, and a baseline's output carries exact statistics of the table that no budget
  pays for; publishing it would void the ε every other release of the dataset claims, so it stays
  evaluation-only (its card is there to compare with the DP releases').

Whoever decides, separation of duties holds: nobody approves or publishes a release they
requested, whatever their role is now (``authz.four_eyes_check`` by user id).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["approve", "approve_with_reason", "reject_only"]

#: Policy switches a release carries (its ``policy_json``) and their defaults.
POLICY_DEFAULTS: dict[str, bool] = {"allow_override": False, "allow_inconclusive": True}


@dataclass(frozen=True)
class DecisionRule:
    """What a privacy officer may decide on one release, and why, in words for people."""

    kind: Kind
    #: True when approving needs an explicit override with a written reason
    needs_override: bool
    #: why the rule applies (the verdict and what the policy says about it)
    reason: str
    #: what the owner reads: what happens next and who decides
    next_step: str

    @property
    def short(self) -> str:
        """A table cell's worth of ``next_step``."""
        return {"approve": "officer approves or rejects",
                "approve_with_reason": "officer may approve with a written reason",
                "reject_only": "can only be rejected"}[self.kind]


def _policy_flag(policy: dict[str, Any] | None, key: str) -> bool:
    value = (policy or {}).get(key, POLICY_DEFAULTS[key])
    return value if isinstance(value, bool) else POLICY_DEFAULTS[key]


def decision_rule(*, dp: bool, verdict: str | None, policy: dict[str, Any] | None,
                  federated: bool = False) -> DecisionRule:
    """The decision rule of an evaluated release (see the module docstring)."""
    officer = "a privacy officer (not the person who requested it)"
    if federated and dp:
        # no central real table: nothing was measured, which is "inconclusive", not a pass
        if _policy_flag(policy, "allow_inconclusive"):
            return DecisionRule("approve_with_reason", True,
                                "it is a federated fit: the platform holds no real table, so utility and risk were "
                                "not measured; its DP accounting and each site's part are known; the policy allows "
                                "an approval with a written reason",
                                f"{officer} decides on the DP accounting: approve with a written reason, or reject")
        return DecisionRule("reject_only", False,
                            "it is a federated fit (utility and risk not measured) and its policy does not allow "
                            "approving an inconclusive release",
                            f"it can only be rejected; {officer} will close it")
    if not dp:
        return DecisionRule("reject_only", False,
                            "it has no formal privacy guarantee (a baseline synthesizer): baselines are evaluation-only, "
                            "since publishing one would void the dataset's ε guarantee",
                            f"it can only be rejected; {officer} will close it. Compare its card with the DP "
                            "releases', then request a DP release (AIM or MST) to share")
    if verdict == "pass":
        return DecisionRule("approve", False, "every gate passed",
                            f"{officer} reviews it and approves or rejects it")
    if verdict == "inconclusive":
        if _policy_flag(policy, "allow_inconclusive"):
            return DecisionRule("approve_with_reason", True,
                                "at least one gate is inconclusive (the measurement was too uncertain to certify it, "
                                "no gate failed); the policy allows an approval with a written reason",
                                f"{officer} decides: approve with a written reason, or reject")
        return DecisionRule("reject_only", False,
                            "at least one gate is inconclusive and its policy does not allow approving an "
                            "inconclusive release",
                            f"it can only be rejected; {officer} will close it")
    if _policy_flag(policy, "allow_override"):
        return DecisionRule("approve_with_reason", True,
                            "at least one gate failed; its policy allows an approval with a written reason",
                            f"{officer} decides: approve with a written reason, or reject")
    return DecisionRule("reject_only", False,
                        f"at least one gate {'failed' if verdict == 'fail' else 'has no verdict'} and its policy "
                        "does not allow an override",
                        f"it can only be rejected; {officer} will close it. Its ε stays spent: request a new "
                        "release (e.g. with more ε, or another synthesizer) if you need one")
