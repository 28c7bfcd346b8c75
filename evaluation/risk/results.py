"""Typed results of the risk attacks: built once, never edited in place.

A :class:`RiskResult` is what an attack measured (estimate, 95 % interval, how many attacks
were really made, the figures behind it) with two kinds of messages: ``flags`` block a verdict
(the measurement cannot be trusted: too few attacks, 100 % control success, insufficient
control), ``warnings`` are shown beside the verdict without blocking it (anonymeter's "as good
or worse as baseline": no attack advantage). :meth:`RiskResult.metric` turns it into the
report's :class:`~evaluation.report.Metric`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from evaluation.report import Metric


@dataclass(frozen=True)
class RiskResult:
    value: float | None
    interval: tuple[float, float] | None
    n_attacks: int
    figures: Mapping[str, Any] = field(default_factory=dict)
    flags: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    half_width: float | None = None

    def with_flags(self, *flags: str) -> "RiskResult":
        """The same result with ``flags`` placed first (e.g. the evaluation's control flags)."""
        return replace(self, flags=tuple(dict.fromkeys([*flags, *self.flags])))

    def with_warnings(self, *warnings: str) -> "RiskResult":
        return replace(self, warnings=tuple(dict.fromkeys([*warnings, *self.warnings])))

    def with_figures(self, **figures: Any) -> "RiskResult":
        return replace(self, figures={**self.figures, **figures})

    def metric(self, name: str, description: str, **details: Any) -> Metric:
        return Metric(name, self.value, self.interval, group="risk", description=description,
                      details={**self.figures, "n_attacks": self.n_attacks, **details,
                               "flags": list(self.flags), "warnings": list(self.warnings)})
