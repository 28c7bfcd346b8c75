"""Declarative release policies (TOML or JSON) and how metrics are judged against them.

A policy is a list of rules ``pattern -> bound``. The pattern is a shell-style wildcard on metric
names (``inference:*`` matches ``inference:income``); the first matching rule wins. A bound is
``max`` (the compared figure must be ≤ it) or ``min`` (≥), and ``on`` picks the compared figure:
the point estimate (``value``) or an end of the confidence interval (``lower``/``upper``).

Verdict rules (:func:`judge`):

* no rule → ``info`` (reported, not voting);
* no estimate → ``inconclusive``;
* the compared figure breaks the bound → ``fail`` (with ``on = "interval"``: the whole 95 %
  interval is beyond it), even when the measurement is flagged: the evidence of a breach stands;
* the measurement is flagged (``details["flags"]`` non-empty: too few attacks, with their count;
  insufficient control; 100 % control success) → ``inconclusive``: a flagged metric never passes;
* with ``on = "interval"``: ``pass`` when the whole 95 % interval meets the bound, ``inconclusive``
  when the interval straddles it;
* otherwise ``pass``.

``details["warnings"]`` (anonymeter's "attack is as good or worse as baseline": no attack
advantage) never block a verdict; they stay visible in the report. Every judged metric carries
its reason in ``details["verdict_reason"]``.

The overall verdict is ``fail`` if any metric fails, else ``inconclusive`` if any is
inconclusive, else ``pass``.
"""

from __future__ import annotations

import fnmatch
import json
import tomllib
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from evaluation.errors import EvaluationError
from evaluation.report import Metric

_ON = ("value", "lower", "upper", "interval")


@dataclass(frozen=True)
class Rule:
    pattern: str
    op: str  # "<=" or ">="
    bound: float
    on: str = "value"

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, "value": self.bound, "on": self.on, "rule": self.pattern}


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]
    name: str = "custom"
    version: int = 1

    def rule_for(self, metric_name: str) -> Rule | None:
        for rule in self.rules:
            if fnmatch.fnmatchcase(metric_name, rule.pattern):
                return rule
        return None

    def to_dict(self) -> dict[str, Any]:
        rules: dict[str, Any] = {}
        for r in self.rules:
            rules[r.pattern] = {("max" if r.op == "<=" else "min"): r.bound, "on": r.on}
        return {"name": self.name, "version": self.version, "rules": rules}

    @classmethod
    def from_dict(cls, data: Any, source: str = "policy") -> "Policy":
        if not isinstance(data, dict):
            raise EvaluationError(f"{source} must be a table/object with a 'rules' section")
        unknown = sorted(set(data) - {"name", "version", "rules"})
        if unknown:
            raise EvaluationError(f"{source}: unknown field(s) {', '.join(unknown)}")
        raw_rules = data.get("rules")
        if not isinstance(raw_rules, dict) or not raw_rules:
            raise EvaluationError(f"{source}: 'rules' must map metric patterns to bounds")
        rules = []
        for pattern, spec in raw_rules.items():
            if not isinstance(spec, dict):
                raise EvaluationError(f"{source}: rule {pattern!r} must be a table with 'max' or 'min'")
            bad = sorted(set(spec) - {"max", "min", "on"})
            if bad:
                raise EvaluationError(f"{source}: rule {pattern!r} has unknown field(s) {', '.join(bad)}")
            if ("max" in spec) == ("min" in spec):
                raise EvaluationError(f"{source}: rule {pattern!r} must have exactly one of 'max' or 'min'")
            key = "max" if "max" in spec else "min"
            bound = spec[key]
            if isinstance(bound, bool) or not isinstance(bound, (int, float)):
                raise EvaluationError(f"{source}: rule {pattern!r}: {key} ({bound!r}) must be a number")
            on = spec.get("on", "value")
            if on not in _ON:
                raise EvaluationError(f"{source}: rule {pattern!r}: on ({on!r}) must be one of {', '.join(_ON)}")
            rules.append(Rule(pattern=str(pattern), op="<=" if key == "max" else ">=", bound=float(bound), on=on))
        version = data.get("version", 1)
        if isinstance(version, bool) or not isinstance(version, int):
            raise EvaluationError(f"{source}: version ({version!r}) must be an integer")
        return cls(rules=tuple(rules), name=str(data.get("name", "custom")), version=version)


def load_policy(path: str | Path) -> Policy:
    """Read a policy from a ``.toml`` or ``.json`` file."""
    path = Path(path)
    if not path.is_file():
        raise EvaluationError(f"policy file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        elif suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
        else:
            raise EvaluationError(f"policy file {path.name!r} must end in .toml or .json")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EvaluationError(f"policy file {path.name!r} is not valid {suffix[1:].upper()}: {exc}") from None
    return Policy.from_dict(data, source=f"policy {path.name!r}")


def default_policy() -> Policy:
    """The policy shipped with synthgen (``evaluation/default_policy.toml``)."""
    text = resources.files("evaluation").joinpath("default_policy.toml").read_text(encoding="utf-8")
    return Policy.from_dict(tomllib.loads(text), source="default policy")


def _figure(metric: Metric, on: str) -> float | None:
    if on == "value" or metric.interval is None:
        return metric.value
    lo, hi = metric.interval
    return lo if on == "lower" else hi


def _breaks(figure: float, rule: Rule) -> bool:
    return figure > rule.bound if rule.op == "<=" else figure < rule.bound


def _verdict(metric: Metric, rule: Rule) -> tuple[str, str]:
    flags = metric.details.get("flags") or []
    if metric.value is None:
        return "inconclusive", "no estimate: " + ("; ".join(flags) if flags else "the measurement could not be made")
    limit = f"{rule.op} {rule.bound:g}"
    if rule.on == "interval" and metric.interval is not None:
        lo, hi = metric.interval
        shown = f"estimate {metric.value:.4g}, 95 % interval [{lo:.4g}, {hi:.4g}]"
        near, far = (lo, hi) if rule.op == "<=" else (hi, lo)
        if _breaks(near, rule):
            return "fail", f"{shown}: the whole interval breaks the limit {limit}"
        if flags:
            return "inconclusive", f"{shown}, but the measurement is flagged: " + "; ".join(flags)
        if not _breaks(far, rule):
            return "pass", f"{shown}: the whole interval meets the limit {limit}"
        return "inconclusive", f"{shown}: the interval straddles the limit {limit}"
    figure = _figure(metric, "value" if rule.on == "interval" else rule.on)
    shown = f"{'estimate' if rule.on in ('value', 'interval') else rule.on + ' end of the interval'} {figure:.4g}"
    if _breaks(figure, rule):
        return "fail", f"{shown} breaks the limit {limit}"
    if flags:
        return "inconclusive", f"{shown} meets the limit {limit}, but the measurement is flagged: " + "; ".join(flags)
    return "pass", f"{shown} meets the limit {limit}"


def judge(metric: Metric, policy: Policy) -> Metric:
    """The metric with its threshold, verdict and the verdict's reason (``details["verdict_reason"]``)."""
    rule = policy.rule_for(metric.name)
    if rule is None:
        return replace(metric, threshold=None, verdict="info")
    verdict, reason = _verdict(metric, rule)
    return replace(metric, threshold=rule.to_dict(), verdict=verdict, details={**metric.details, "verdict_reason": reason})
