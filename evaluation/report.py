"""The evaluation report: frozen values with an exact JSON round trip.

A :class:`Metric` is one number (or none) with its confidence interval, the policy threshold it
was judged against and its verdict. ``real_side`` says whether the metric was computed from the
real table (training or control rows): such numbers are themselves a disclosure, so the ML-team
rendering (:func:`EvaluationReport.ml_view`) leaves them out and keeps only the verdicts, the
policy and the DP accounting figures.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from evaluation.errors import EvaluationError

REPORT_VERSION = 1
VERDICTS = ("pass", "fail", "inconclusive", "info")


def _clean(value: Any) -> Any:
    """JSON-safe copy: numpy scalars become Python numbers, NaN/inf become None, tuples lists."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


@dataclass(frozen=True)
class Metric:
    """One evaluated quantity.

    ``threshold`` is the policy rule applied, e.g. ``{"op": "<=", "value": 0.05, "on": "upper"}``
    (``on`` is ``value``, ``lower`` or ``upper``: which end of the estimate is compared), or None.
    """

    name: str
    value: float | None
    interval: tuple[float, float] | None = None
    threshold: dict[str, Any] | None = None
    verdict: str = "info"
    details: dict[str, Any] = field(default_factory=dict)
    group: str = "utility"
    real_side: bool = True
    description: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise EvaluationError(f"metric {self.name!r}: verdict ({self.verdict!r}) must be one of {', '.join(VERDICTS)}")
        value = _clean(self.value)
        object.__setattr__(self, "value", None if value is None else float(value))
        if self.interval is not None:
            lo, hi = (_clean(v) for v in self.interval)
            object.__setattr__(self, "interval", (lo, hi))
        object.__setattr__(self, "details", _clean(dict(self.details)))
        if self.threshold is not None:
            object.__setattr__(self, "threshold", _clean(dict(self.threshold)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "group": self.group,
            "value": self.value,
            "interval": list(self.interval) if self.interval is not None else None,
            "threshold": self.threshold,
            "verdict": self.verdict,
            "real_side": self.real_side,
            "description": self.description,
            "details": self.details,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Metric":
        try:
            interval = data.get("interval")
            return cls(
                name=data["name"],
                value=data.get("value"),
                interval=tuple(interval) if interval is not None else None,
                threshold=data.get("threshold"),
                verdict=data.get("verdict", "info"),
                details=data.get("details") or {},
                group=data.get("group", "utility"),
                real_side=bool(data.get("real_side", True)),
                description=data.get("description", ""),
            )
        except (KeyError, TypeError) as exc:
            raise EvaluationError(f"metric entry is malformed ({exc})") from None


@dataclass(frozen=True)
class EvaluationReport:
    """Everything an evaluation found. ``figures`` and ``sampling`` hold real-side data too."""

    metrics: tuple[Metric, ...]
    overall_verdict: str
    policy: dict[str, Any]
    privacy: dict[str, Any] | None = None
    sampling: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    inputs: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    version: int = REPORT_VERSION

    def __post_init__(self) -> None:
        object.__setattr__(self, "metrics", tuple(self.metrics))
        object.__setattr__(self, "notes", tuple(self.notes))
        for name in ("policy", "sampling", "figures", "inputs", "timings"):
            object.__setattr__(self, name, _clean(dict(getattr(self, name))))
        if self.privacy is not None:
            object.__setattr__(self, "privacy", _clean(dict(self.privacy)))
        if self.overall_verdict not in ("pass", "fail", "inconclusive"):
            raise EvaluationError(f"overall_verdict ({self.overall_verdict!r}) must be pass, fail or inconclusive")

    # -- access --------------------------------------------------------------------------
    def metric(self, name: str) -> Metric:
        for m in self.metrics:
            if m.name == name:
                return m
        raise EvaluationError(f"the report has no metric {name!r}")

    def by_group(self, group: str) -> list[Metric]:
        return [m for m in self.metrics if m.group == group]

    def group_verdict(self, group: str) -> str:
        return combine_verdicts([m.verdict for m in self.by_group(group)])

    # -- JSON ------------------------------------------------------------------------------
    def to_dict(self, *, include_timings: bool = True) -> dict[str, Any]:
        out = {
            "report_version": self.version,
            "audience": "full",
            "overall_verdict": self.overall_verdict,
            "group_verdicts": {g: self.group_verdict(g) for g in ("utility", "risk") if self.by_group(g)},
            "privacy": self.privacy,
            "policy": self.policy,
            "inputs": self.inputs,
            "sampling": self.sampling,
            "notes": list(self.notes),
            "metrics": [m.to_dict() for m in self.metrics],
            "figures": self.figures,
        }
        if include_timings:
            out["timings"] = self.timings
        return out

    def to_json(self, *, include_timings: bool = True, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(include_timings=include_timings), indent=indent, ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "EvaluationReport":
        if not isinstance(data, dict) or data.get("audience", "full") != "full":
            raise EvaluationError("a report can only be rebuilt from the full (not the ML-team) JSON")
        version = data.get("report_version")
        if version != REPORT_VERSION:
            raise EvaluationError(f"report_version ({version!r}) must be {REPORT_VERSION}")
        return cls(
            metrics=tuple(Metric.from_dict(m) for m in data.get("metrics", [])),
            overall_verdict=data["overall_verdict"],
            policy=data.get("policy") or {},
            privacy=data.get("privacy"),
            sampling=data.get("sampling") or {},
            figures=data.get("figures") or {},
            notes=tuple(data.get("notes") or ()),
            inputs=data.get("inputs") or {},
            timings=data.get("timings") or {},
        )

    @classmethod
    def from_json(cls, text: str) -> "EvaluationReport":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise EvaluationError(f"report is not valid JSON: {exc.msg} at line {exc.lineno}") from None
        return cls.from_dict(data)

    # -- ML-team view ------------------------------------------------------------------------
    def ml_view(self) -> dict[str, Any]:
        """What an ML team may see: verdicts, policy rules, DP figures and synthetic-side facts.

        No value, interval, detail, figure, row count or sampling figure computed on the real
        table is included.
        """
        return _clean({
            "report_version": self.version,
            "audience": "ml",
            "overall_verdict": self.overall_verdict,
            "group_verdicts": {g: self.group_verdict(g) for g in ("utility", "risk") if self.by_group(g)},
            "privacy": self.privacy,
            "synthetic": self.inputs.get("synthetic", {}),
            "metrics": [
                {
                    "name": m.name,
                    "group": m.group,
                    "verdict": m.verdict,
                    "threshold": m.threshold,
                    "description": m.description,
                    **({} if m.real_side else {"value": m.value, "interval": list(m.interval) if m.interval else None}),
                }
                for m in self.metrics
            ],
        })

    def ml_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.ml_view(), indent=indent, ensure_ascii=False, allow_nan=False)


def combine_verdicts(verdicts: list[str]) -> str:
    """fail beats inconclusive beats pass; ``info`` metrics do not vote."""
    voting = [v for v in verdicts if v != "info"]
    if "fail" in voting:
        return "fail"
    if "inconclusive" in voting or not voting:
        return "inconclusive"
    return "pass"
